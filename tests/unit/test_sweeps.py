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
    expected = {"02_04_05", "06_token_tagging", "08_few_labels"}
    assert expected <= set(committed), "see CONTRIBUTING.md"
    for sweep in committed.values():
        _check_committed(sweep)


def _check_committed(sweep):
    assert sweeps.stale_parameters(sweep, NOTEBOOK_DIR) == [], (
        f"Rerun it: {sweep['command']}")
    seeds = sweep["grid"]["seed"]
    assert len(seeds) >= 2 and all(row["status"] == "ok" for row in sweep["points"])
    assert {row["notebook"] for row in sweep["points"]} == set(sweep["lessons"])
    assert all(s["n"] == len(seeds) for s in sweep["over_seeds"])


def _published(seeds, machine="cpu", **changes):
    rows = [{"point": f"{i:02d}_seed-{s}", "notebook": "05_fine_tuning", "parameters": {"seed": s},
             "status": "ok", "seconds": 1.0, "peak_rss_mb": 10.0, "error": None,
             "metrics": {"acc": 0.7 + s / 100, "a_vs_b": "tie" if s % 2 else "better"},
             "folder": "/tmp/x", "artifacts": "/tmp/x/a", "output": "/tmp/x.ipynb"}
            for i, s in enumerate(seeds)]
    summary = _summary(grid={"seed": list(seeds)}, points=rows, **changes)
    command = f"python -m course_utils run --only 05 --grid seed={','.join(map(str, seeds))} " \
              "--publish 05_fine_tuning"
    return sweeps.published_sweep(summary, command, machine)


def test_new_seeds_join_the_committed_sweep_and_its_summaries_cover_them_all(tmp_path):
    kept = tmp_path / "kept"
    for seeds in ([1, 2], [3, 4]):
        grid_folder = tmp_path / f"grid-{seeds[0]}"
        grid_folder.mkdir()
        published = _published(seeds, machine=f"cpu {seeds[0]}")
        (grid_folder / "grid.json").write_text(json.dumps(
            {**_summary(), **published, "parameters": {"profile": "offline"}}))
        sweeps.publish(grid_folder, "05_fine_tuning", published["command"], published["machine"],
                       folder=kept)
    merged = sweeps.committed_sweeps(kept)["05_fine_tuning"]
    assert merged["grid"]["seed"] == [1, 2, 3, 4]
    assert merged["command"] == ("python -m course_utils run --only 05 --grid seed=1,2,3,4 "
                                 "--publish 05_fine_tuning")
    assert [row["parameters"]["seed"] for row in merged["points"]] == [1, 2, 3, 4]
    (acc,) = [row for row in merged["over_seeds"] if row["metric"] == "acc"]
    assert acc["n"] == 4 and acc["mean"] == pytest.approx(0.725)
    (verdict,) = merged["verdicts_over_seeds"]
    assert verdict["counts"] == {"tie": 2, "better": 2}
    assert merged["machine"] == "seeds 1, 2: cpu 1; seeds 3, 4: cpu 3"


def test_seeds_are_merged_in_numeric_order():
    merged = sweeps.merged_sweep(_published([2, 9]), _published([10, 3]))
    assert merged["grid"]["seed"] == [2, 3, 9, 10]
    assert [row["parameters"]["seed"] for row in merged["points"]] == [2, 3, 9, 10]
    assert "--grid seed=2,3,9,10 " in merged["command"]


def test_a_sweep_is_not_merged_with_repeated_seeds_or_other_defaults():
    with pytest.raises(RunnerError, match="seeds 2 are in the committed sweep"):
        sweeps.merged_sweep(_published([1, 2]), _published([2, 3]))
    other = _published([3, 4], declared_defaults={"05_fine_tuning": {"seed": "0",
                                                                     "epochs": "2.0"}})
    with pytest.raises(RunnerError, match="ran other declared_defaults"):
        sweeps.merged_sweep(_published([1, 2]), other)


def test_seeds_already_committed_are_refused_before_the_grid_runs(tmp_path):
    (tmp_path / "05_fine_tuning.json").write_text(json.dumps(_published([1, 2])))
    with pytest.raises(RunnerError, match="seeds 2 are in the committed sweep already"):
        sweeps.check_publishable("05_fine_tuning", False, {}, None, seeds=[2, 3],
                                 folder=tmp_path)
    sweeps.check_publishable("05_fine_tuning", False, {}, None, seeds=[3, 4], folder=tmp_path)
    stale = {**_published([1, 2]), "declared_defaults": {"03_your_own_data": {"max_length": "7"}}}
    (tmp_path / "03.json").write_text(json.dumps(stale))
    with pytest.raises(RunnerError, match="ran other defaults .*delete"):
        sweeps.check_publishable("03", False, {}, None, seeds=[3], folder=tmp_path,
                                 notebook_dir=NOTEBOOK_DIR)


def _shown_sweep_outputs(notebook):
    """Return the text the cells calling ``beside_sweep`` printed and displayed."""
    nb = nbformat.read(notebook, as_version=4)
    texts = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "beside_sweep(" in cell.source:
            for output in cell.get("outputs", []):
                texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.mark.parametrize("sweep_name, lesson", [("02_04_05", "04_frozen_backbone_head"),
                                               ("02_04_05", "05_fine_tuning"),
                                               ("06_token_tagging", "06_token_tagging")])
def test_a_lesson_shows_its_committed_sweep_with_every_seed(sweep_name, lesson):
    sweep = sweeps.committed_sweeps()[sweep_name]
    shown = _shown_sweep_outputs(NOTEBOOK_DIR / f"{lesson}.ipynb")
    assert shown, f"{lesson} has no executed cell that shows the sweep {sweep_name}"
    assert "other settings" not in shown, f"{lesson}'s default run does not match {sweep_name}"
    seeds = set(sweep["grid"]["seed"]) | {0}               # the committed notebook runs seed 0
    assert f"over {len(seeds)} seeds" in shown, (
        f"{lesson} shows an older {sweep_name}: re-execute it (make notebooks ONLY=...)")
    assert sweep["command"] in shown
