"""Two classifiers on the same texts: McNemar's test, the paired bootstrap, agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from course_utils import metrics
from course_utils.metrics import agreement, mcnemar_verdict, paired_comparison


def predictions(n: int, a_right: np.ndarray, b_right: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return labels and two models' predictions, right exactly where the masks say."""
    y_true = np.arange(n) % 2
    return y_true, np.where(a_right, y_true, 1 - y_true), np.where(b_right, y_true, 1 - y_true)


def nested(n: int, a_count: int, b_count: int) -> tuple[np.ndarray, ...]:
    """Return a case where A is right on the first a_count texts and B on the first b_count."""
    return predictions(n, np.arange(n) < a_count, np.arange(n) < b_count)


def test_mcnemar_p_value_is_scipys_exact_test_on_the_discordant_texts():
    both, only_a, only_b, neither = 50, 10, 2, 8
    a_right = np.array([1] * both + [1] * only_a + [0] * only_b + [0] * neither, dtype=bool)
    b_right = np.array([1] * both + [0] * only_a + [1] * only_b + [0] * neither, dtype=bool)
    found = paired_comparison(*predictions(70, a_right, b_right))
    assert (found.only_a_right, found.only_b_right) == (10, 2)
    assert found.p_value == pytest.approx(binomtest(10, 12, 0.5).pvalue)
    assert found.p_value == pytest.approx(0.03857, abs=1e-5)
    assert found.verdict == "better"                                # 0.0386 < 0.05
    assert found.difference == pytest.approx(8 / 70)
    assert paired_comparison(*predictions(70, a_right, b_right), confidence=0.99).verdict == "tie"


def test_identical_predictions_are_a_tie_with_p_one_and_a_zero_interval():
    y_true = [0, 1, 1, 0, 1, 0]
    pred = [0, 1, 0, 0, 1, 1]
    found = paired_comparison(y_true, pred, pred)
    assert (found.verdict, found.p_value, found.interval) == ("tie", 1.0, (0.0, 0.0))
    assert (found.only_a_right, found.only_b_right, found.difference) == (0, 0, 0.0)
    assert found.accuracy_a == found.accuracy_b == pytest.approx(4 / 6)


def test_paired_test_finds_a_gap_that_the_unpaired_overlap_rule_calls_a_tie():
    n, a_count, b_count = 2000, 1590, 1560        # A right wherever B is, plus 30 texts
    b_low, b_high = metrics.wilson_interval(b_count / n, n)
    assert b_low <= a_count / n <= b_high          # the unpaired intervals overlap: "no gap"
    found = paired_comparison(*nested(n, a_count, b_count))
    assert (found.only_a_right, found.only_b_right) == (30, 0)
    assert found.p_value == pytest.approx(2 * 0.5 ** 30)
    assert found.verdict == "better"
    assert found.difference == pytest.approx(0.015)
    assert 0 < found.interval[0] <= found.interval[1]


def test_paired_test_says_worse_when_the_models_are_swapped():
    y_true, pred_a, pred_b = nested(2000, 1590, 1560)
    found = paired_comparison(y_true, pred_b, pred_a)
    assert (found.only_a_right, found.only_b_right) == (0, 30)
    assert found.verdict == "worse"
    assert found.difference == pytest.approx(-0.015)
    assert found.interval[0] <= found.interval[1] < 0


def test_same_accuracies_with_many_disagreements_both_ways_are_a_tie():
    n = 2000                                      # 1590 vs 1560 again, but 200 vs 170 discordant
    a_right = np.arange(n) < 1590
    b_right = (np.arange(n) < 1390) | ((np.arange(n) >= 1590) & (np.arange(n) < 1760))
    found = paired_comparison(*predictions(n, a_right, b_right))
    assert (found.accuracy_a, found.accuracy_b) == (0.795, 0.78)
    assert (found.only_a_right, found.only_b_right) == (200, 170)
    assert found.p_value == pytest.approx(binomtest(200, 370).pvalue)
    assert found.p_value > 0.05 and found.verdict == "tie"
    assert found.interval[0] < 0 < found.interval[1]


def test_bootstrap_interval_contains_the_difference_and_repeats_for_a_fixed_seed():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, 500)
    pred_a = np.where(rng.random(500) < 0.85, y_true, 1 - y_true)
    pred_b = np.where(rng.random(500) < 0.80, y_true, 1 - y_true)
    found = paired_comparison(y_true, pred_a, pred_b, seed=3)
    low, high = found.interval
    assert low < found.difference < high
    assert high - low < 0.15
    assert paired_comparison(y_true, pred_a, pred_b, seed=3).interval == found.interval
    assert paired_comparison(y_true, pred_a, pred_b, seed=4).interval != found.interval
    narrow = paired_comparison(y_true, pred_a, pred_b, seed=3, confidence=0.5).interval
    assert low < narrow[0] < narrow[1] < high


