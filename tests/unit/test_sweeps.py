"""Committed seed sweeps: published only from a default-parameter seed grid, and stale when a
lesson's parameters cell changes after the sweep ran."""

import json
import shutil

import nbformat
import pytest

from course_utils.tools import sweeps
from course_utils.tools.runner import NOTEBOOK_DIR, RunnerError


def _summary(**changes):
    row = {"point": "00_seed-0", "notebook": "05_fine_tuning", "parameters": {"seed": 0},
           "status": "ok", "seconds": 1.0, "peak_rss_mb": 10.0, "error": None,
           "metrics": {"acc": 0.8, "a_vs_b": "tie"}, "folder": "/tmp/where/it/ran",
           "artifacts": "/tmp/where/it/ran/artifacts", "output": "/tmp/x.ipynb"}
    summary = {"profile": "offline", "lessons": ["05_fine_tuning"], "grid": {"seed": [0, 1]},
               "parameters": {"profile": "offline"}, "small": False, "artifacts": None,
               "declared_defaults": {"05_fine_tuning": {"seed": "0", "epochs": "0.0"}},
               "points": [row, {**row, "point": "01_seed-1", "parameters": {"seed": 1}}],
               "over_seeds": [], "verdicts_over_seeds": []}
    summary.update(changes)
    return summary


def test_a_published_sweep_keeps_no_path_of_the_machine_it_ran_on():
    kept = sweeps.published_sweep(_summary(), "python -m course_utils run ...", "a CPU")
    assert "/tmp/where" not in json.dumps(kept)
    assert kept["command"] == "python -m course_utils run ..." and kept["machine"] == "a CPU"
    assert set(kept["points"][0]) == set(sweeps.KEPT_FIELDS)


@pytest.mark.parametrize("changes, words", [
    ({"grid": {"epochs": [1, 2]}}, "give --grid seed=0,1,2"),
    ({"grid": {"seed": [0]}}, "two seeds or more"),
    ({"small": True}, "drop --small"),
    ({"parameters": {"profile": "offline", "epochs": 2}}, "drop -p epochs"),
    ({"artifacts": "/somewhere"}, "would not follow the seed"),
])
def test_a_sweep_the_lessons_cannot_quote_is_not_published(changes, words):
    with pytest.raises(RunnerError, match=words):
        sweeps.published_sweep(_summary(**changes), "cmd", "cpu")


def test_a_sweep_with_a_failed_point_is_not_published():
    summary = _summary()
    summary["points"][1]["status"] = "failed"
    with pytest.raises(RunnerError, match="01_seed-1 05_fine_tuning did not finish"):
        sweeps.published_sweep(summary, "cmd", "cpu")


@pytest.mark.parametrize("name, small, parameters, artifacts, words", [
    ("../x", False, {}, None, "give a plain name"),
    ("05", True, {}, None, "drop --small"),
    ("05", False, {"epochs": 2}, None, "drop -p epochs"),
    ("05", False, {}, "dir", "select 02,04,05"),
])
def test_what_cannot_be_published_is_refused_before_the_grid_runs(name, small, parameters,
                                                                   artifacts, words):
    with pytest.raises(RunnerError, match=words):
        sweeps.check_publishable(name, small, parameters, artifacts)


def test_publish_writes_the_kept_result_under_its_name(tmp_path):
    grid_folder = tmp_path / "grid-1"
    grid_folder.mkdir()
    (grid_folder / "grid.json").write_text(json.dumps(_summary()))
    path = sweeps.publish(grid_folder, "05_fine_tuning", "cmd", "cpu", folder=tmp_path / "kept")
    assert path == tmp_path / "kept" / "05_fine_tuning.json"
    assert sweeps.committed_sweeps(tmp_path / "kept")["05_fine_tuning"]["command"] == "cmd"


def test_a_changed_default_makes_the_sweep_stale_and_the_seed_does_not(tmp_path):
    lesson = "03_your_own_data"
    shutil.copy(NOTEBOOK_DIR / f"{lesson}.ipynb", tmp_path)
    from course_utils.tools.grid import declared_defaults
    from course_utils.tools.runner import parameter_declarations

    ran_with = declared_defaults(parameter_declarations(tmp_path / f"{lesson}.ipynb"))
    sweep = {"grid": {"seed": [0, 1]}, "declared_defaults": {lesson: ran_with}}
    assert sweeps.stale_parameters(sweep, tmp_path) == []

    nb = nbformat.read(tmp_path / f"{lesson}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("seed = 0", "seed = 7")
    assert "seed = 7" in cell.source
    name, default = next((n, d) for n, d in ran_with.items() if n != "seed" and d.isdigit())
    cell.source = cell.source.replace(f"{name} = {default}", f"{name} = {int(default) + 1}", 1)
    nbformat.write(nb, tmp_path / f"{lesson}.ipynb")
    assert sweeps.stale_parameters(sweep, tmp_path) == [
        f"{lesson}: {name} = {int(default) + 1} now, the sweep ran with {default}"]
    assert "no " in sweeps.stale_parameters({**sweep, "declared_defaults": {
        "09_gone": {}}}, tmp_path)[0]


def test_each_committed_sweep_ran_the_lessons_as_they_are_now():
    committed = sweeps.committed_sweeps()
    assert "02_04_05" in committed, "lessons 02, 04 and 05 over seeds: see CONTRIBUTING.md"
    for sweep in committed.values():
        _check_committed(sweep)


def _check_committed(sweep):
    assert sweeps.stale_parameters(sweep, NOTEBOOK_DIR) == [], (
        f"Rerun it: {sweep['command']}")
    seeds = sweep["grid"]["seed"]
    assert len(seeds) >= 2 and all(row["status"] == "ok" for row in sweep["points"])
    assert {row["notebook"] for row in sweep["points"]} == set(sweep["lessons"])
    assert all(s["n"] == len(seeds) for s in sweep["over_seeds"])
