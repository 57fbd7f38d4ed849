"""Lesson 07's checks: each right answer passes, each typical mistake gets its own message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.homework import assess

TIMINGS = [0.010, 0.011, 0.012, 0.009, 0.010, 0.013, 0.011, 0.010, 0.012, 0.150]


@pytest.fixture
def table():
    return pd.DataFrame({"size_mb": [90.9, 90.9, 58.6, 91.0, 23.1],
                         "agreement": [1.0, 1.0, 0.95, 1.0, 0.985],
                         "agreement_low": [0.985, 0.999, 0.94, 0.998, 0.975]},
                        index=["one text per call", "sorted batches", "int8 weights",
                               "ONNX Runtime", "ONNX Runtime int8"])


def answer_07_1(value):
    return assess("07.1", {"p95_ms": value, "baseline_latency_seconds": TIMINGS})


def test_07_1_accepts_the_percentile_in_milliseconds():
    ms = np.array(TIMINGS) * 1000
    assert answer_07_1(float(np.percentile(ms, 95))).passed
    assert answer_07_1(float(np.sort(ms)[9])).passed            # nearest rank: the 10th of 10


@pytest.mark.parametrize("wrong,message", [
    (float(np.percentile(TIMINGS, 95)), "seconds"),
    (float(np.median(TIMINGS)) * 1000, "median"),
    (float(np.mean(TIMINGS)) * 1000, "mean"),
    (12.0, "not the 95th percentile"),
    ("fast", "should be a number"),
])
def test_07_1_names_each_mistake(wrong, message):
    verdict = answer_07_1(wrong)
    assert not verdict.passed and message in verdict.message


def test_07_2_takes_the_smallest_recipe_whose_lower_bound_passes_the_floor(table):
    answer = {"table": table, "agreement_floor": 0.98}
    assert assess("07.2", {**answer, "smallest_recipe": "sorted batches"}).passed
    assert assess("07.2", {**answer, "smallest_recipe": "one text per call"}).passed   # same file
    verdict = assess("07.2", {**answer, "smallest_recipe": "ONNX Runtime int8"})      # 0.985 point
    assert not verdict.passed and "lower bound is 97.50%" in verdict.message
    lower_floor = {"table": table, "agreement_floor": 0.97}
    assert assess("07.2", {**lower_floor, "smallest_recipe": "ONNX Runtime int8"}).passed
    higher_floor = {"table": table, "agreement_floor": 0.99}
    assert not assess("07.2", {**higher_floor, "smallest_recipe": "one text per call"}).passed
    verdict = assess("07.2", {**higher_floor, "smallest_recipe": "int8 weights"})
    assert not verdict.passed and "under the floor" in verdict.message
    verdict = assess("07.2", {**answer, "smallest_recipe": "ONNX Runtime"})
    assert not verdict.passed and "a smaller one" in verdict.message
    verdict = assess("07.2", {**answer, "smallest_recipe": "tflite"})
    assert not verdict.passed and "not a recipe" in verdict.message
    verdict = assess("07.2", {**answer, "table": table.drop(columns="agreement_low"),
                              "smallest_recipe": "sorted batches"})
    assert not verdict.passed and "agreement_low" in verdict.message
