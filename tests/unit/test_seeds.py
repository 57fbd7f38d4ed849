"""Reading a committed seed sweep in a lesson: numbers and verdicts over the seeds."""

import json

import pytest

from course_utils.seeds import (
    SweepError,
    beside_sweep,
    committed_sweep,
    differences_from_sweep,
    with_this_run,
)

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
    "declared_defaults": {"05_x": {"seed": "0", "data_path": '""', "examples": "800"}},
    "points": [{"notebook": "05_x", "parameters": {"seed": s}, "status": status,
                "metrics": {"acc": acc, "a_vs_b": verdict}}
               for s, status, acc, verdict in [(2, "ok", 0.81, "tie"), (1, "ok", 0.79, "better"),
                                               (0, "ok", 0.5, "worse"), (3, "failed", 0.1, "x")]]
               + [{"notebook": "04_y", "parameters": {"seed": 1}, "status": "ok",
                   "metrics": {"acc": 0.2, "a_vs_b": "worse"}}],
}


def test_a_missing_sweep_names_the_committed_ones(tmp_path):
    (tmp_path / "02_04_05.json").write_text(json.dumps(SWEEP))
    assert committed_sweep("02_04_05", tmp_path) == SWEEP
    with pytest.raises(SweepError, match="there are: 02_04_05"):
        committed_sweep("06", tmp_path)


def test_this_run_stands_for_its_seed_beside_the_other_seeds_of_the_lesson():
    table = with_this_run(SWEEP, "05_x", {"acc": 0.80, "a_vs_b": "tie"}, seed=0)
    assert list(table.columns) == ["seed 0 (this run)", "seed 1", "seed 2", "over 3 seeds"]
    assert table.loc["acc", "seed 1"] == 0.79 and table.loc["acc", "seed 2"] == 0.81
    assert table.loc["acc", "over 3 seeds"] == "mean 0.8000, std 0.0100, 0.7900 to 0.8100"
    assert table.loc["a_vs_b", "over 3 seeds"] == "tie 2, better 1: changes with the seed"
    other = with_this_run(SWEEP, "05_x", {"a_vs_b": "tie"}, seed=1)   # seed 1 of the sweep left out
    assert list(other.columns) == ["seed 1 (this run)", "seed 0", "seed 2", "over 3 seeds"]
    assert other.loc["a_vs_b", "over 3 seeds"] == "tie 2, worse 1: changes with the seed"
    agreeing = {**SWEEP, "points": SWEEP["points"][:1]}
    same = with_this_run(agreeing, "05_x", {"a_vs_b": "tie"}, seed=0)
    assert same.loc["a_vs_b", "over 2 seeds"] == "tie 2: the same at every seed"


def test_a_metric_the_sweep_did_not_record_is_named():
    with pytest.raises(SweepError, match=r"no 'loss' for 05_x at seeds \[1, 2\]"):
        with_this_run(SWEEP, "05_x", {"loss": 0.3}, seed=0)


def test_differences_name_the_settings_the_sweep_ran_otherwise():
    assert differences_from_sweep(SWEEP, "05_x", {"data_path": "", "examples": 800}) == {}
    assert differences_from_sweep(SWEEP, "05_x", {"data_path": "my.csv", "examples": 800}) == {
        "data_path": ("my.csv", "")}
    with pytest.raises(SweepError, match=r"declared no parameter \['epochs'\]"):
        differences_from_sweep(SWEEP, "05_x", {"epochs": 2})
    with pytest.raises(SweepError, match="did not run 06_z"):
        differences_from_sweep(SWEEP, "06_z", {})


def test_a_metric_recorded_as_a_dict_is_named_by_its_key():
    sweep = {**SWEEP, "points": [{"notebook": "05_x", "parameters": {"seed": 1}, "status": "ok",
                                  "metrics": {"scheme": {"verdict": "tie", "only_a": 3}}}]}
    table = with_this_run(sweep, "05_x", {"scheme.verdict": "better"}, seed=0)
    assert table.loc["scheme.verdict", "seed 1"] == "tie"
    assert table.loc["scheme.verdict", "over 2 seeds"] == "better 1, tie 1: changes with the seed"


def test_beside_sweep_shows_the_table_only_for_the_sweeps_settings(tmp_path, capsys):
    sweep = {**SWEEP, "command": "python -m course_utils run"}
    (tmp_path / "05.json").write_text(json.dumps(sweep))
    table = beside_sweep("05", "05_x", {"acc": 0.8}, seed=0, parameters={"data_path": ""},
                         folder=tmp_path)
    assert table.loc["acc", "seed 1"] == 0.79
    assert "the sweep: python -m course_utils run" in capsys.readouterr().out
    assert beside_sweep("05", "05_x", {"acc": 0.8}, seed=0, parameters={"data_path": "my.csv"},
                        folder=tmp_path) is None
    assert "data_path 'my.csv' here, '' there" in capsys.readouterr().out
