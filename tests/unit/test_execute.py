"""Notebook plumbing: finding lessons, markers, cleaning, and the one way notebooks are executed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_utils.tools import lessons as notebook
from course_utils.tools.execute import execute
from course_utils.tools.grading.markers import BEGIN, CHECK_CALL, END, answer_ids, exercise_ids
from course_utils.tools.lessons import NotebookError, lesson_notebooks, lesson_of, select_notebooks
from course_utils.tools.transforms import (
    cleaned,
    readable_notebook,
    without_shell_commands,
    write_notebook,
)


def tiny_notebook(*sources: str, parameters: str = "greeting = 'hello'\nseed = 0"):
    """Return a notebook: a tagged parameters cell, then one code cell per source."""
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def executed_looking(nb):
    """Return a copy of ``nb`` dressed as papermill leaves it: outputs, counts, run metadata."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    run_record = {"papermill": {"status": "completed"}}
    nb.cells.insert(0, new_markdown_cell("# Title", metadata=run_record))
    nb.metadata["papermill"] = {"start_time": "2026-12-01T10:00:00"}
    for count, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.execution_count = count
            cell.outputs = [new_output("stream", name="stdout", text="42\n")]
            cell.metadata.update({"papermill": {"duration": 0.1}, "scrolled": True,
                                  "execution": {"iopub.status.busy": "2026-12-01T10:00:01"}})
    return nb


# ---------------------------------------------------------------- finding lessons and markers
def test_lessons_are_the_numbered_notebooks_in_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb", "1_short.ipynb"):
        nbformat.write(tiny_notebook(), tmp_path / name)
    assert [p.name for p in lesson_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in select_notebooks(["02", "01_a"], tmp_path)] == ["01_a.ipynb",
                                                                             "02_b.ipynb"]
    with pytest.raises(NotebookError, match="No notebook matches '07'.*01_a, 02_b"):
        select_notebooks(["07"], tmp_path)


def test_a_folder_without_lessons_says_where_it_looked(tmp_path):
    with pytest.raises(NotebookError, match=f"No lesson notebooks .* in {tmp_path}"):
        select_notebooks(None, tmp_path)


def test_the_checkout_holds_the_lessons(tmp_path, monkeypatch):
    assert notebook.checkout_root() == notebook.PACKAGE_PARENT
    assert notebook.course_folder("notebooks") == notebook.PACKAGE_PARENT / "notebooks"
    assert (notebook.PACKAGE_PARENT / "notebooks" / "01_tokenization.ipynb").is_file()
    monkeypatch.chdir(tmp_path)
    assert notebook.course_folder("runs") == notebook.PACKAGE_PARENT / "runs"  # not the cwd


def test_an_installed_copy_uses_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "PACKAGE_PARENT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert notebook.checkout_root() is None
    assert notebook.course_folder("notebooks") == tmp_path / "notebooks"
    assert notebook.course_folder("runs") == tmp_path / "runs"
    (tmp_path / "notebooks").mkdir()
    nbformat.write(tiny_notebook(), tmp_path / "notebooks" / "01_mine.ipynb")
    assert [p.name for p in lesson_notebooks()] == ["01_mine.ipynb"]


def test_markers_find_solutions_stubs_and_checks():
    source = ("def f(x):\n    # BEGIN SOLUTION 03.2\n    return x\n    # END SOLUTION\n"
              "# YOUR ANSWER 03.4: replace the next line with your code\n"
              "check('03.5')\n")
    assert BEGIN.match("    # BEGIN SOLUTION 03.2").group("indent", "id") == ("    ", " 03.2")
    assert END.match("  #END SOLUTION") and not END.match("x = 1  # END SOLUTION")
    assert CHECK_CALL.search('check( "01.1")').group("id") == "01.1"
    assert answer_ids(source) == {"03.2", "03.4"}
    assert exercise_ids(source) == {"03.2", "03.4", "03.5"}
    assert lesson_of(Path("05_fine_tuning.ipynb")) == "05"
    assert lesson_of(Path("alice.ipynb")) is None


def test_the_metric_key_lives_with_record_and_no_verdict_key_is_written():
    import importlib

    from course_utils.homework import core

    record = importlib.import_module("course_utils.record")
    assert record.METRIC_KEY == "course_metric" and not hasattr(notebook, "METRIC_KEY")
    assert not hasattr(core, "VERDICT_KEY"), "check() stores no verdict metadata: nothing reads it"
    assert not hasattr(record, "RECORDED")


