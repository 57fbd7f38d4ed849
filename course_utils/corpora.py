"""The texts the lessons read: the review corpus, hub corpora, Hamlet and Gutenberg books.

The review corpus (Rotten Tomatoes snippets and plot synopses) and Hamlet are course
assets, checked and cached by ``assets``; the ``full`` profile reads IMDB or SST-2 from
the hub (``load_sentiment_corpus(dataset, profile)``: IMDB unless ``dataset="sst2"``) and
Moby-Dick from Project Gutenberg (downloaded once, its checksum kept beside it).
``load_labelled_splits`` is what lessons 04-05 call: a learner's CSV or a named corpus,
cleaned, encoded and split by ``data``.

Example::

    >>> reviews = load_reviews(("fresh", "rotten", "plot"))                  # doctest: +SKIP
    >>> splits, encoding, report = load_labelled_splits()                   # doctest: +SKIP
    >>> splits.sizes(), encoding.id2label, report.n_dropped                 # doctest: +SKIP
    ({'train': 8925, 'valid': 1276, 'test': 2551}, {0: 'fresh', 1: 'rotten'}, 56)
    >>> lines, report = hamlet_lines()                                       # doctest: +SKIP
    >>> print(report)                                                        # doctest: +SKIP
    hamlet: kept 4108 lines; dropped 27 headers, 214 stage directions, 1033 speaker names
"""

from __future__ import annotations

import re
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import assets
from .atomic import atomic_path, write_text_atomically
from .data import (
    CleaningReport,
    DataError,
    LabelEncoding,
    Splits,
    clean_texts,
    encode_labels,
    read_labelled_csv,
    stratified_split,
)

REVIEW_CLASSES = ("fresh", "rotten")
REVIEW_CLASSES_WITH_PLOT = ("fresh", "rotten", "plot")
# Hub corpora for the full profile: dataset id, the splits that carry labels.
HUB_CORPORA = {"imdb": ("imdb", ("train", "test")),
               "sst2": ("stanfordnlp/sst2", ("train", "validation"))}
GUTENBERG_MOBY_DICK = "https://www.gutenberg.org/cache/epub/2701/pg2701.txt"
TEXT_SOURCES = ("hamlet", "moby-dick")
STAGE_DIRECTIONS = ("all", "entrances")


# ---------------------------------------------------------------- sentiment corpora
def review_corpus_path() -> Path:
    """Return the cached Rotten Tomatoes CSV (fetching the asset if needed)."""
    return assets.asset_path("reviews")


def load_reviews(classes: tuple[str, ...] = REVIEW_CLASSES) -> pd.DataFrame:
    """Return the review corpus as ``text`` / ``label`` rows of the given categories."""
    unknown = set(classes) - set(REVIEW_CLASSES_WITH_PLOT)
    if unknown:
        raise DataError(f"Unknown review classes {sorted(unknown)}: choose from "
                        f"{list(REVIEW_CLASSES_WITH_PLOT)}.")
    frame = read_labelled_csv(review_corpus_path(), "text", "category")
    return frame[frame["label"].isin(classes)].reset_index(drop=True)


def frame_from_hub_dataset(dataset_dict, splits: tuple[str, ...]) -> pd.DataFrame:
    """Return ``text`` / ``label`` rows (label names, not ids) from a datasets.DatasetDict."""
    parts = []
    for split in splits:
        part = dataset_dict[split]
        text_column = "text" if "text" in part.column_names else "sentence"
        names = part.features["label"].names
        labels = part["label"]
        parts.append(pd.DataFrame({"text": part[text_column],
                                   "label": [names[i] if i >= 0 else None for i in labels]}))
    return pd.concat(parts, ignore_index=True)


def load_corpus(name: str = "reviews", classes: tuple[str, ...] = REVIEW_CLASSES) -> pd.DataFrame:
    """Return a profile's sentiment corpus ("reviews" offline; "imdb" or "sst2" from the hub)."""
    if name == "reviews":
        return load_reviews(classes)
    if name not in HUB_CORPORA:
        raise DataError(f"Unknown corpus {name!r}: use 'reviews', "
                        f"{', '.join(map(repr, HUB_CORPORA))}, or give data_path.")
    if tuple(classes) != REVIEW_CLASSES:
        raise DataError(f"Choosing classes (e.g. three_classes=True) works with the review "
                        f"corpus only, not {name!r}.")
    import datasets

    dataset_id, splits = HUB_CORPORA[name]
    return frame_from_hub_dataset(datasets.load_dataset(dataset_id), splits)


