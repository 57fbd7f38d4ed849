"""Read a labelled text CSV, clean it, encode its labels and split it reproducibly.

The same functions serve the built-in review corpus (``corpora``) and any CSV a learner
brings, so lessons 03-06 run unchanged on other data. Every bad input raises ``DataError``
with what was wrong and how to fix it, before any model is loaded.

Texts that are missing, not strings, blank, or repeated are *dropped and counted*
(``CleaningReport``), never refused: a few bad rows should not stop a lesson.
Labels are encoded to ids 0..K-1 in sorted order (numbers numerically, so the
labels -1, 0, 1, 2 become ids 0, 1, 2, 3) and the maps are kept both ways.

Example, step by step, for a CSV of your own (``corpora.load_labelled_splits`` does it all)::

    >>> df = read_labelled_csv("tweets.csv", "message", "sentiment")      # doctest: +SKIP
    >>> df, report = clean_texts(df)                                       # doctest: +SKIP
    >>> labels = encode_labels(df["label"])                                # doctest: +SKIP
    >>> splits = stratified_split(df.assign(label_id=labels.ids), seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
SEPARATORS = ",;\t|"
# First bytes of binary formats people save by mistake instead of a CSV.
BINARY_SIGNATURES = {b"PK\x03\x04": "a zip archive (an .xlsx workbook is one)",
                     b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook",
                     b"PAR1": "a Parquet file", b"%PDF": "a PDF", b"\x89PNG": "a PNG image",
                     b"\x1f\x8b": "a gzip archive", b"BZh": "a bzip2 archive",
                     b"SQLite format": "an SQLite database"}


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

    @property
    def n_kept(self) -> int:
        """Return the number of rows left after cleaning."""
        return self.n_rows - self.n_dropped

    def as_dict(self) -> dict[str, int]:
        """Return the counts by reason, for a table in a lesson."""
        return {"rows read": self.n_rows, "missing text": self.n_missing_text,
                "text not a string": self.n_non_string, "blank text": self.n_empty,
                "missing label": self.n_missing_label, "duplicate text": self.n_duplicates,
                "dropped in all": self.n_dropped, "kept": self.n_kept}


@dataclass
class Splits:
    """Train, validation and test frames from one stratified split."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        """Return the number of rows in each split."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def class_counts(self, column: str = "label") -> pd.DataFrame:
        """Return a table of rows per class (rows) and split (columns)."""
        table = pd.DataFrame({name: part[column].value_counts()
                              for name, part in (("train", self.train), ("valid", self.valid),
                                                 ("test", self.test))})
        return table.fillna(0).astype(int).sort_index()


def _check_is_text_csv(path: Path) -> None:
    """Refuse files that are binary, JSON or not UTF-8, naming what they look like."""
    if path.name.lower().endswith(COMPRESSED_SUFFIXES):
        return  # pandas decompresses by suffix; what is inside is checked while parsing
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip():
        raise DataError(f"{path} is empty: it needs a header row and at least one row.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text, not UTF-8. Re-save it as 'CSV UTF-8' (in "
                        "Excel: File > Save As > CSV UTF-8), or convert it: "
                        "pd.read_csv(path, encoding='utf-16').to_csv(new_path, index=False).")
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise DataError(f"{path} is {kind}, not a CSV text file. Export it as CSV (for a "
                            "workbook: pd.read_excel(path).to_csv(new_path, index=False)).")
    if b"\x00" in head:
        raise DataError(f"{path} is a binary file (it contains NUL bytes), not a CSV text "
                        "file. Export your data as CSV with a header row.")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        raise DataError(f"{path} looks like JSON, not CSV. Convert it: "
                        "pd.read_json(path).to_csv(new_path, index=False) (add lines=True "
                        "for one JSON object per line).")


def csv_separator(path: str | Path) -> str:
    """Return the header line's separator as ``csv.Sniffer`` sees it; a comma when in doubt."""
    path = Path(path)
    if path.name.lower().endswith(COMPRESSED_SUFFIXES):
        return ","
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8", errors="replace")
    try:
        return csv.Sniffer().sniff(header, delimiters=SEPARATORS).delimiter
    except csv.Error:   # one column, or nothing to tell the separators apart
        return ","


def read_labelled_csv(path: str | Path, text_column: str = "text",
                      label_column: str = "label") -> pd.DataFrame:
    """Read a CSV and return a frame with just ``text`` and ``label`` columns."""
    if path is None or str(path).strip() == "":
        raise DataError("No data_path given: set it to your CSV file (or leave it empty in a "
                        "lesson to use the course's corpus).")
    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"{path} is a folder: data_path must name a CSV file inside it.")
    if not path.is_file():
        raise DataError(f"No file at {path}. Check data_path (relative paths start "
                        f"from the notebook's folder: {Path.cwd()}).")
    _check_is_text_csv(path)
    try:
        frame = pd.read_csv(path, encoding="utf-8", sep=csv_separator(path))
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
    except (OSError, EOFError, ValueError) as err:  # a damaged .gz / .bz2 / .zip
        raise DataError(f"{path} could not be read ({type(err).__name__}: {err}). If it is "
                        "compressed, check that the archive is complete and holds one CSV."
                        ) from err
    if frame.empty:
        raise DataError(f"{path} has a header ({', '.join(map(str, frame.columns))}) but no rows: "
                        "add at least one row of data under it.")
    if text_column == label_column:
        raise DataError(f"text_column and label_column are both {text_column!r}: they must "
                        f"name two different columns of {list(frame.columns)}.")
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(f"Column(s) {missing} not in {path.name}. Its columns are "
                        f"{list(frame.columns)}: set text_column and label_column to two of them.")
    return frame[[text_column, label_column]].rename(
        columns={text_column: "text", label_column: "label"})


