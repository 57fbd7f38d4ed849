"""Specification of course_utils.data: reading any labelled CSV, cleaning, encoding, splitting."""

from __future__ import annotations

import bz2
import json

import numpy as np
import pandas as pd
import pytest

from course_utils.data import (
    DataError,
    clean_texts,
    encode_labels,
    min_rows_per_class,
    read_labelled_csv,
    stratified_split,
)


def write_csv(path, rows, columns=("message", "sentiment")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def tweets(n_per_class=20, labels=(-1, 0, 1, 2)):
    return [(f"tweet number {i} about class {label}", label)
            for label in labels for i in range(n_per_class)]


# --- reading -------------------------------------------------------------------------------

def test_read_renames_the_chosen_columns_to_text_and_label(tmp_path):
    path = write_csv(tmp_path / "t.csv", tweets(3))
    frame = read_labelled_csv(path, "message", "sentiment")
    assert list(frame.columns) == ["text", "label"]
    assert sorted(frame["label"].unique()) == [-1, 0, 1, 2]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="No file at .*nowhere.csv"):
        read_labelled_csv(tmp_path / "nowhere.csv")


def test_folder_instead_of_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_labelled_csv(tmp_path)


def test_empty_data_path_says_what_to_set():
    with pytest.raises(DataError, match="No data_path given"):
        read_labelled_csv("")


def test_missing_column_lists_the_columns_present(tmp_path):
    path = write_csv(tmp_path / "t.csv", tweets(3))
    with pytest.raises(DataError, match=r"\['text'\] not in t.csv. Its columns are "
                                        r"\['message', 'sentiment'\]"):
        read_labelled_csv(path, "text", "sentiment")


def test_same_column_for_text_and_label_is_refused(tmp_path):
    path = write_csv(tmp_path / "t.csv", tweets(3))
    with pytest.raises(DataError, match="both 'message'"):
        read_labelled_csv(path, "message", "message")


