"""Result tables travel between lessons only with the split they were measured on."""

import pandas as pd

from course_utils.results import load_results, save_results, split_signature


def _split(texts, labels):
    return pd.DataFrame({"text": texts, "label_id": labels})


def test_signature_ignores_row_order_but_not_content():
    test = _split(["good", "bad", "fine"], [0, 1, 0])
    assert split_signature(test) == split_signature(test.iloc[[2, 0, 1]])
    assert split_signature(test) != split_signature(_split(["good", "bad", "fine"], [0, 1, 1]))
    assert split_signature(test) != split_signature(_split(["good", "bad"], [0, 1]))


def test_results_load_only_for_the_same_split(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    rows = [{"approach": "tf-idf", "test_accuracy": 0.76}]
    same = split_signature(_split(["a", "b", "c"], [0, 1, 0]))
    save_results("04_frozen_backbone_head", rows, same)
    assert load_results("04_frozen_backbone_head", same) == rows
    assert load_results("04_frozen_backbone_head", "another-split") is None
    assert load_results("never_saved", same) is None
    assert not list(tmp_path.rglob("*.tmp"))
