"""Load a labelled text CSV, clean it, encode its labels and split it reproducibly.

The same helpers serve the built-in review corpus and any CSV a learner brings, so
lessons 03-06 run unchanged on other data. Every bad input raises ``DataError``
with what was wrong and how to fix it, before any model is loaded.

Example::

    >>> df = load_reviews()                                  # doctest: +SKIP
    >>> df, report = clean_texts(df)                         # doctest: +SKIP
    >>> labels = encode_labels(df["label"])                  # doctest: +SKIP
    >>> splits = stratified_split(df.assign(label_id=labels.ids), seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from . import assets

REVIEW_CLASSES = ("fresh", "rotten")
REVIEW_CLASSES_WITH_PLOT = ("fresh", "rotten", "plot")


class DataError(ValueError):
    """A problem with the learner's data, explained with a fix."""


@dataclass
class LabelEncoding:
    """Contiguous label ids 0..K-1 with the maps in both directions."""

    ids: np.ndarray
    id2label: dict[int, str]
    label2id: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.label2id = {name: i for i, name in self.id2label.items()}

    @property
    def num_labels(self) -> int:
        """Return the number of classes K."""
        return len(self.id2label)


@dataclass
class CleaningReport:
    """How many rows cleaning removed, and why."""

    n_rows: int
    n_missing_text: int
    n_non_string: int
    n_empty: int
    n_duplicates: int
    n_missing_label: int

    @property
    def n_dropped(self) -> int:
        """Return the total number of rows removed."""
        return (self.n_missing_text + self.n_non_string + self.n_empty
                + self.n_duplicates + self.n_missing_label)


@dataclass
class Splits:
    """Train, validation and test frames from one stratified split."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        """Return the number of rows in each split."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def read_labelled_csv(path: str | Path, text_column: str = "text",
                      label_column: str = "label") -> pd.DataFrame:
    """Read a CSV and return a frame with just ``text`` and ``label`` columns."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No file at {path}. Check data_path (relative paths start "
                        f"from the notebook's folder: {Path.cwd()}).")
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}: {err.reason}). Re-save it "
                        "as UTF-8, e.g. pd.read_csv(path, encoding='latin-1').to_csv(new_path, "
                        "index=False).") from err
    except (pd.errors.ParserError, csv.Error) as err:
        raise DataError(f"{path} could not be parsed as CSV ({err}). Check that it is "
                        "comma-separated with one header row, and quote texts that contain "
                        "commas or newlines.") from err
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path} is empty: it needs a header row and at least one row.") from err
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(f"Column(s) {missing} not in {path.name}. Its columns are "
                        f"{list(frame.columns)}: set text_column and label_column to two of them.")
    if frame.shape[1] == 1 or text_column == label_column:
        raise DataError(f"{path.name} needs separate text and label columns; got "
                        f"text_column={text_column!r}, label_column={label_column!r}.")
    return frame[[text_column, label_column]].rename(
        columns={text_column: "text", label_column: "label"})


def review_corpus_path() -> Path:
    """Return the cached Rotten Tomatoes CSV (fetching the asset if needed)."""
    return assets.asset_path("reviews")


def load_reviews(classes: tuple[str, ...] = REVIEW_CLASSES) -> pd.DataFrame:
    """Return the review corpus as ``text`` / ``label`` rows of the given categories."""
    frame = read_labelled_csv(review_corpus_path(), "text", "category")
    unknown = set(classes) - set(REVIEW_CLASSES_WITH_PLOT)
    if unknown:
        raise DataError(f"Unknown review classes {sorted(unknown)}: choose from "
                        f"{list(REVIEW_CLASSES_WITH_PLOT)}.")
    return frame[frame["label"].isin(classes)].reset_index(drop=True)


def clean_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Drop rows with missing, non-string, blank or duplicate texts, or no label; count each."""
    n_rows = len(frame)
    missing_text = frame["text"].isna()
    non_string = ~missing_text & ~frame["text"].map(lambda t: isinstance(t, str))
    kept = frame[~missing_text & ~non_string]
    empty = kept["text"].str.strip() == ""
    kept = kept[~empty]
    missing_label = kept["label"].isna()
    kept = kept[~missing_label]
    duplicates = kept["text"].str.strip().duplicated()
    kept = kept[~duplicates].reset_index(drop=True)
    report = CleaningReport(n_rows=n_rows, n_missing_text=int(missing_text.sum()),
                            n_non_string=int(non_string.sum()), n_empty=int(empty.sum()),
                            n_duplicates=int(duplicates.sum()),
                            n_missing_label=int(missing_label.sum()))
    if kept.empty:
        raise DataError("No usable rows are left after removing missing, empty and duplicate "
                        f"texts (started from {n_rows}). Check text_column.")
    return kept, report


