"""Per-text predictions travel from lesson 04 to lesson 05 with their split, in any row order."""

import json

import numpy as np
import pandas as pd
import pytest

from course_utils.results import (
    canonical_order,
    load_predictions,
    load_results,
    save_results,
    split_signature,
)


def _split(texts, labels):
    return pd.DataFrame({"text": texts, "label_id": labels})


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    return tmp_path


def test_canonical_order_is_the_same_for_any_row_order():
    test = _split(["good", "bad", "fine", "awful"], [0, 1, 0, 1])
    shuffled = test.iloc[[3, 0, 2, 1]].reset_index(drop=True)
    assert test.iloc[canonical_order(test)].values.tolist() == \
        shuffled.iloc[canonical_order(shuffled)].values.tolist()


def test_predictions_come_back_in_the_row_order_of_the_loading_split(artifacts):
    test = _split(["good", "bad", "fine", "awful"], [0, 1, 0, 1])
    predicted = {"head": [0, 0, 1, 1], "tf-idf": [1, 1, 0, 0]}
    save_results("04_frozen_backbone_head", [{"approach": "head"}], split_signature(test),
                 test=test, predictions=predicted)
    reordered = test.iloc[[2, 3, 0, 1]].reset_index(drop=True)   # lesson 05 sorts by length
    found = load_predictions("04_frozen_backbone_head", reordered)
    assert found["head"].tolist() == [1, 1, 0, 0]
    assert found["tf-idf"].tolist() == [0, 0, 1, 1]
    assert load_results("04_frozen_backbone_head", split_signature(reordered)) == \
        [{"approach": "head"}]


def test_predictions_from_another_split_or_an_older_save_are_not_loaded(artifacts):
    test = _split(["good", "bad"], [0, 1])
    save_results("04_frozen_backbone_head", [], split_signature(test),
                 test=test, predictions={"head": [0, 1]})
    assert load_predictions("04_frozen_backbone_head", _split(["good", "bad"], [0, 0])) is None
    save_results("04_frozen_backbone_head", [], split_signature(test))        # rows only
    assert load_predictions("04_frozen_backbone_head", test) is None
    assert load_predictions("never_saved", test) is None


def test_saving_predictions_asks_for_their_split_and_one_label_per_text(artifacts):
    test = _split(["good", "bad"], [0, 1])
    with pytest.raises(ValueError, match="test="):
        save_results("x", [], split_signature(test), predictions={"head": [0, 1]})
    with pytest.raises(ValueError, match="one label id per text"):
        save_results("x", [], split_signature(test), test=test, predictions={"head": [0]})
    with pytest.raises(ValueError, match="signature"):
        save_results("x", [], "another-split", test=test, predictions={"head": [0, 1]})
    assert not list(artifacts.rglob("*.json"))


def test_predictions_are_saved_as_plain_integers(artifacts):
    test = _split(["good", "bad"], [0, 1])
    path = save_results("x", [], split_signature(test), test=test,
                        predictions={"head": np.array([1, 0], dtype=np.int64)})
    saved = json.loads(path.read_text())["predictions"]["head"]
    assert saved == [1, 0] and all(type(label) is int for label in saved)