def sentiment_corpus_name(dataset: str = "", profile: str = "offline") -> str:
    """Return the corpus a lesson reads: ``dataset`` when given, else the profile's choice."""
    from .profiles import get_profile

    chosen = get_profile(profile)
    name = dataset or chosen.sentiment_data
    if name not in ("reviews", *HUB_CORPORA):
        raise DataError(f"Unknown dataset {dataset!r}: leave it empty for the profile's corpus, "
                        f"or use {', '.join(map(repr, ('reviews', *HUB_CORPORA)))}.")
    if name in HUB_CORPORA and chosen.offline:
        raise DataError(f"dataset={name!r} comes from the Hugging Face hub: set "
                        f"profile='full' (it needs internet), or leave dataset empty.")
    return name


def load_sentiment_corpus(dataset: str = "", profile: str = "offline",
                          classes: tuple[str, ...] = REVIEW_CLASSES) -> pd.DataFrame:
    """Return ``text`` / ``label`` rows of `dataset` ("imdb", "sst2", "reviews"; "": profile's)."""
    return load_corpus(sentiment_corpus_name(dataset, profile), classes)


def load_labelled_splits(data_path: str | None = None, text_column: str = "text",
                         label_column: str = "label", classes: tuple[str, ...] = REVIEW_CLASSES,
                         valid_size: float = 0.1, test_size: float = 0.2, seed: int = 0,
                         corpus: str = "reviews",
                         ) -> tuple[Splits, LabelEncoding, CleaningReport]:
    """Load the CSV at ``data_path`` (or the named corpus when empty), clean, encode, split it."""
    frame = (read_labelled_csv(data_path, text_column, label_column) if data_path
             else load_corpus(corpus, classes))
    frame, report = clean_texts(frame)
    encoding = encode_labels(frame["label"])
    frame = frame.assign(label=frame["label"].astype(str), label_id=encoding.ids)
    splits = stratified_split(frame, valid_size, test_size, seed)
    return splits, encoding, report


# ---------------------------------------------------------------- texts read line by line
@dataclass
class CorpusReport:
    """What reading a text kept, and how many lines of each other kind it dropped."""

    source: str
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        dropped = ", ".join(f"{n} {kind}" for kind, n in self.dropped.items()) or "nothing"
        return f"{self.source}: kept {self.kept} lines; dropped {dropped}"


STAGE_WORDS = re.compile(r"(^Re-enter|\bEnter|\bExit|\bExeunt)\b")
ENTRANCES = re.compile(r"^(Enter|Exit|Exeunt|Re-enter)\b")
PLAY_HEADERS = re.compile(r"^(ACT|SCENE)\b")
BRACKETED = re.compile(r"\[[^\]]*\]")


def _hamlet_line_kind(line: str, next_line: str, before_first_act: bool,
                      stage_directions: str) -> str:
    """Return what one stripped line of the play is: header, speaker, stage direction, spoken."""
    if PLAY_HEADERS.match(line) or (before_first_act and stage_directions == "all"):
        return "headers"
    if any(c.isalpha() for c in line) and line == line.upper():
        return "speaker names"                      # "HAMLET", "KING CLAUDIUS"
    if stage_directions == "entrances":
        return "stage directions" if ENTRANCES.match(line) else "spoken"
    if STAGE_WORDS.search(line) or not next_line or BRACKETED.fullmatch(line):
        return "stage directions"                   # the file ends each direction with a blank line
    return "spoken"


def hamlet_lines(path: str | Path | None = None,
                 stage_directions: str = "all") -> tuple[list[str], CorpusReport]:
    """Return the spoken lines of Hamlet without speaker names, headers and stage directions.

    ``stage_directions="all"`` (lesson 06) drops every stage direction, the front matter and
    bracketed asides such as ``[Aside]``; ``"entrances"`` (lesson 02's training text) drops
    only the lines that start with Enter, Exit, Exeunt or Re-enter and keeps the others as
    they are.
    """
    if stage_directions not in STAGE_DIRECTIONS:
        raise DataError(f"Unknown stage_directions={stage_directions!r}: use one of "
                        f"{', '.join(map(repr, STAGE_DIRECTIONS))}.")
    path = Path(path or assets.asset_path("hamlet"))
    stripped = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()] + [""]
    first_act = next((i for i, line in enumerate(stripped) if line.startswith("ACT ")), 0)
    lines, dropped = [], Counter()
    for i, line in enumerate(stripped[:-1]):
        if not line:
            continue
        kind = _hamlet_line_kind(line, stripped[i + 1], i < first_act, stage_directions)
        spoken = line if kind == "spoken" else ""
        if spoken and stage_directions == "all":
            spoken = " ".join(BRACKETED.sub(" ", line).split())
        if spoken:
            lines.append(spoken)
        else:
            dropped[kind if kind != "spoken" else "stage directions"] += 1
    if not lines:
        raise DataError(f"No spoken lines found in {path}: is it the play's text?")
    return lines, CorpusReport("hamlet", len(lines), dict(dropped))