# ---------------------------------------------------------------- cleaning
def test_cleaning_removes_outputs_counts_and_run_metadata_only(tmp_path):
    original = executed_looking(tiny_notebook("print(42)"))
    clean = cleaned(original)
    assert "papermill" not in clean.metadata and clean.metadata.kernelspec.name == "python3"
    for cell in clean.cells:
        assert not {"papermill", "execution", "scrolled"} & set(cell.metadata)
    code = [c for c in clean.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert code[0].metadata.tags == ["parameters"]          # what is not a run record stays
    assert [c.source for c in clean.cells] == [c.source for c in original.cells]
    assert original.cells[1].outputs and "papermill" in original.metadata  # a copy was cleaned
    nbformat.validate(clean)


def test_cleaning_can_keep_outputs_for_a_re_executed_lesson():
    clean = cleaned(executed_looking(tiny_notebook("print(42)")), keep_outputs=True)
    assert clean.cells[2].outputs[0].text == "42\n" and clean.cells[2].execution_count == 2
    assert "papermill" not in clean.metadata
    assert not any({"papermill", "execution"} & set(c.metadata) for c in clean.cells)


def test_cleaning_for_grading_turns_shell_lines_off():
    nb = tiny_notebook("!pip install course\nx = 1", "%%bash\nrm -rf /tmp/x")
    clean = cleaned(nb, shell_commands=False)
    assert clean.cells[1].source == ("pass  # skipped when grading: !pip install course\nx = 1")
    assert clean.cells[2].source.startswith("# skipped when grading: %%bash")
    assert cleaned(nb).cells[1].source == nb.cells[1].source  # kept unless asked


def test_shell_commands_of_a_colab_notebook_are_turned_off():
    source = ("!git clone REPO_URL course && pip install -q -e course\nx = 1\nif x:\n"
              "    %pip install y\n%conda list\nprint('!not a shell line')")
    assert without_shell_commands(source) == (
        "pass  # skipped when grading: !git clone REPO_URL course && pip install -q -e course\n"
        "x = 1\nif x:\n    pass  # skipped when grading: %pip install y\n"
        "pass  # skipped when grading: %conda list\nprint('!not a shell line')")


def test_notebooks_are_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "nb.ipynb"
    write_notebook(tiny_notebook("x = 1"), path)
    assert readable_notebook(path).cells[1].source == "x = 1"
    assert [p.name for p in tmp_path.iterdir()] == ["nb.ipynb"]
    path.write_text(path.read_text()[:50])  # a save cut short
    assert readable_notebook(path) is None
    assert readable_notebook(tmp_path / "absent.ipynb") is None


# ---------------------------------------------------------------- executing
@pytest.mark.kernel
def test_execute_injects_parameters_and_writes_the_executed_notebook(tmp_path):
    source = tmp_path / "01_tiny.ipynb"
    nbformat.write(tiny_notebook("import os\nprint(greeting, os.getcwd(), "
                                 "os.environ.get('COURSE_TEST_FLAG'))"), source)
    work = tmp_path / "work"
    work.mkdir()
    output = tmp_path / "out" / "01_tiny.ipynb"
    assert "COURSE_TEST_FLAG" not in os.environ
    run = execute(source, output, {"greeting": "bonjour"}, cwd=work,
                  env={"COURSE_TEST_FLAG": "set"})
    assert (run.status, run.error) == ("ok", None) and run.seconds > 0
    printed = nbformat.read(output, as_version=4).cells[-1].outputs[0].text
    assert printed.split() == ["bonjour", str(work), "set"]
    assert "COURSE_TEST_FLAG" not in os.environ            # restored after the run
    assert [p.name for p in output.parent.iterdir()] == ["01_tiny.ipynb"]  # no temporary left


@pytest.mark.kernel
def test_a_failing_cell_is_described_and_the_notebook_kept(tmp_path):
    source = tmp_path / "02_broken.ipynb"
    nbformat.write(tiny_notebook("x = 1", "raise ValueError('bad data')", "y = 2"), source)
    output = tmp_path / "out.ipynb"
    run = execute(source, output, {}, cwd=tmp_path)
    assert run.status == "failed"
    assert "ValueError: bad data" in run.error and "starting \"raise ValueError" in run.error
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[-1].execution_count is None           # stopped at the error
    run = execute(source, output, {}, cwd=tmp_path, allow_errors=True)
    assert run.status == "failed"                                # ... or ran on past it
    assert nbformat.read(output, as_version=4).cells[-1].execution_count is not None


def test_the_kernel_is_a_parameter(tmp_path):
    source = tmp_path / "01_tiny.ipynb"
    nbformat.write(tiny_notebook("x = 1"), source)
    output = tmp_path / "out.ipynb"
    run = execute(source, output, {}, cwd=tmp_path, kernel_name="no-such-kernel")
    assert run.status == "crashed" and "no-such-kernel" in run.error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_tiny.ipynb", "out.ipynb"]
    assert readable_notebook(output) is not None   # saved whole, parameters injected


@pytest.mark.kernel
def test_a_run_that_saves_nothing_leaves_nothing_behind(tmp_path):
    output = tmp_path / "out" / "out.ipynb"
    run = execute(tmp_path / "absent.ipynb", output, {}, cwd=tmp_path)
    assert run.status == "crashed" and "absent.ipynb" in run.error
    assert list(output.parent.iterdir()) == []     # no output, no temporary file


@pytest.mark.kernel
def test_a_wall_limit_stops_the_run_and_its_kernel(tmp_path):
    import psutil

    pid_file = tmp_path / "kernel.pid"
    source = tmp_path / "01_slow.ipynb"
    nbformat.write(tiny_notebook("print('started')", f"import os, time\nopen({str(pid_file)!r}, "
                                 "'w').write(str(os.getpid()))\ntime.sleep(600)"), source)
    output = tmp_path / "out.ipynb"
    run = execute(source, output, {}, cwd=tmp_path, allow_errors=True, wall_limit=20)
    assert run.status == "timeout" and "time limit of 20 s" in run.error
    assert run.seconds < 40
    kernel = int(pid_file.read_text())
    assert not psutil.pid_exists(kernel) or psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE
    executed = readable_notebook(output)   # what was saved before the limit is kept
    assert executed is not None and executed.cells[1].outputs[0].text == "started\n"


def test_final_stream_lines_keep_what_a_terminal_shows():
    from course_utils.tools.transforms import final_stream_lines

    bar = "epoch 1:   0%|  | 0/9\repoch 1:  50%|# | 4/9\r"
    outputs = [{"output_type": "stream", "name": "stderr", "text": bar},
               {"output_type": "stream", "name": "stderr", "text": "epoch 1: 100%|##| 9/9\n"},
               {"output_type": "stream", "name": "stdout", "text": "loss 0.5\nacc 0.9\n"},
               {"output_type": "stream", "name": "stderr", "text": "bar 10%\r      \r"},
               {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}]
    kept = final_stream_lines(outputs)
    assert [o["output_type"] for o in kept] == ["stream", "stream", "display_data"]
    assert kept[0]["text"] == "epoch 1: 100%|##| 9/9\n"
    assert kept[1]["text"] == "loss 0.5\nacc 0.9\n"
    assert outputs[0]["text"] == bar, "the input outputs are left as they were"


def test_a_bar_cleared_after_a_print_on_the_other_stream_leaves_no_unfinished_state():
    from course_utils.tools.transforms import final_stream_lines

    outputs = [{"output_type": "stream", "name": "stderr", "text": "\repoch 1:   0%| | 0/9"},
               {"output_type": "stream", "name": "stderr", "text": "\repoch 1:  44%|# | 4/9"},
               {"output_type": "stream", "name": "stdout", "text": "validation 0.81\n"},
               {"output_type": "stream", "name": "stderr", "text": "\r" + " " * 24 + "\r"},
               {"output_type": "stream", "name": "stdout", "text": "done\n"}]
    kept = final_stream_lines(outputs)
    assert [(o["name"], o["text"]) for o in kept] == [("stdout", "validation 0.81\ndone\n")]
    finished = outputs[:3] + [{"output_type": "stream", "name": "stderr",
                               "text": "\repoch 1: 100%|##| 9/9\n"}]
    kept = final_stream_lines(finished)
    assert [(o["name"], o["text"]) for o in kept] == [("stderr", "epoch 1: 100%|##| 9/9\n"),
                                                      ("stdout", "validation 0.81\n")]
