"""Reading a committed seed sweep in a lesson: numbers and verdicts over the seeds."""

import json

import pytest

from course_utils.seeds import SweepError, committed_sweep, numbers_over_seeds, verdicts_over_seeds

SWEEP = {
    "over_seeds": [{"notebook": "05_x", "group": {}, "metric": "acc", "seeds": [0, 1, 2], "n": 3,
                    "mean": 0.8, "std": 0.01, "min": 0.79, "max": 0.81},
                   {"notebook": "04_y", "group": {}, "metric": "acc", "seeds": [0, 1, 2],
                    "n": 3, "mean": 0.7, "std": 0.02, "min": 0.68, "max": 0.72}],
    "verdicts_over_seeds": [
        {"notebook": "05_x", "group": {}, "metric": "a_vs_b", "seeds": [0, 1, 2],
         "counts": {"tie": 2, "better": 1}},
        {"notebook": "05_x", "group": {}, "metric": "c_vs_d", "seeds": [0, 1, 2],
         "counts": {"better": 3}}],
}


def test_numbers_are_those_of_the_named_lesson():
    table = numbers_over_seeds(SWEEP, "05_x", ["acc"])
    assert table.loc["acc"].to_dict() == {"seeds": 3, "mean": 0.8, "std": 0.01, "min": 0.79,
                                          "max": 0.81}


def test_a_verdict_survives_the_seeds_only_when_every_seed_gave_it():
    table = verdicts_over_seeds(SWEEP, "05_x", ["a_vs_b", "c_vs_d"])
    assert table["counts"].to_dict() == {"a_vs_b": "better 1, tie 2", "c_vs_d": "better 3"}
    assert table["same_every_seed"].to_dict() == {"a_vs_b": False, "c_vs_d": True}


def test_a_missing_number_names_what_the_sweep_has():
    with pytest.raises(SweepError, match=r"verdict \['e_vs_f'\] for 05_x; it has: a_vs_b, c_vs_d"):
        verdicts_over_seeds(SWEEP, "05_x", ["e_vs_f"])


def test_a_missing_sweep_names_the_committed_ones(tmp_path):
    (tmp_path / "02_04_05.json").write_text(json.dumps(SWEEP))
    assert committed_sweep("02_04_05", tmp_path) == SWEEP
    with pytest.raises(SweepError, match="there are: 02_04_05"):
        committed_sweep("06", tmp_path)