def _sort_key(label):
    """Sort numbers numerically and everything else as text."""
    return (0, float(label), "") if isinstance(label, (int, float, np.number)) else (1, 0.0, str(label))


def encode_labels(labels: pd.Series | list, id2label: dict[int, str] | None = None) -> LabelEncoding:
    """Map label values (strings or numbers such as -1, 0, 1, 2) to ids 0..K-1."""
    values = pd.Series(labels).tolist()
    if id2label is None:
        distinct = sorted(set(values), key=_sort_key)
        if len(distinct) < 2:
            raise DataError(f"All labels are {distinct!r}: a classifier needs at least two "
                            "classes. Check label_column.")
        id2label = {i: str(v) for i, v in enumerate(distinct)}
    label2id = {name: i for i, name in id2label.items()}
    unknown = sorted({str(v) for v in values} - set(label2id))
    if unknown:
        raise DataError(f"Labels {unknown} are not in the encoding {label2id}.")
    ids = np.array([label2id[str(v)] for v in values], dtype=np.int64)
    return LabelEncoding(ids=ids, id2label=id2label)


def stratified_split(frame: pd.DataFrame, valid_size: float = 0.1, test_size: float = 0.2,
                     seed: int = 0, label_column: str = "label_id") -> Splits:
    """Split into train / validation / test with the same class balance in each."""
    counts = frame[label_column].value_counts()
    if len(counts) < 2:
        raise DataError("All rows have the same label: a classifier needs at least two classes.")
    rarest, n_rarest = counts.idxmin(), int(counts.min())
    if n_rarest < 3:
        raise DataError(f"Class {rarest!r} has only {n_rarest} row(s); a stratified train / "
                        "validation / test split needs at least 3 per class. Add examples, "
                        "merge the class into another, or drop it.")
    try:
        rest, test = train_test_split(frame, test_size=test_size, random_state=seed,
                                      stratify=frame[label_column])
        train, valid = train_test_split(rest, test_size=valid_size / (1 - test_size),
                                        random_state=seed, stratify=rest[label_column])
    except ValueError as err:
        raise DataError(f"Could not stratify the split ({err}). Classes this small need "
                        "larger valid_size / test_size or more data.") from err
    return Splits(*(part.reset_index(drop=True) for part in (train, valid, test)))


def load_labelled_splits(data_path: str | None = None, text_column: str = "text",
                         label_column: str = "label", classes: tuple[str, ...] = REVIEW_CLASSES,
                         valid_size: float = 0.1, test_size: float = 0.2, seed: int = 0,
                         ) -> tuple[Splits, LabelEncoding, CleaningReport]:
    """Load the review corpus (or the CSV at ``data_path``), clean, encode and split it."""
    frame = (read_labelled_csv(data_path, text_column, label_column) if data_path
             else load_reviews(classes))
    frame, report = clean_texts(frame)
    encoding = encode_labels(frame["label"])
    frame = frame.assign(label=frame["label"].astype(str), label_id=encoding.ids)
    splits = stratified_split(frame, valid_size, test_size, seed)
    return splits, encoding, report