def _tidy_labels(labels: pd.Series) -> pd.Series:
    """Strip spaces around text labels; turn whole floats (1.0, read next to blanks) into ints."""
    if pd.api.types.is_bool_dtype(labels):
        return labels
    if labels.map(lambda v: isinstance(v, str)).all():
        return labels.str.strip()
    numeric = pd.to_numeric(labels, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        return numeric.astype("int64")
    return labels


def clean_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Drop rows with missing, non-string, blank or duplicate texts, or no label; count each."""
    n_rows = len(frame)
    missing_text = frame["text"].isna()
    non_string = ~missing_text & ~frame["text"].map(lambda t: isinstance(t, str))
    kept = frame[~missing_text & ~non_string]
    empty = kept["text"].map(lambda t: t.strip() == "").astype(bool)
    kept = kept[~empty]
    missing_label = kept["label"].isna() | (kept["label"].astype(str).str.strip() == "")
    kept = kept[~missing_label]
    duplicates = kept["text"].map(str.strip).duplicated()
    kept = kept[~duplicates].reset_index(drop=True)
    report = CleaningReport(n_rows=n_rows, n_missing_text=int(missing_text.sum()),
                            n_non_string=int(non_string.sum()), n_empty=int(empty.sum()),
                            n_duplicates=int(duplicates.sum()),
                            n_missing_label=int(missing_label.sum()))
    if kept.empty:
        hint = ("Its values are numbers, not text: did you swap text_column and label_column?"
                if report.n_non_string > report.n_rows / 2
                else "Check text_column and label_column.")
        raise DataError(f"No usable rows are left after removing missing, empty and duplicate "
                        f"texts (started from {n_rows}). {hint}")
    return kept.assign(label=_tidy_labels(kept["label"])), report


def _sort_key(label):
    """Sort numbers numerically and everything else as text."""
    if isinstance(label, (int, float, np.number)):
        return (0, float(label), "")
    return (1, 0.0, str(label))


def encode_labels(labels: pd.Series | list,
                  id2label: dict[int, str] | None = None) -> LabelEncoding:
    """Map label values (strings or numbers such as -1, 0, 1, 2) to ids 0..K-1."""
    values = pd.Series(labels).tolist()
    if id2label is None:
        distinct = sorted(set(values), key=_sort_key)
        if len(distinct) < 2:
            raise DataError(f"All labels are {distinct!r}: a classifier needs at least two "
                            "classes. Check label_column, or add examples of other classes.")
        id2label = {i: str(v) for i, v in enumerate(distinct)}
    else:
        id2label = {int(i): str(name) for i, name in id2label.items()}
        if sorted(id2label) != list(range(len(id2label))):
            raise DataError(f"id2label keys must be 0..K-1, got {sorted(id2label)}.")
    label2id = {name: i for i, name in id2label.items()}
    unknown = sorted({str(v) for v in values} - set(label2id))
    if unknown:
        raise DataError(f"Labels {unknown} are not in the encoding {label2id}.")
    ids = np.array([label2id[str(v)] for v in values], dtype=np.int64)
    return LabelEncoding(ids=ids, id2label=id2label)


def min_rows_per_class(valid_size: float = 0.1, test_size: float = 0.2) -> int:
    """Return the fewest rows a class needs so that every split gets at least one of it."""
    smallest = min(valid_size, test_size, 1 - valid_size - test_size)
    return max(3, math.ceil(1 / smallest - 1e-9))


def stratified_split(frame: pd.DataFrame, valid_size: float = 0.1, test_size: float = 0.2,
                     seed: int = 0, label_column: str = "label_id") -> Splits:
    """Split into train / validation / test with the same class balance in each."""
    if not (0 < valid_size < 1 and 0 < test_size < 1 and valid_size + test_size < 1):
        raise DataError(f"valid_size={valid_size} and test_size={test_size} must be fractions "
                        "between 0 and 1 that leave rows for training (their sum below 1).")
    counts = frame[label_column].value_counts()
    if len(counts) < 2:
        raise DataError("All rows have the same label: a classifier needs at least two classes.")
    rarest, n_rarest = counts.idxmin(), int(counts.min())
    needed = min_rows_per_class(valid_size, test_size)
    if n_rarest < needed:
        name = frame.loc[frame[label_column] == rarest, "label"].iloc[0] \
            if "label" in frame.columns else rarest
        raise DataError(f"Class {name!r} has only {n_rarest} row(s); a stratified split with "
                        f"valid_size={valid_size} and test_size={test_size} needs at least "
                        f"{needed} per class so that every split gets one. Add examples, merge "
                        "the class into another, or drop it.")
    try:
        rest, test = train_test_split(frame, test_size=test_size, random_state=seed,
                                      stratify=frame[label_column])
        train, valid = train_test_split(rest, test_size=valid_size / (1 - test_size),
                                        random_state=seed, stratify=rest[label_column])
    except ValueError as err:
        raise DataError(f"Could not stratify the split ({err}). Classes this small need "
                        "larger valid_size / test_size or more data.") from err
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        absent = sorted(set(counts.index) - set(part[label_column]))
        if absent:
            raise DataError(f"The {name} split got no rows of class(es) {absent}: add examples "
                            "of them or raise valid_size / test_size.")
    return Splits(*(part.reset_index(drop=True) for part in (train, valid, test)))
