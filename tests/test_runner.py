"""The batch runner: selection, parameters, failures and the summary it writes."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils import runner
from course_utils.__main__ import main


def _write_notebook(path, *sources, parameters="profile = 'offline'\nseed = 0"):
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def tiny_lessons(tmp_path):
    """A folder with a passing lesson that records a metric and a failing one."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_ok.ipynb",
                    "from course_utils import record\nrecord('answer', 40 + seed)")
    _write_notebook(folder / "02_broken.ipynb", "x = 1", "raise ValueError('bad data')")
    _write_notebook(folder / "03_after.ipynb", "from course_utils import record\nrecord('ran', True)")
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
    with pytest.raises(runner.RunnerError, match="01_ok, 02_broken, 03_after"):
        runner.select_notebooks(["07"], tiny_lessons)


def test_selectors_match_numbers_and_names(tiny_lessons):
    chosen = runner.select_notebooks(["03", "01_ok"], tiny_lessons)
    assert [p.stem for p in chosen] == ["01_ok", "03_after"]


def test_undeclared_parameter_is_an_error_before_anything_runs(tiny_lessons, tmp_path):
    with pytest.raises(runner.RunnerError, match="does not declare parameter.*epochs"):
        runner.run_lessons(only=["01"], parameters={"epochs": 2}, out=tmp_path / "runs",
                           notebook_dir=tiny_lessons, progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_batch_goes_on_past_a_failure_and_writes_the_summary(tiny_lessons, tmp_path):
    results = runner.run_lessons(parameters={"seed": 2}, out=tmp_path / "runs",
                                 notebook_dir=tiny_lessons, progress=False)
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    summary = json.loads((tmp_path / "runs" / "latest" / "summary.json").read_text())
    first, broken, last = summary["notebooks"]
    assert first["metrics"] == {"answer": 42}
    assert last["metrics"] == {"ran": True}
    assert "ValueError: bad data" in broken["error"]
    assert "starting \"raise ValueError('bad data')\"" in broken["error"]
    for entry in summary["notebooks"]:
        assert set(entry) >= {"name", "status", "seconds", "peak_rss_mb", "error", "metrics"}
        assert entry["peak_rss_mb"] > 10  # a kernel was measured
    markdown = (tmp_path / "runs" / "latest" / "summary.md").read_text()
    assert "| 02_broken | failed |" in markdown and "`answer`: 42" in markdown


def test_cli_exits_non_zero_and_names_the_failing_notebook(tiny_lessons, tmp_path, capsys):
    status = main(["run", "--only", "02", "--out", str(tmp_path / "runs"), "--no-progress",
                   "--notebooks", str(tiny_lessons)])
    assert status == 1
    assert "FAILED 02_broken" in capsys.readouterr().err


def test_cli_reports_bad_input_with_exit_status_2(capsys):
    assert main(["run", "--only", "99", "--no-progress"]) == 2
    assert "No notebook matches '99'" in capsys.readouterr().err
    assert main(["run", "-p", "oops", "--no-progress"]) == 2
    assert main(["assets", "fetch", "imdb"]) == 2
    assert "Known assets" in capsys.readouterr().err


def test_batch_kernels_redraw_progress_bars_rarely(tmp_path):
    """A loop's bar in a batch run stores a handful of lines, not one per step."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "01_bar.ipynb",
                    "import time\nfrom tqdm import tqdm\n"
                    "for _ in tqdm(range(40)):\n    time.sleep(0.02)")
    result = runner.run_notebook(folder / "01_bar.ipynb", tmp_path / "out.ipynb", {}, progress=False)
    assert result.status == "ok"
    stored = "".join(output.get("text", "") for output in
                     nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[-1].outputs)
    assert "40/40" in stored                       # the bar still reports its end
    assert stored.count("it/s]") <= 3              # not one redraw per step
    assert "TQDM_MININTERVAL" not in __import__("os").environ   # the runner restored it
