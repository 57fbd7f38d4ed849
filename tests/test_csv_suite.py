"""Lessons 04 and 05 on CSVs of different shapes: fine-tuning holds its own, and says so honestly.

For each CSV of ``tests/csv_suite.py``, papermill runs lesson 04 and then lesson 05 in one
temporary artifact folder (so lesson 05 finds lesson 04's results for the same split). On every
CSV the fine-tune must not fall below the frozen head by more than the half-width of the frozen
head's 95% interval, both must beat the majority class, and lesson 05's printed verdict must be
the one its own numbers give. The README's table of the suite comes from
``tests/csv_suite.py`` (``make csv-suite``).
"""

from __future__ import annotations

import pytest
from csv_suite import CASES, lesson_parameters, write_case

from course_utils.metrics import compare, wilson_interval

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_fine_tuning_is_not_below_the_frozen_head_beyond_the_noise(case, run_lesson, tmp_path):
    csv = write_case(case, tmp_path)
    artifacts = tmp_path / "artifacts"
    frozen = run_lesson("04", artifacts=artifacts, **lesson_parameters(case, csv, "04"))
    tuned = run_lesson("05", artifacts=artifacts, **lesson_parameters(case, csv, "05"))

    n_test = tuned["n_test"]
    assert tuned["frozen_head_accuracy"] == frozen["frozen_head_accuracy"]   # 05 read 04's result
    low, high = wilson_interval(frozen["frozen_head_accuracy"], n_test)
    half_width = (high - low) / 2
    assert tuned["finetune_accuracy"] >= frozen["frozen_head_accuracy"] - half_width, (
        f"{case.name}: fine-tuned {tuned['finetune_accuracy']:.3f} < frozen head "
        f"{frozen['frozen_head_accuracy']:.3f} - {half_width:.3f}")
    for name, accuracy in [("fine-tuned", tuned["finetune_accuracy"]),
                           ("frozen head", frozen["frozen_head_accuracy"])]:
        assert accuracy > tuned["majority_accuracy"], (
            f"{case.name}: {name} {accuracy:.3f} does not beat the majority class "
            f"{tuned['majority_accuracy']:.3f}")
    assert tuned["finetune_vs_frozen"] == compare(tuned["finetune_accuracy"],
                                                  frozen["frozen_head_accuracy"], n_test)