def test_sentence_gives_the_numbers_in_points_and_claims_only_the_verdict():
    better = paired_comparison(*nested(2000, 1590, 1560)).sentence("fine-tuned", "TF-IDF")
    assert better.startswith("fine-tuned 0.795 vs TF-IDF 0.780 on 2,000 texts: fine-tuned is "
                             "better (McNemar p < 0.0001; difference +1.5 points, 95% paired")
    assert better.endswith("30 texts only fine-tuned gets right, 0 only TF-IDF.")
    y_true, pred_a, pred_b = nested(2000, 1590, 1560)
    worse = paired_comparison(y_true, pred_b, pred_a).sentence("head", "fine-tuned")
    assert "head is worse than fine-tuned" in worse and "-1.5 points" in worse
    tie = paired_comparison([0, 1, 1], [0, 1, 0], [0, 0, 1]).sentence("A", "B")
    assert "no real difference (McNemar p = 1.00;" in tie and "better" not in tie


def wilson_lower_bound(successes: int, n: int, confidence: float = 0.95) -> float:
    """Return the Wilson interval's lower bound from its formula."""
    z = norm.ppf(1 - (1 - confidence) / 2)
    rate = successes / n
    centre = rate + z * z / (2 * n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def test_agreement_at_least_judges_by_the_wilson_lower_bound_not_the_rate():
    pred_fp32 = np.arange(2551) % 3
    pred_int8 = pred_fp32.copy()
    pred_int8[:21] = (pred_int8[:21] + 1) % 3                # 2530 of 2551 agree
    found = agreement(pred_int8, pred_fp32)
    assert (found.n, found.agreed) == (2551, 2530)
    assert found.rate == pytest.approx(0.9918, abs=1e-4)
    assert found.interval[0] == pytest.approx(wilson_lower_bound(2530, 2551))
    assert found.rate >= 0.99
    assert found.at_least(0.99) == (wilson_lower_bound(2530, 2551) >= 0.99)
    assert not found.at_least(0.99)                           # lower bound 0.9874
    assert found.at_least(0.98)
    pred_int8[6:21] = pred_fp32[6:21]                         # 2545 of 2551 agree
    assert agreement(pred_int8, pred_fp32).at_least(0.99)


def test_bad_input_raises_a_value_error_that_says_what_to_pass():
    with pytest.raises(ValueError, match="3 y_true, 3 pred_a, 2 pred_b: pass one label per text"):
        paired_comparison([0, 1, 1], [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="at least one"):
        paired_comparison([], [], [])
    with pytest.raises(ValueError, match=r"probs\.argmax\(axis=1\)"):
        paired_comparison([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]), [0, 1])
    with pytest.raises(ValueError, match="confidence is a fraction"):
        paired_comparison([0, 1], [0, 1], [0, 1], confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        paired_comparison([0, 1], [0, 1], [0, 1], n_boot=0)
    with pytest.raises(ValueError, match="2 pred_a, 3 pred_b"):
        agreement([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="not percentages"):
        agreement([0, 1], [0, 1]).at_least(99)


def test_mcnemar_verdict_from_counts_agrees_with_the_paired_comparison():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    for flips_a, flips_b in [(0.10, 0.20), (0.20, 0.10), (0.15, 0.16)]:
        a = np.where(rng.random(400) < flips_a, 1 - y, y)
        b = np.where(rng.random(400) < flips_b, 1 - y, y)
        paired = paired_comparison(y, a, b)
        assert mcnemar_verdict(paired.only_a_right, paired.only_b_right) == (
            paired.verdict, paired.p_value)


def test_mcnemar_verdict_is_a_tie_without_disagreement_and_checks_its_confidence():
    assert mcnemar_verdict(0, 0) == ("tie", 1.0)
    assert mcnemar_verdict(30, 5)[0] == "better" and mcnemar_verdict(5, 30)[0] == "worse"
    assert mcnemar_verdict(16, 6)[0] == "tie"                      # p = 0.052
    assert mcnemar_verdict(16, 6, confidence=0.9)[0] == "better"
    with pytest.raises(ValueError, match="confidence"):
        mcnemar_verdict(3, 4, confidence=95)
