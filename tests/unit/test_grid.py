"""The runner's parameter grid: points, their own artifacts, the summary over seeds, failures."""

import json

import nbformat
import pytest
from markdown_tables import table_rows
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.tools import grid
from course_utils.tools.cli import main
from course_utils.tools.runner import RunnerError

SEEDED = """\
import os
from pathlib import Path
from course_utils import record
artifacts = Path(os.environ['COURSE_ARTIFACTS'])
(artifacts / f'point-{seed}-{scale}.txt').write_text('mine')
record('artifacts', str(artifacts))
record('files', ','.join(sorted(p.name for p in artifacts.iterdir())))
record('score', seed * scale + 0.5)
record('kind', 'tiny')
if seed * scale == 4:
    raise ValueError('seed 2 at scale 2 diverged')"""

READER = """\
import os
from pathlib import Path
from course_utils import record
shared = Path(os.environ['COURSE_ARTIFACTS']) / 'shared.txt'
record('found', shared.read_text())
shared.write_text(f'clobbered by seed {seed}')"""


def _write_notebook(path, source, parameters="profile = 'offline'\nseed = 0\nscale = 1"):
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]}), new_code_cell(source)]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def lessons(tmp_path_factory):
    """A lesson that records its seed's score (failing at seed 2, scale 2) and a reader."""
    folder = tmp_path_factory.mktemp("course") / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_seeded.ipynb", SEEDED)
    _write_notebook(folder / "02_reader.ipynb", READER)
    return folder


def _grid_run(lessons, out, *extra):
    """Run 01 over seed 0,1,2 x scale 1,2 through the CLI; return (exit status, grid folder)."""
    status = main(["run", "--only", "01", "--grid", "seed=0,1,2", "--grid", "scale=1,2",
                   "--notebooks", str(lessons), "--out", str(out), "--no-progress", *extra])
    (folder,) = out.glob("grid-*")
    return status, folder


@pytest.fixture(scope="module")
def one_worker(lessons, tmp_path_factory):
    """The grid run point after point (--workers 1)."""
    return _grid_run(lessons, tmp_path_factory.mktemp("one"), "--workers", "1")


def _comparable(folder):
    """Return grid.json without timings and with the grid's own folder written GRID."""
    summary = json.loads((folder / "grid.json").read_text().replace(str(folder), "GRID"))
    for row in summary["points"]:
        del row["seconds"], row["peak_rss_mb"]
    return summary


def test_grid_values_are_read_like_p_values():
    assert grid.parse_grid(["seed=0,1,2", "lr=5e-5, 1e-4", "source=hamlet,my.txt"]) == {
        "seed": [0, 1, 2], "lr": [5e-5, 1e-4], "source": ["hamlet", "my.txt"]}


def test_the_product_of_two_keys_gives_every_point_first_key_slowest():
    points = grid.grid_points({"seed": [0, 1], "epochs": [1, 1.5]})
    assert points == [{"seed": 0, "epochs": 1}, {"seed": 0, "epochs": 1.5},
                      {"seed": 1, "epochs": 1}, {"seed": 1, "epochs": 1.5}]
    assert grid.point_name(3, points[3]) == "03_seed-1_epochs-1.5"


@pytest.mark.parametrize("texts, words", [
    (["seed"], "expected key=value1,value2"),
    (["seed="], "has an empty value"),
    (["seed=0,,1"], "has an empty value"),
    (["seed=0,1", "seed=2"], "given twice: list all its values in one"),
    (["seed=0,1,0"], "lists a value twice"),
])
def test_a_malformed_grid_says_how_to_write_it(texts, words):
    with pytest.raises(RunnerError, match=words):
        grid.parse_grid(texts)


