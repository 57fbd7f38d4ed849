"""The batch runner: selection, parameters, paths, failures and the summary it writes."""

import json

import nbformat
import pytest
from markdown_tables import table_rows
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.tools import runner
from course_utils.tools.cli import main
from course_utils.tools.lessons import NotebookError


def _write_notebook(path, *sources, parameters="profile = 'offline'\nseed = 0"):
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def tiny_lessons(tmp_path):
    """A folder with a passing lesson that records a metric and a failing one."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_ok.ipynb",
                    "from course_utils import record\nrecord('answer', 40 + seed)",
                    "# the slow part\nimport time\ntime.sleep(0.5)")
    _write_notebook(folder / "02_broken.ipynb", "x = 1", "raise ValueError('bad data')")
    _write_notebook(folder / "03_after.ipynb",
                    "from course_utils import record\nrecord('ran', True)")
    return folder


def test_parse_parameter_reads_literals_and_strings():
    assert runner.parse_parameter("epochs=3") == ("epochs", 3)
    assert runner.parse_parameter("lr=5e-5") == ("lr", 5e-5)
    assert runner.parse_parameter("data_path=my reviews.csv") == ("data_path", "my reviews.csv")
    assert runner.parse_parameter("classes=['a', 'b']") == ("classes", ["a", "b"])


@pytest.mark.parametrize("text", ["epochs", "=3", "two words=1"])
def test_malformed_parameter_says_the_expected_form(text):
    with pytest.raises(runner.RunnerError, match="expected key=value"):
        runner.parse_parameter(text)


def test_unknown_selector_lists_the_notebooks(tiny_lessons):
    with pytest.raises(NotebookError, match="01_ok, 02_broken, 03_after"):
        runner.select_notebooks(["07"], tiny_lessons)


def test_selectors_match_numbers_and_names(tiny_lessons):
    chosen = runner.select_notebooks(["03", "01_ok"], tiny_lessons)
    assert [p.stem for p in chosen] == ["01_ok", "03_after"]


def test_undeclared_parameter_is_an_error_before_anything_runs(tiny_lessons, tmp_path):
    with pytest.raises(runner.RunnerError, match="does not declare parameter.*epochs"):
        runner.run_lessons(only=["01"], parameters={"epochs": 2}, out=tmp_path / "runs",
                           notebook_dir=tiny_lessons, progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.kernel
def test_batch_goes_on_past_a_failure_and_writes_the_summary(tiny_lessons, tmp_path):
    run = runner.run_lessons(parameters={"seed": 2}, out=tmp_path / "runs",
                             notebook_dir=tiny_lessons, progress=False)
    assert [r.status for r in run.results] == ["ok", "failed", "ok"]
    assert run.folder.parent == tmp_path / "runs"
    assert run.folder == (tmp_path / "runs" / "latest").resolve()
    assert sorted(p.name for p in run.folder.iterdir()) == [
        "01_ok.ipynb", "02_broken.ipynb", "03_after.ipynb", "summary.json", "summary.md"]
    summary = json.loads((run.folder / "summary.json").read_text())
    first, broken, last = summary["notebooks"]
    assert first["metrics"] == {"answer": 42}
    assert last["metrics"] == {"ran": True}
    assert "ValueError: bad data" in broken["error"]
    assert "starting \"raise ValueError('bad data')\"" in broken["error"]
    for entry in summary["notebooks"]:
        assert set(entry) >= {"name", "status", "seconds", "peak_rss_mb", "error", "metrics"}
        assert entry["peak_rss_mb"] > 10  # a kernel was measured
    markdown = (tmp_path / "runs" / "latest" / "summary.md").read_text()
    assert ["02_broken", "failed"] in [row[:2] for row in table_rows(markdown)]
    assert "`answer`: 42" in markdown
    slowest = first["slowest_cells"][0]              # where a lesson's time went, from papermill
    assert (slowest["cell"], slowest["starts"]) == (2, "import time")
    assert slowest["seconds"] >= 0.5
    assert ["01_ok", "2"] in [row[:2] for row in table_rows(markdown.split("Where the time")[1])]


@pytest.mark.kernel
def test_cli_exits_non_zero_and_names_the_failing_notebook(tiny_lessons, tmp_path, capsys):
    status = main(["run", "--only", "02", "--out", str(tmp_path / "runs"), "--no-progress",
                   "--notebooks", str(tiny_lessons)])
    assert status == 1
    out, err = capsys.readouterr()
    assert "FAILED 02_broken" in err
    (folder,) = (tmp_path / "runs").glob("2*")
    assert f"Summary: {folder / 'summary.md'}" in out


def test_cli_reports_bad_input_with_exit_status_2(capsys):
    assert main(["run", "--only", "99", "--no-progress"]) == 2
    assert "No notebook matches '99'" in capsys.readouterr().err
    assert main(["run", "-p", "oops", "--no-progress"]) == 2
    assert main(["assets", "fetch", "imdb"]) == 2
    assert "Known assets" in capsys.readouterr().err


@pytest.mark.kernel
def test_batch_kernels_redraw_progress_bars_rarely(tmp_path):
    """A loop's bar in a batch run stores a handful of lines, not one per step."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_bar.ipynb",
                    "import time\nfrom tqdm import tqdm\n"
                    "for _ in tqdm(range(40)):\n    time.sleep(0.02)")
    result = runner.run_notebook(folder / "01_bar.ipynb", tmp_path / "out.ipynb", {},
                                 progress=False)
    assert result.status == "ok"
    stored = "".join(output.get("text", "") for output in
                     nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[-1].outputs)
    assert "40/40" in stored                       # the bar still reports its end
    assert stored.count("it/s]") <= 3              # not one redraw per step
    assert "TQDM_MININTERVAL" not in __import__("os").environ   # the runner restored it


