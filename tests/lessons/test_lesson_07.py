"""Lesson 07: the default run's bands (nbval's run, in this session), and a papermill run without
lesson 05's classifier, on few texts, which must fine-tune a stand-in and say so.

The bands test the lesson's rule, not a recipe: whatever it serves on this machine must keep
the fp32 model's labels (agreement's 95% lower bound at least 99% on the whole test split; the
reference itself counts 1), must not be worse than fp32 by the paired test, and its recorded
speed-up must be the table's. Speeds depend on the machine and its load: on a contended CPU one
text per call collapses and speed-ups grow, so speed bands only catch a broken recipe.
"""

import pytest

pytestmark = pytest.mark.notebook

TEST_SPLIT = 2551        # the offline profile's test texts (lesson 05's split, seed 0)


def _check_the_rule(metrics):
    served = metrics["served_recipe"]
    assert metrics["agreement_lows"][served] == metrics["serving_agreement_low"] >= 0.99
    assert metrics["serving_accuracy_vs_fp32"] in ("tie", "better")
    assert metrics["speedups"][served] == pytest.approx(metrics["serving_speedup"], abs=0.01)
    assert metrics["fastest_speedup"] == pytest.approx(max(metrics["speedups"].values()), abs=0.01)
    assert metrics["speedups"]["one text per call"] == pytest.approx(1.0)
    # the machine is recorded with its numbers
    assert metrics["cpu_model"] and metrics["cpu_features"]["avx2"] in (True, False)
    assert metrics["cpu_bf16_units"] in (0, 1) and metrics["cpu_int8_units"] in (0, 1)


def test_lesson_07_default_run_serves_by_its_rule(default_run):
    metrics = default_run("07")
    _check_the_rule(metrics)
    assert metrics["serving_speedup"] >= 1.5                     # batching alone gives more
    assert metrics["fastest_speedup"] >= metrics["serving_speedup"]
    if metrics["from_lesson_05"]:
        # nbval's kernels share one temporary folder: lesson 07 found lesson 05's classifier,
        # and measured its fp32 accuracy on lesson 05's whole test split (0.8173 there)
        assert 0.79 <= metrics["fp32_accuracy"] <= 0.85
        assert abs(metrics["serving_accuracy"] - metrics["fp32_accuracy"]) <= 0.01
    else:
        assert 0.55 <= metrics["fp32_accuracy"] <= 0.85         # a stand-in on 400 texts
    assert metrics["run_seconds"] > 0


@pytest.mark.more
def test_lesson_07_fine_tunes_a_stand_in_without_lesson_05(run_lesson):
    metrics = run_lesson("07", serving_texts=32, latency_calls=4, accuracy_texts=100, repeats=3,
                         calibration_texts=32, drift_texts=16, fallback_examples=96)
    assert metrics["from_lesson_05"] == 0
    _check_the_rule(metrics)
    assert 0.45 <= metrics["fp32_accuracy"] <= 0.85
