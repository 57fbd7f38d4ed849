"""Lines that lessons 01-03 write out agree with the package functions that later lessons call."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from course_utils.corpora import load_reviews
from course_utils.data import Splits, clean_texts, encode_labels, stratified_split
from course_utils.tools.lessons import lesson_notebooks


def _code_cell(lesson: str, needle: str) -> str:
    (path,) = [p for p in lesson_notebooks() if p.name.startswith(f"{lesson}_")]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    (source,) = ["".join(c["source"]) for c in cells
                 if c["cell_type"] == "code" and needle in "".join(c["source"])]
    return source


def _notebook_split(clean: pd.DataFrame, valid_size: float, test_size: float, seed: int) -> Splits:
    """Run lesson 03's split lines (up to ``splits = ...``) on ``clean``."""
    source = _code_cell("03", "train_test_split(rest")
    lines = source.split("splits = ")[0] + "splits = " + source.split("splits = ")[1].split("\n")[0]
    namespace = {"clean": clean, "valid_size": valid_size, "test_size": test_size, "seed": seed,
                 "train_test_split": train_test_split, "Splits": Splits}
    exec(compile(lines, "lesson 03 split cell", "exec"), namespace)
    return namespace["splits"]


def _encoded(frame: pd.DataFrame) -> pd.DataFrame:
    clean, _ = clean_texts(frame)
    encoding = encode_labels(clean["label"])
    return clean.assign(label=clean["label"].astype(str), label_id=encoding.ids)


@pytest.mark.parametrize("seed,valid_size,test_size", [(0, 0.1, 0.2), (3, 0.15, 0.25)])
def test_lesson_03_split_lines_give_the_rows_of_stratified_split(seed, valid_size, test_size):
    clean = _encoded(load_reviews())
    ours = _notebook_split(clean, valid_size, test_size, seed)
    theirs = stratified_split(clean, valid_size=valid_size, test_size=test_size, seed=seed)
    for name in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(ours, name), getattr(theirs, name))
    assert ours.sizes() == theirs.sizes() and sum(ours.sizes().values()) == len(clean)


def test_class_encode_column_orders_labels_as_encode_labels_does():
    import datasets

    for labels in (["rotten", "fresh", "rotten", "fresh"], ["b", "a", "c", "a"]):
        dataset = datasets.Dataset.from_dict({"label": labels}).class_encode_column("label")
        expected = encode_labels(labels)
        assert dataset.features["label"].names == list(expected.id2label.values())
        assert dataset["label"] == expected.ids.tolist()
