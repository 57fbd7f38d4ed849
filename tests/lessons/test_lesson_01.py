"""Lesson 01's default run (nbval's, in this session): its recorded numbers stay in their bands.

Bands come from the committed notebook's recorded values (in the comments). Lengths and padding
are deterministic for a fixed tokenizer and seed: the bands are tight. The speed-up is a timing:
only a floor that a regression (the slow per-example recipe everywhere) would break.
"""

import pytest

pytestmark = pytest.mark.notebook


def test_lesson_01_default_run_reports_lengths_speedup_and_padding(default_run):
    metrics = default_run("01")
    assert metrics["n_texts"] == 12808                      # recorded: 12808
    assert metrics["suggested_max_length"] == 64            # recorded: 64
    waste = metrics["padding_waste"]
    assert 0.93 <= waste["fixed_512"] <= 0.96               # recorded: 0.9473
    assert 0.47 <= waste["dynamic"] <= 0.55                 # recorded: 0.5093
    assert waste["dynamic_sorted"] <= 0.02                  # recorded: 0.0058
    # the fast batched tokenizer measured 5.2x here (6x to 9x on a quiet machine)
    assert metrics["tokenize_speedup"] >= 2.0               # recorded: 5.62
