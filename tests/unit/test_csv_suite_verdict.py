"""The CSV suite checks lesson 05's verdict against the paired counts the lesson recorded."""

import numpy as np

from course_utils.metrics import paired_comparison
from course_utils.tools.csv_suite import paired_verdict, verdict_problems


def test_paired_verdict_agrees_with_the_metrics_paired_comparison():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    for flips_a, flips_b in [(0.10, 0.20), (0.20, 0.10), (0.15, 0.16)]:
        a = np.where(rng.random(400) < flips_a, 1 - y, y)
        b = np.where(rng.random(400) < flips_b, 1 - y, y)
        paired = paired_comparison(y, a, b)
        assert paired_verdict(paired.only_a_right, paired.only_b_right) == paired.verdict


def test_paired_verdict_is_a_tie_without_disagreement():
    assert paired_verdict(0, 0) == "tie"
    assert paired_verdict(30, 5) == "better" and paired_verdict(5, 30) == "worse"


def test_a_verdict_that_its_counts_do_not_give_is_reported():
    counts = {"only_finetuned_right": 30, "only_frozen_right": 5}
    ok = {"finetune_vs_frozen": "better", "finetune_vs_frozen_counts": counts}
    assert verdict_problems(ok, 1000, 0.825, 0.800) == []
    wrong = {**ok, "finetune_vs_frozen": "tie"}
    assert verdict_problems(wrong, 1000, 0.825, 0.800) == [
        "lesson 05 printed 'tie', its numbers say 'better'"]


def test_counts_that_do_not_give_the_accuracies_or_no_counts_are_reported():
    counts = {"only_finetuned_right": 30, "only_frozen_right": 5}
    mismatch = verdict_problems({"finetune_vs_frozen": "better",
                                 "finetune_vs_frozen_counts": counts}, 1000, 0.900, 0.800)
    assert len(mismatch) == 1 and "do not give its accuracies" in mismatch[0]
    assert verdict_problems({"finetune_vs_frozen": "tie"}, 1000, 0.8, 0.8) == [
        "lesson 05 recorded no paired counts (printed 'tie')"]