@pytest.fixture
def data_lesson(tmp_path):
    """A lesson that reads the CSV named by ``data_path`` and records its first line."""
    folder = tmp_path / "course" / "notebooks"
    folder.mkdir(parents=True)
    _write_notebook(folder / "03_data.ipynb",
                    "from pathlib import Path\nfrom course_utils import record\n"
                    "header = Path(data_path).read_text().split()[0] if data_path else ''\n"
                    "record('header', header)\n"
                    "record('data_path', data_path)",
                    parameters="profile = 'offline'\ndata_path = ''  # a CSV file\n"
                               "text_source = ''  # a name, or a .txt path\n"
                               "save_dir = ''  # where to save")
    return folder


def test_path_parameters_are_found_by_suffix_or_comment(data_lesson):
    declared = runner.parameter_declarations(data_lesson / "03_data.ipynb")
    assert runner.path_parameters(declared) == {"data_path", "text_source", "save_dir"}


def test_path_values_are_made_absolute_against_the_callers_folder(tmp_path):
    (tmp_path / "my.csv").write_text("text,label\n")
    (tmp_path / "lines.txt").write_text("to be\n")
    names = {"data_path", "text_source", "save_dir"}
    resolved = runner.resolve_path_parameters(
        {"data_path": "my.csv", "text_source": "lines.txt", "save_dir": "out/model", "seed": 1},
        names, tmp_path)
    assert resolved == {"data_path": str(tmp_path / "my.csv"),
                        "text_source": str(tmp_path / "lines.txt"),
                        "save_dir": str(tmp_path / "out" / "model"), "seed": 1}
    kept = {"data_path": "", "text_source": "hamlet", "save_dir": ""}  # defaults and names
    assert runner.resolve_path_parameters(kept, names, tmp_path) == kept
    absolute = {"data_path": str(tmp_path / "my.csv")}
    assert runner.resolve_path_parameters(absolute, names, tmp_path / "elsewhere") == absolute


@pytest.mark.parametrize("parameters, words", [
    ({"data_path": "missing.csv"}, "data_path=missing.csv: no file at {cwd}/missing.csv"),
    ({"text_source": "lines/missing.txt"}, "no file at {cwd}/lines/missing.txt"),
    ({"data_path": "."}, "is a folder; data_path names a file"),
    ({"save_dir": "my.csv"}, "is a file; save_dir names a folder"),
])
def test_a_wrong_path_is_refused_with_the_absolute_path_tried(tmp_path, parameters, words):
    (tmp_path / "my.csv").write_text("text,label\n")
    with pytest.raises(runner.RunnerError) as refused:
        runner.resolve_path_parameters(parameters, {"data_path", "text_source", "save_dir"},
                                       tmp_path)
    assert words.format(cwd=tmp_path) in str(refused.value)


def test_a_missing_file_stops_the_run_before_any_kernel_starts(data_lesson, tmp_path,
                                                               monkeypatch):
    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "execute", no_kernel)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runner.RunnerError, match=f"no file at {tmp_path}/my.csv"):
        runner.run_lessons(parameters={"data_path": "my.csv"}, out=tmp_path / "runs",
                           notebook_dir=data_lesson, progress=False)
    assert not (tmp_path / "runs").exists()
    assert main(["run", "-p", "data_path=my.csv", "--notebooks", str(data_lesson),
                 "--out", str(tmp_path / "runs"), "--no-progress"]) == 2


@pytest.mark.kernel
def test_a_csv_in_the_users_folder_reaches_the_lesson(data_lesson, tmp_path, monkeypatch, capsys):
    """``python -m course_utils run -p data_path=my.csv`` from the folder holding my.csv."""
    (tmp_path / "my.csv").write_text("text,label\ngood,1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--only", "03", "-p", "data_path=my.csv", "--notebooks",
                 str(data_lesson), "--out", "runs", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "runs" / "latest" / "summary.json").read_text())
    assert summary["parameters"]["data_path"] == str(tmp_path / "my.csv")
    assert summary["notebooks"][0]["metrics"] == {"header": "text,label",
                                                  "data_path": str(tmp_path / "my.csv")}


