"""The CSV suite checks lesson 05's verdict against the paired counts the lesson recorded."""

from course_utils.tools.csv_suite import verdict_problems


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