def test_non_utf8_file_is_refused_with_a_conversion_hint(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\u00e9 cr\u00e8me,1\nfine,0\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 .*encoding='latin-1'"):
        read_labelled_csv(path)


def test_utf16_file_is_refused_as_not_utf8(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("text,label\nnice,1\n".encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16 text, not UTF-8"):
        read_labelled_csv(path)


def test_utf8_with_bom_is_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("text,label\nnice,1\nbad,0\n".encode("utf-8-sig"))
    assert read_labelled_csv(path)["text"].tolist() == ["nice", "bad"]


def test_json_file_is_refused_with_a_conversion_hint(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(json.dumps([{"text": "a", "label": 1}, {"text": "b", "label": 0}]))
    with pytest.raises(DataError, match="looks like JSON.*read_json"):
        read_labelled_csv(path)


def test_excel_workbook_is_refused_as_binary(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match="zip archive .*xlsx.*not a CSV"):
        read_labelled_csv(path)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(np.arange(1000, dtype=np.float32).tobytes())
    with pytest.raises(DataError, match="binary file"):
        read_labelled_csv(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n")
    with pytest.raises(DataError, match="is empty"):
        read_labelled_csv(path)


def test_header_without_rows_says_so(tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"has a header \(text, label\) but no rows"):
        read_labelled_csv(path)


def test_ragged_rows_are_refused_as_unparseable(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("text,label\nfine,1\nthis, has, commas, unquoted,0\n")
    with pytest.raises(DataError, match="could not be parsed as CSV"):
        read_labelled_csv(path)


def test_semicolon_separated_file_is_read(tmp_path):
    path = tmp_path / "excel_fr.csv"
    path.write_text("texte;note\nbien, vraiment;1\nnul;0\n", encoding="utf-8")
    frame = read_labelled_csv(path, "texte", "note")
    assert frame["text"].tolist() == ["bien, vraiment", "nul"]


@pytest.mark.parametrize("separator", ["\t", "|", ","])
def test_tab_pipe_and_comma_separated_files_are_read(tmp_path, separator):
    path = tmp_path / "t.csv"
    path.write_text(f"text{separator}label\nnice; really{separator}1\nbad{separator}0\n",
                    encoding="utf-8")
    assert read_labelled_csv(path)["text"].tolist() == ["nice; really", "bad"]


def test_single_column_file_is_read_as_comma_separated_and_names_its_columns(tmp_path):
    path = tmp_path / "one_column.csv"
    path.write_text("text\nnice\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Its columns are \['text'\]"):
        read_labelled_csv(path)


def test_compressed_csv_is_read_and_damaged_archive_refused(tmp_path):
    good = tmp_path / "t.csv.bz2"
    good.write_bytes(bz2.compress(b"text,label\nnice,1\nbad,0\n"))
    assert len(read_labelled_csv(good)) == 2
    bad = tmp_path / "broken.csv.bz2"
    bad.write_bytes(bz2.compress(b"text,label\nnice,1\n")[:20])
    with pytest.raises(DataError):
        read_labelled_csv(bad)


# --- cleaning ------------------------------------------------------------------------------

def test_cleaning_drops_and_counts_each_kind_of_bad_row():
    frame = pd.DataFrame({"text": ["good one", None, 42, "   ", "good one ", "no label", "fine"],
                          "label": ["a", "a", "b", "b", "a", None, "b"]})
    kept, report = clean_texts(frame)
    assert kept["text"].tolist() == ["good one", "fine"]
    assert (report.n_missing_text, report.n_non_string, report.n_empty,
            report.n_missing_label, report.n_duplicates) == (1, 1, 1, 1, 1)
    assert report.n_dropped == 5 and report.n_kept == 2
    assert report.as_dict()["dropped in all"] == 5


def test_labels_read_as_floats_next_to_a_blank_become_ints_again(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\na,-1\nb,\nc,2\nd,0\n")
    kept, report = clean_texts(read_labelled_csv(path))
    assert report.n_missing_label == 1
    assert encode_labels(kept["label"]).id2label == {0: "-1", 1: "0", 2: "2"}


def test_spaces_around_text_labels_do_not_make_new_classes():
    kept, _ = clean_texts(pd.DataFrame({"text": ["a", "b"], "label": ["pos", "pos "]}))
    assert kept["label"].nunique() == 1


def test_numbers_in_the_text_column_suggest_swapped_columns():
    with pytest.raises(DataError, match="swap text_column and label_column"):
        clean_texts(pd.DataFrame({"text": [1, 2, 3], "label": ["x", "y", "z"]}))


# --- label encoding ------------------------------------------------------------------------

def test_label_encoding_maps_minus_one_to_zero():
    encoding = encode_labels([2, -1, 0, 1, -1])
    assert encoding.ids.tolist() == [3, 0, 1, 2, 0]
    assert encoding.id2label == {0: "-1", 1: "0", 2: "1", 3: "2"}
    assert encoding.label2id == {"-1": 0, "0": 1, "1": 2, "2": 3}
    assert encoding.num_labels == 4


def test_string_labels_get_sorted_contiguous_ids():
    encoding = encode_labels(["rotten", "fresh", "plot", "fresh"])
    assert encoding.id2label == {0: "fresh", 1: "plot", 2: "rotten"}
    assert encoding.ids.tolist() == [2, 0, 1, 0]


def test_numbers_sort_numerically_not_as_text():
    assert encode_labels([10, 9, 2]).id2label == {0: "2", 1: "9", 2: "10"}


def test_an_existing_mapping_is_reused_and_unknown_labels_refused():
    encoding = encode_labels(["b", "a"], id2label={0: "b", 1: "a"})
    assert encoding.ids.tolist() == [0, 1]
    with pytest.raises(DataError, match=r"\['c'\] are not in the encoding"):
        encode_labels(["c"], id2label={0: "b", 1: "a"})


def test_all_one_class_is_refused():
    with pytest.raises(DataError, match="at least two classes"):
        encode_labels(["pos", "pos", "pos"])


# --- splitting -----------------------------------------------------------------------------

def encoded_frame(rows):
    frame = pd.DataFrame(rows, columns=["text", "label"])
    return frame.assign(label_id=encode_labels(frame["label"]).ids)


def test_split_is_stratified_reproducible_and_disjoint():
    frame = encoded_frame(tweets(50))
    first, second = stratified_split(frame, seed=3), stratified_split(frame, seed=3)
    assert first.sizes() == {"train": 140, "valid": 20, "test": 40}
    assert first.train["text"].tolist() == second.train["text"].tolist()
    assert stratified_split(frame, seed=4).train["text"].tolist() != first.train["text"].tolist()
    counts = first.class_counts()
    assert counts["valid"].tolist() == [5, 5, 5, 5] and counts["test"].tolist() == [10] * 4
    texts = [set(part["text"]) for part in (first.train, first.valid, first.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_class_too_small_to_stratify_is_named():
    rare = [("rare one", "rare"), ("rare two", "rare")]
    frame = encoded_frame(tweets(30, labels=("a", "b")) + rare)
    with pytest.raises(DataError, match="Class 'rare' has only 2 row.*at least 10 per class"):
        stratified_split(frame)


def test_needed_rows_per_class_follow_the_split_sizes():
    assert min_rows_per_class(0.1, 0.2) == 10
    assert min_rows_per_class(0.25, 0.25) == 4


def test_split_sizes_that_leave_no_training_rows_are_refused():
    with pytest.raises(DataError, match="sum below 1"):
        stratified_split(encoded_frame(tweets(20)), valid_size=0.5, test_size=0.5)


def test_all_one_class_is_refused_by_the_split_too():
    frame = pd.DataFrame({"text": list("abcdef"), "label": ["x"] * 6, "label_id": [0] * 6})
    with pytest.raises(DataError, match="same label"):
        stratified_split(frame)


@pytest.mark.parametrize("separator", ["\t", "|", ";", ","])
def test_csv_separator_tells_load_dataset_how_to_read_the_file(tmp_path, separator):
    from datasets import load_dataset

    from course_utils.data import csv_separator

    path = tmp_path / "mine.csv"
    path.write_text(f"text{separator}label\nnice really{separator}pos\nbad{separator}neg\n")
    assert csv_separator(str(path)) == separator
    loaded = load_dataset("csv", data_files=str(path), sep=csv_separator(path),
                          cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].column_names == ["text", "label"]
    assert loaded["train"]["text"] == ["nice really", "bad"]
