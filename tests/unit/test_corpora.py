"""The course's texts: the review corpus, hub corpora, Hamlet, Gutenberg books and downloads."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from course_utils.corpora import (
    REVIEW_CLASSES_WITH_PLOT,
    fetch_text,
    frame_from_hub_dataset,
    hamlet_lines,
    hamlet_speeches,
    load_corpus,
    load_labelled_splits,
    load_reviews,
    load_sentiment_corpus,
    load_tagging_lines,
    read_gutenberg_lines,
    review_corpus_path,
    sentiment_corpus_name,
)
from course_utils.data import DataError


def tweets(n_per_class=20, labels=(-1, 0, 1, 2)):
    return [(f"tweet number {i} about class {label}", label)
            for label in labels for i in range(n_per_class)]


# ---------------------------------------------------------------- sentiment corpora
def test_review_corpus_is_the_cached_asset():
    path = review_corpus_path()
    assert path.is_file() and ".csv" in path.suffixes


def test_review_corpus_splits_have_the_documented_sizes():
    splits, encoding, report = load_labelled_splits()
    assert splits.sizes() == {"train": 8925, "valid": 1276, "test": 2551}
    assert encoding.id2label == {0: "fresh", 1: "rotten"}
    assert report.n_dropped == 56 and report.n_duplicates == 56
    assert set(splits.train.columns) == {"text", "label", "label_id"}


def test_three_review_classes_include_the_plot_synopses():
    frame = load_reviews(REVIEW_CLASSES_WITH_PLOT)
    assert sorted(frame["label"].unique()) == ["fresh", "plot", "rotten"]
    assert load_corpus("reviews", REVIEW_CLASSES_WITH_PLOT).equals(frame)
    with pytest.raises(DataError, match="Unknown review classes"):
        load_reviews(("fresh", "great"))


def test_own_csv_with_other_columns_and_labels_runs_through(tmp_path):
    rows = tweets(20) + [("", 1), ("tweet number 0 about class 1", 1)]
    path = tmp_path / "tweets.csv"
    pd.DataFrame(rows, columns=["message", "sentiment"]).to_csv(path, index=False)
    splits, encoding, report = load_labelled_splits(str(path), "message", "sentiment", seed=1)
    assert encoding.id2label == {0: "-1", 1: "0", 2: "1", 3: "2"}
    assert report.n_empty + report.n_missing_text == 1 and report.n_duplicates == 1
    assert sum(splits.sizes().values()) == 80
    assert splits.train["label_id"].between(0, 3).all()


def test_unknown_corpus_and_classes_on_a_hub_corpus_are_refused():
    with pytest.raises(DataError, match="Unknown corpus 'tweets'"):
        load_corpus("tweets")
    with pytest.raises(DataError, match="review corpus only"):
        load_corpus("imdb", REVIEW_CLASSES_WITH_PLOT)


def test_hub_dataset_rows_become_label_names():
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    train = datasets.Dataset.from_dict({"sentence": ["bad", "good"], "label": [0, 1]},
                                       features=features)
    frame = frame_from_hub_dataset(datasets.DatasetDict({"train": train}), ("train",))
    assert frame.to_dict("list") == {"text": ["bad", "good"], "label": ["negative", "positive"]}


def test_the_dataset_parameter_picks_the_corpus_and_the_offline_profile_refuses_the_hub():
    assert sentiment_corpus_name("", "offline") == "reviews"
    assert sentiment_corpus_name("", "full") == "imdb"
    assert sentiment_corpus_name("sst2", "full") == "sst2"
    with pytest.raises(DataError, match="profile='full'"):
        sentiment_corpus_name("sst2", "offline")
    with pytest.raises(DataError, match="Unknown dataset 'sst-2'"):
        sentiment_corpus_name("sst-2", "full")


def test_full_profile_reads_sst2_or_imdb_through_load_dataset(monkeypatch):
    import datasets

    features = datasets.Features({"idx": datasets.Value("int32"),
                                  "sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    parts = {"train": (["dull", "lovely"], [0, 1]), "validation": (["awful"], [0]),
             "test": (["unlabelled"], [-1])}
    hub = datasets.DatasetDict({
        name: datasets.Dataset.from_dict({"idx": list(range(len(texts))), "sentence": texts,
                                          "label": labels}, features=features)
        for name, (texts, labels) in parts.items()})
    asked = []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, *a, **k: asked.append(name) or hub)
    frame = load_sentiment_corpus("sst2", "full")
    assert asked == ["stanfordnlp/sst2"]          # SST-2's test split has no labels: not read
    assert frame.to_dict("list") == {"text": ["dull", "lovely", "awful"],
                                     "label": ["negative", "positive", "negative"]}
    imdb = load_sentiment_corpus("", "full")      # the full profile's default
    assert asked[-1] == "imdb"
    assert imdb["text"].tolist() == ["dull", "lovely", "unlabelled"]   # IMDB: train and test


# ---------------------------------------------------------------- Hamlet
def test_hamlet_keeps_spoken_lines_and_drops_speakers_directions_headers(hamlet_txt):
    lines, report = hamlet_lines(hamlet_txt)
    assert 3900 <= len(lines) == report.kept <= 4300
    assert "Who's there?" in lines and "Long live the king!" in lines
    assert not any(line in {"HAMLET", "KING CLAUDIUS", "LORD POLONIUS"} for line in lines)
    assert not any(line.startswith(("Enter ", "Exit", "Exeunt", "ACT ", "SCENE "))
                   for line in lines)
    assert not any("[" in line or "]" in line for line in lines)
    assert report.dropped["speaker names"] > 1000
    assert report.dropped["stage directions"] > 150
    assert report.dropped["headers"] >= 25            # 5 acts, 20 scenes, the title lines
    assert str(report).startswith(f"hamlet: kept {len(lines)} lines; dropped ")


def test_hamlet_for_lesson_02_drops_only_entrances_and_exits(hamlet_txt):
    lines, report = hamlet_lines(hamlet_txt, stage_directions="entrances")
    every, _ = hamlet_lines(hamlet_txt)
    assert "Who's there?" in lines and "BERNARDO" not in lines and "ACT I" not in lines
    assert not any(line.startswith(("Enter ", "Exit", "Exeunt", "Re-enter")) for line in lines)
    assert any(line.startswith("[Aside]") for line in lines)      # kept as written
    assert len(lines) == report.kept > len(every)
    with pytest.raises(DataError, match="stage_directions='some'"):
        hamlet_lines(hamlet_txt, stage_directions="some")


def test_hamlet_reader_refuses_a_file_without_spoken_lines(tmp_path):
    path = tmp_path / "not_a_play.txt"
    path.write_text("ACT I\n\nHAMLET\n", encoding="utf-8")
    with pytest.raises(DataError, match="No spoken lines"):
        hamlet_lines(path)


def test_hamlet_speeches_join_each_speakers_lines_and_keep_the_speaker(hamlet_txt):
    speeches = hamlet_speeches(hamlet_txt)
    lines, _ = hamlet_lines(hamlet_txt)
    assert list(speeches.columns) == ["text", "speaker"]
    assert speeches.iloc[0].tolist() == ["Who's there?", "BERNARDO"]
    assert speeches["speaker"].value_counts().index[0] == "HAMLET"
    assert not speeches["text"].str.contains(r"\[|^Enter |Exeunt", regex=True).any()
    words = speeches["text"].str.split().str.len().sum()
    assert abs(words - sum(len(line.split()) for line in lines)) <= 0.02 * words


def test_hamlet_speeches_refuse_a_file_without_speakers(tmp_path):
    path = tmp_path / "not_a_play.txt"
    path.write_text("ACT I\n\nsome words\n", encoding="utf-8")
    with pytest.raises(DataError, match="No speeches"):
        hamlet_speeches(path)


# ---------------------------------------------------------------- Gutenberg and text files
def test_gutenberg_reader_strips_licence_and_headings(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("Licence text\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nCHAPTER 1. "
                    "Loomings.\n\nCall me Ishmael.   Some years ago\n\n*** END OF THE PROJECT "
                    "GUTENBERG EBOOK X ***\nmore licence\n", encoding="utf-8")
    lines, report = read_gutenberg_lines(book, source="book")
    assert lines == ["Call me Ishmael. Some years ago"]
    assert report.dropped["headings"] == 1


def test_text_file_source_drops_empty_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("one line\n\n   \nanother line\n", encoding="utf-8")
    lines, report = load_tagging_lines(str(path))
    assert lines == ["one line", "another line"] and report.dropped == {"empty lines": 2}


def test_unknown_text_source_names_the_valid_ones():
    with pytest.raises(DataError, match="hamlet, moby-dick"):
        load_tagging_lines("war-and-peace")


def test_hamlet_source_is_the_play_with_every_stage_direction_dropped(hamlet_txt):
    assert load_tagging_lines("hamlet")[0] == hamlet_lines(hamlet_txt)[0]


@pytest.fixture
def book_url(tmp_path):
    source = tmp_path / "served" / "book.txt"
    source.parent.mkdir()
    source.write_bytes(b"Call me Ishmael.\n")
    return source.as_uri(), hashlib.sha256(b"Call me Ishmael.\n").hexdigest()


def test_fetch_text_downloads_once_and_keeps_the_checksum(tmp_path, book_url):
    url, digest = book_url
    destination = tmp_path / "texts" / "book.txt"
    assert fetch_text(url, destination, sha256=digest) == destination
    assert destination.read_bytes() == b"Call me Ishmael.\n"
    assert (tmp_path / "texts" / "book.txt.sha256").read_text().strip() == digest
    assert sorted(p.name for p in destination.parent.iterdir()) == ["book.txt", "book.txt.sha256"]
    assert fetch_text("file:///nowhere/else.txt", destination) == destination   # not fetched again


def test_fetch_text_notices_a_damaged_copy(tmp_path, book_url):
    url, _ = book_url
    destination = tmp_path / "book.txt"
    fetch_text(url, destination)
    destination.write_bytes(b"Call me Ish")                       # cut short
    with pytest.raises(DataError, match="damaged. Delete it"):
        fetch_text(url, destination)


def test_fetch_text_refuses_a_download_with_another_checksum(tmp_path, book_url):
    url, _ = book_url
    destination = tmp_path / "book.txt"
    with pytest.raises(DataError, match="not the expected"):
        fetch_text(url, destination, sha256="0" * 64)
    assert list(tmp_path.glob("book.txt*")) == [] and list(tmp_path.glob(".book.txt*")) == []


def test_fetch_text_failure_names_the_offline_profile(tmp_path):
    with pytest.raises(DataError, match="Use the offline profile"):
        fetch_text((tmp_path / "missing.txt").as_uri(), tmp_path / "book.txt")
    assert not (tmp_path / "book.txt").exists()