def hamlet_speeches(path: str | Path | None = None) -> pd.DataFrame:
    """Return Hamlet's speeches as ``text`` / ``speaker`` rows (stage directions dropped).

    A speech is every spoken line between one speaker name (an all-capitals line such as
    ``KING CLAUDIUS``) and the next, joined with spaces.
    """
    path = Path(path or assets.asset_path("hamlet"))
    stripped = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()] + [""]
    first_act = next((i for i, line in enumerate(stripped) if line.startswith("ACT ")), 0)
    speeches, speaker, spoken = [], None, []
    for i, line in enumerate(stripped[:-1]):
        if not line or i < first_act:
            continue
        kind = _hamlet_line_kind(line, stripped[i + 1], False, "all")
        if kind in ("speaker names", "headers"):
            if speaker and spoken:
                speeches.append({"text": " ".join(spoken), "speaker": speaker})
            speaker, spoken = (line if kind == "speaker names" else None), []
        elif kind == "spoken" and speaker:
            text = " ".join(BRACKETED.sub(" ", line).split())
            if text:
                spoken.append(text)
    if speaker and spoken:
        speeches.append({"text": " ".join(spoken), "speaker": speaker})
    if not speeches:
        raise DataError(f"No speeches found in {path}: is it the play's text?")
    return pd.DataFrame(speeches)


def fetch_text(url: str, destination: Path, sha256: str | None = None) -> Path:
    """Download ``url`` to ``destination`` once (atomically) and return the path.

    The file's SHA-256 is kept beside it (``NAME.sha256``) and checked on every later call,
    so a damaged copy is noticed; with ``sha256`` given, the download itself must match it.
    """
    checksum_file = destination.with_name(destination.name + ".sha256")
    if destination.exists():
        expected = sha256 or (checksum_file.read_text().strip() if checksum_file.is_file() else "")
        if expected and assets.sha256_of(destination) != expected:
            raise DataError(f"{destination} does not match its checksum {expected[:12]}...: it "
                            "is damaged. Delete it and run the lesson again to download it anew.")
        return destination
    try:
        with atomic_path(destination) as temporary, \
                urllib.request.urlopen(url, timeout=60) as response:
            temporary.write_bytes(response.read())
            actual = assets.sha256_of(temporary)
            if sha256 and actual != sha256:
                raise DataError(f"{url} has SHA-256 {actual[:12]}..., not the expected "
                                f"{sha256[:12]}...: the download is damaged or the file "
                                "changed. Try again later, or use the offline profile (Hamlet).")
    except OSError as err:
        raise DataError(f"Could not download {url} ({err}). Use the offline profile "
                        f"(Hamlet), or put the text at {destination} yourself.") from err
    write_text_atomically(checksum_file, actual + "\n")
    return destination


def read_gutenberg_lines(path: str | Path,
                         source: str = "gutenberg") -> tuple[list[str], CorpusReport]:
    """Return the non-empty lines of a Project Gutenberg book, without its licence and headings."""
    raw = Path(path).read_text(encoding="utf-8-sig").splitlines()
    start = next((i + 1 for i, line in enumerate(raw) if line.startswith("*** START OF")), 0)
    end = next((i for i, line in enumerate(raw) if line.startswith("*** END OF")), len(raw))
    lines, dropped = [], Counter({"licence and front matter": start + len(raw) - end})
    for line in raw[start:end]:
        line = " ".join(line.split())
        if not line:
            continue
        if re.match(r"^(CHAPTER|Chapter|ETYMOLOGY|EXTRACTS|Epilogue)\b", line):
            dropped["headings"] += 1
        else:
            lines.append(line)
    return lines, CorpusReport(source, len(lines), dict(dropped))


def load_tagging_lines(source: str = "hamlet") -> tuple[list[str], CorpusReport]:
    """Return the lines to tag: ``"hamlet"``, ``"moby-dick"`` (downloaded once) or a .txt path."""
    if source == "hamlet":
        return hamlet_lines()
    if source == "moby-dick":
        from .artifacts import artifacts_dir

        path = fetch_text(GUTENBERG_MOBY_DICK, artifacts_dir("texts") / "moby-dick.txt")
        return read_gutenberg_lines(path, source="moby-dick")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"Unknown text {source!r}: use one of {', '.join(TEXT_SOURCES)} "
                        "or the path of a UTF-8 .txt file with one example per line.")
    raw = path.read_text(encoding="utf-8").splitlines()
    lines = [" ".join(line.split()) for line in raw if line.strip()]
    return lines, CorpusReport(path.name, len(lines), {"empty lines": len(raw) - len(lines)})
