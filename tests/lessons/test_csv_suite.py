"""Lessons 04 and 05 on CSVs of different shapes: fine-tuning holds its own, and says so honestly.

For each CSV of ``course_utils/tools/csv_suite.py`` marked for ``make test``, papermill runs lesson
04 and then lesson 05 in one temporary artifact folder (so lesson 05 finds lesson 04's results for
the same split). ``csv_suite.problems`` states the criteria: the fine-tune must not be worse than
the frozen head beyond the paired noise (McNemar's exact test), both must beat the majority
class, and lesson 05's printed verdict must be the one its own numbers give. ``make csv-suite``
runs every case (one more, larger) and prints the README's table.
"""

from __future__ import annotations

import pytest

from course_utils.tools.csv_suite import CASES, lesson_parameters, problems, write_case

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("case", [case for case in CASES if case.in_make_test],
                         ids=lambda case: case.name)
def test_fine_tuning_is_not_below_the_frozen_head_beyond_the_noise(case, run_lesson, tmp_path):
    csv = write_case(case, tmp_path)
    artifacts = tmp_path / "artifacts"
    frozen = run_lesson("04", artifacts=artifacts, **lesson_parameters(case, csv, "04"))
    tuned = run_lesson("05", artifacts=artifacts, **lesson_parameters(case, csv, "05"))
    assert problems(case, frozen, tuned) == []
