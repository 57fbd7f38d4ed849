"""Accuracy, the most confident mistakes and the results table."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import metrics
from course_utils.metrics import accuracy, most_confident_mistakes, results_table

ID2LABEL = {0: "fresh", 1: "rotten", 2: "plot"}


def test_accuracy_counts_matches_and_rejects_mismatched_lengths():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    with pytest.raises(ValueError, match="3 true labels but 2 predictions"):
        accuracy([0, 1, 2], [0, 1])


def test_accuracy_interval_brackets_the_accuracy_and_narrows_with_more_examples():
    low, high = metrics.accuracy_interval([0, 1] * 50, [0, 1] * 40 + [1, 0] * 10)
    assert low < 0.8 < high
    assert (round(low, 4), round(high, 4)) == (0.7112, 0.8666)     # Wilson, 80 of 100
    wide = high - low
    low, high = metrics.accuracy_interval([0, 1] * 5000, [0, 1] * 4000 + [1, 0] * 1000)
    assert low < 0.8 < high and high - low < wide / 5
    with pytest.raises(ValueError, match="for the same"):
        metrics.accuracy_interval([0, 1], [0])


def test_most_confident_mistakes_are_wrong_sorted_and_named():
    texts = ["a", "b", "c", "d"]
    y_true = [0, 1, 2, 0]
    probs = np.array([[0.9, 0.05, 0.05],    # right
                      [0.7, 0.2, 0.1],      # wrong, 0.7
                      [0.05, 0.9, 0.05],    # wrong, 0.9
                      [0.2, 0.2, 0.6]])     # wrong, 0.6
    table = most_confident_mistakes(texts, y_true, probs, ID2LABEL, k=2)
    assert list(table["text"]) == ["c", "b"]
    assert list(table["true"]) == ["plot", "rotten"]
    assert list(table["predicted"]) == ["rotten", "fresh"]
    assert list(table["confidence"]) == [0.9, 0.7]


def test_most_confident_mistakes_check_shapes():
    with pytest.raises(ValueError, match="id2label names 3 labels"):
        most_confident_mistakes(["a"], [0], np.array([[0.5, 0.5]]), ID2LABEL)
    with pytest.raises(ValueError, match="shape"):
        most_confident_mistakes(["a", "b"], [0], np.array([[0.2, 0.3, 0.5]]), ID2LABEL)


def test_results_table_puts_the_best_first():
    table = results_table([{"approach": "tf-idf", "test_accuracy": 0.77},
                           {"approach": "head", "test_accuracy": 0.79}])
    assert list(table.index) == ["head", "tf-idf"]
    with pytest.raises(ValueError, match="'approach'"):
        results_table([{"test_accuracy": 0.5}])


def test_wilson_interval_of_a_value_matches_the_interval_of_its_predictions():
    y_true, y_pred = [0, 1] * 50, [0, 1] * 40 + [1, 0] * 10
    assert metrics.wilson_interval(0.8, 100) == pytest.approx(
        metrics.accuracy_interval(y_true, y_pred))