@pytest.mark.parametrize("arguments, words", [
    (["--grid", "epochs=1,2"], "does not declare parameter(s) ['epochs']"),
    (["--grid", "seed=0,1", "-p", "seed=3"], "seed given by both --grid and -p: keep one"),
    (["--grid", "seed=0,1", "--workers", "2", "--scheduler", "tcp://x:1"], "give one of them"),
    (["--grid", "seed=0,1", "--workers", "0"], "give 1 or more points"),
    (["--grid", "seed=0,1", "--artifacts", "nowhere"], "nowhere: no such folder"),
    (["--workers", "2"], "--workers run(s) the points of a grid: add one"),
])
def test_bad_grid_input_is_refused_before_anything_runs(lessons, tmp_path, capsys, arguments,
                                                        words):
    out = tmp_path / "runs"
    assert main(["run", "--only", "01", "--notebooks", str(lessons), "--out", str(out),
                 "--no-progress", *arguments]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


def test_the_spread_is_taken_over_seeds_of_finished_points_per_other_key():
    def row(seed, scale, score, status="ok"):
        return {"notebook": "05_x", "parameters": {"seed": seed, "scale": scale},
                "status": status, "metrics": {"score": score, "kind": "tiny",
                                              "f1": {"macro": score / 2}}}

    rows = [row(0, 1, 1.0), row(1, 1, 3.0), row(0, 2, 7.0), row(1, 2, 9.0, "failed")]
    summary = {(s["group"]["scale"], s["metric"]): s for s in grid.over_seeds(rows)}
    assert set(summary) == {(1, "score"), (1, "f1.macro"), (2, "score"), (2, "f1.macro")}
    assert summary[1, "score"] == {"notebook": "05_x", "group": {"scale": 1},
                                       "metric": "score", "seeds": [0, 1], "n": 2, "mean": 2.0,
                                       "std": pytest.approx(2 ** 0.5), "min": 1.0, "max": 3.0}
    assert summary[2, "score"]["n"] == 1 and summary[2, "score"]["std"] is None
    assert grid.over_seeds([{**rows[0], "parameters": {"scale": 1}}]) == []


def test_verdicts_are_counted_over_seeds_of_finished_points_per_other_key():
    def row(seed, scale, verdict, status="ok"):
        return {"point": f"p{seed}{scale}", "notebook": "05_x", "seconds": 1.0, "error": None,
                "parameters": {"seed": seed, "scale": scale}, "status": status,
                "metrics": {"score": 0.5, "a_vs_b": verdict}}

    rows = [row(0, 1, "tie"), row(1, 1, "better"), row(2, 1, "tie"), row(0, 2, "worse"),
            row(1, 2, "better", "failed")]
    counted = {v["group"]["scale"]: v for v in grid.verdicts_over_seeds(rows)}
    assert counted[1] == {"notebook": "05_x", "group": {"scale": 1}, "metric": "a_vs_b",
                          "seeds": [0, 1, 2], "counts": {"tie": 2, "better": 1}}
    assert counted[2]["counts"] == {"worse": 1}            # the failed point is not counted
    assert grid.verdicts_over_seeds([{**rows[0], "parameters": {"scale": 1}}]) == []
    text = grid.grid_markdown(rows[:3], ["seed", "scale"], "offline")
    assert "## Verdicts over the seeds" in text and "better 1, tie 2" in text


def test_a_lesson_reading_unrun_lessons_gets_a_note_naming_them(tmp_path):
    for name in ("02_mlm", "04_head", "05_fine"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    note = grid.dependency_note([tmp_path / "05_fine.ipynb"], None)
    assert "lesson 05 reads the artifacts of lesson(s) 02, 04" in note
    assert "--only 02,04), then add --artifacts DIR" in note
    assert grid.dependency_note([tmp_path / "05_fine.ipynb"], tmp_path) is None
    chosen = [tmp_path / f"{n}.ipynb" for n in ("02_mlm", "04_head", "05_fine")]
    assert grid.dependency_note(chosen, None) is None
    # lesson 07 reads lesson 05's model, which reads lessons 02 and 04: all three are named
    note = grid.dependency_note([tmp_path / "07_serve.ipynb"], None)
    assert "lesson 07 reads the artifacts of lesson(s) 02, 04, 05" in note
    assert "--only 02,04,05)" in note


@pytest.mark.notebook
def test_each_point_runs_in_its_own_absolute_artifacts_folder(one_worker):
    _, folder = one_worker
    rows = json.loads((folder / "grid.json").read_text())["points"]
    assert [row["point"] for row in rows] == [
        "00_seed-0_scale-1", "01_seed-0_scale-2", "02_seed-1_scale-1", "03_seed-1_scale-2",
        "04_seed-2_scale-1", "05_seed-2_scale-2"]
    for row in rows:
        seed, scale = row["parameters"]["seed"], row["parameters"]["scale"]
        assert row["metrics"]["artifacts"] == row["artifacts"] == str(
            folder / row["point"] / "artifacts")
        assert row["metrics"]["files"] == f"point-{seed}-{scale}.txt"   # nobody else's
        assert (folder / row["point"] / "01_seeded.ipynb").is_file()


@pytest.mark.notebook
def test_the_summary_has_a_row_per_point_and_the_spread_over_seeds(one_worker):
    _, folder = one_worker
    summary = json.loads((folder / "grid.json").read_text())
    assert summary["grid"] == {"seed": [0, 1, 2], "scale": [1, 2]}
    assert [row["metrics"]["score"] for row in summary["points"]] == [
        0.5, 0.5, 1.5, 2.5, 2.5, 4.5]
    spread = {s["group"]["scale"]: s for s in summary["over_seeds"] if s["metric"] == "score"}
    assert (spread[1]["seeds"], spread[1]["mean"], spread[1]["std"]) == ([0, 1, 2], 1.5, 1.0)
    assert spread[2]["seeds"] == [0, 1]   # seed 2 failed: its score is not averaged
    assert (spread[2]["mean"], spread[2]["min"], spread[2]["max"]) == (1.5, 0.5, 2.5)
    assert spread[2]["std"] == pytest.approx(2 ** 0.5)
    rows = table_rows((folder / "grid.md").read_text())
    assert ["point", "notebook", "seed", "scale", "status", "seconds", "artifacts", "files",
            "score", "kind", "error"] in rows
    assert ["02_seed-1_scale-1", "01_seeded", "1", "1", "ok"] in [row[:5] for row in rows]
    assert ["01_seeded", "1", "score", "0,1,2", "3", "1.5", "1", "0.5–2.5"] in rows
    assert ["01_seeded", "2", "score", "0,1", "2", "1.5", "1.41421", "0.5–2.5"] in rows


@pytest.mark.notebook
def test_a_failing_point_is_its_row_and_the_others_finish(one_worker):
    status, folder = one_worker
    assert status == 1
    rows = json.loads((folder / "grid.json").read_text())["points"]
    assert [row["status"] for row in rows] == ["ok"] * 5 + ["failed"]
    assert "ValueError: seed 2 at scale 2 diverged" in rows[-1]["error"]
    rows = table_rows((folder / "grid.md").read_text())
    assert ["05_seed-2_scale-2", "01_seeded", "2", "2", "failed"] in [row[:5] for row in rows]


@pytest.mark.notebook
def test_two_workers_give_the_same_summary_as_one(lessons, one_worker, tmp_path):
    status, folder = _grid_run(lessons, tmp_path, "--workers", "2")
    assert status == one_worker[0]
    assert _comparable(folder) == _comparable(one_worker[1])


@pytest.mark.notebook
def test_a_dask_cluster_gives_the_same_summary_as_one_worker(lessons, one_worker, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=True, dashboard_address=":0") as cluster:
        status, folder = _grid_run(lessons, tmp_path, "--scheduler", cluster.scheduler_address)
    assert status == one_worker[0]
    assert _comparable(folder) == _comparable(one_worker[1])


@pytest.mark.notebook
def test_a_shared_artifact_root_is_copied_into_each_point(lessons, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "shared.txt").write_text("from lesson 01")
    run = grid.run_grid({"seed": [0, 1]}, only=["02"], out=tmp_path / "runs",
                        artifacts=shared, notebook_dir=lessons, workers=2, progress=False)
    assert [row["metrics"]["found"] for row in run.rows] == ["from lesson 01"] * 2
    for row in run.rows:
        seed = row["parameters"]["seed"]
        assert (run.folder / row["point"] / "artifacts" / "shared.txt").read_text() == \
            f"clobbered by seed {seed}"
    assert (shared / "shared.txt").read_text() == "from lesson 01"


@pytest.mark.notebook
def test_a_published_seed_sweep_keeps_the_command_that_reruns_it(lessons, tmp_path,
                                                                monkeypatch, capsys):
    from course_utils.tools import sweeps

    monkeypatch.setattr(sweeps, "SWEEP_DIR", tmp_path / "kept")
    arguments = ["run", "--only", "01", "--grid", "seed=0,1", "--notebooks", str(lessons),
                 "--out", str(tmp_path / "runs"), "--no-progress"]
    assert main([*arguments, "--publish", "demo", "--small"]) == 2       # refused up front
    assert "drop --small" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main([*arguments, "--publish", "demo"]) == 0
    kept = sweeps.committed_sweeps(tmp_path / "kept")["demo"]
    assert kept["command"] == "python -m course_utils run --only 01 --grid seed=0,1 --publish demo"
    assert kept["declared_defaults"] == {"01_seeded": {"profile": "'offline'", "seed": "0",
                                                       "scale": "1"}}
    assert [row["metrics"]["score"] for row in kept["points"]] == [0.5, 1.5]
    (kind,) = [v for v in kept["verdicts_over_seeds"] if v["metric"] == "kind"]
    assert kind["counts"] == {"tiny": 2}
    assert sweeps.stale_parameters(kept, lessons) == []