@pytest.mark.kernel
def test_refreshing_a_lesson_keeps_outputs_and_drops_run_metadata(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_ok.ipynb", "print(6 * 7)")
    _write_notebook(folder / "02_broken.ipynb", "raise ValueError('bad')")
    before = (folder / "02_broken.ipynb").read_text()
    ok, broken = runner.refresh_notebooks(progress=False, notebook_dir=folder)
    assert (ok.status, broken.status) == ("ok", "failed")
    refreshed = nbformat.read(folder / "01_ok.ipynb", as_version=4)
    assert refreshed.cells[-1].outputs[0].text == "42\n"
    assert "papermill" not in refreshed.metadata
    assert not any({"papermill", "execution"} & set(c.metadata) for c in refreshed.cells)
    assert (folder / "02_broken.ipynb").read_text() == before      # a failed run changes nothing
    assert broken.output == str(folder / ".executing" / "02_broken.ipynb")
    assert sorted(p.name for p in (folder / ".executing").iterdir()) == ["02_broken.ipynb"]


@pytest.mark.kernel
def test_a_refreshed_lesson_runs_first_in_a_fresh_folder_after_what_it_reads(tmp_path,
                                                                           monkeypatch):
    """Stored outputs are a first run: no leftovers (a warm feature cache), dependencies run."""
    stale = tmp_path / "learners-artifacts"
    (stale / "features").mkdir(parents=True)
    (stale / "features" / "cached.npy").write_text("from an earlier run")
    monkeypatch.setenv("COURSE_ARTIFACTS", str(stale))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    writes = ("from course_utils import artifacts_dir\n"
              "(artifacts_dir('{0}') / 'done').write_text('{0}')")
    _write_notebook(folder / "02_mlm.ipynb", writes.format("from-02"))
    _write_notebook(folder / "04_head.ipynb", writes.format("from-04"))
    _write_notebook(folder / "05_tune.ipynb",
                    "from course_utils import record\n"
                    "from course_utils.artifacts import artifacts_root\n"
                    "record('found', ','.join(sorted(p.name for p in artifacts_root().iterdir())))")
    untouched = {name: (folder / name).read_text() for name in ("02_mlm.ipynb", "04_head.ipynb")}
    results = runner.refresh_notebooks(["05"], progress=False, notebook_dir=folder)
    assert [(r.name, r.status) for r in results] == [
        ("02_mlm", "ok"), ("04_head", "ok"), ("05_tune", "ok")]
    assert results[-1].metrics["found"] == "from-02,from-04"      # and no stale features
    assert [r.output for r in results] == ["", "", str(folder / "05_tune.ipynb")]
    assert {name: (folder / name).read_text() for name in untouched} == untouched
    assert (stale / "features" / "cached.npy").is_file()               # the learner's, kept

    _write_notebook(folder / "04_head.ipynb", "raise ValueError('bad')")
    before = (folder / "05_tune.ipynb").read_text()
    results = runner.refresh_notebooks(["05"], progress=False, notebook_dir=folder)
    assert [(r.name, r.status) for r in results] == [
        ("02_mlm", "ok"), ("04_head", "failed"), ("05_tune", "failed")]
    assert results[-1].error == "not run: lesson 04 failed and this lesson reads its artifacts"
    assert (folder / "05_tune.ipynb").read_text() == before


@pytest.mark.kernel
def test_relative_course_folders_mean_the_callers_folder_not_the_kernels(tmp_path, monkeypatch):
    """`COURSE_ARTIFACTS=runs/x` typed at the root wrote into notebooks/runs/x before."""
    folder = tmp_path / "course" / "notebooks"
    folder.mkdir(parents=True)
    _write_notebook(folder / "04_save.ipynb",
                    "from course_utils import artifacts_dir, record\n"
                    "path = artifacts_dir('results') / 'saved.txt'\n"
                    "path.write_text('x')\n"
                    "record('saved_to', str(path))")
    monkeypatch.chdir(tmp_path / "course")
    monkeypatch.setenv("COURSE_ARTIFACTS", "runs/x/artifacts")
    run = runner.run_lessons(only=["04"], out="runs/x", progress=False, notebook_dir=folder)
    (result,) = run.results
    assert result.status == "ok", result.error
    saved = tmp_path / "course" / "runs" / "x" / "artifacts" / "results" / "saved.txt"
    assert result.metrics["saved_to"] == str(saved) and saved.is_file()
    assert run.folder.is_relative_to(tmp_path / "course" / "runs" / "x")
    assert [p.name for p in folder.iterdir()] == ["04_save.ipynb"], "nothing under notebooks/"
