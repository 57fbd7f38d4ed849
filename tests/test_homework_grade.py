"""Batch grading: a folder of submissions becomes grades.csv and grades.md, whatever they hold."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_utils.__main__ import main
from course_utils.homework import EXERCISES
from course_utils.homework.build import student_notebook
from course_utils.homework.core import EXTRA_MODULES_ENV, load_lesson_checks
from course_utils.homework.grade import (grade_submissions, submission_lessons,
                                        without_shell_commands)

FIXTURES = Path(__file__).parent / "fixtures" / "homework"
MASTER = FIXTURES / "99_fixture.ipynb"


@pytest.fixture(scope="module")
def lesson99():
    """Register the test-only lesson 99 here and in the kernels grading starts; forget it after."""
    patch = pytest.MonkeyPatch()
    patch.setenv(EXTRA_MODULES_ENV, str(FIXTURES / "lesson99_checks.py"))
    patch.setenv("COURSE_THREADS", "1")
    load_lesson_checks()
    yield
    patch.undo()
    for exercise_id in [i for i in EXERCISES if i.startswith("99.")]:
        del EXERCISES[exercise_id]
    for name in [n for n in sys.modules if n.startswith("course_extra_checks_")]:
        del sys.modules[name]


def answered(nb, answers: dict[str, str]):
    """Return a copy of a student notebook whose stubs are replaced by code, as instructed.

    The learner replaces the ``raise NotImplementedError`` line and keeps the comment above it.
    """
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        for exercise_id, code in answers.items():
            marker = f"# YOUR ANSWER {exercise_id}: replace the next line with your code\n"
            if marker in cell.source:
                indent = cell.source.split(marker)[0].rsplit("\n", 1)[-1]
                head, tail = cell.source.split(marker)
                _, _, rest = tail.partition("\n")
                cell.source = head + marker + "\n".join(indent + line for line in code.split("\n")) + (
                    "\n" + rest if rest else "")
    return nb


def insert_after_check(nb, exercise_id: str, source: str):
    """Return a copy of ``nb`` with a code cell inserted after the check of ``exercise_id``."""
    nb = nbformat.from_dict(nb)
    index = next(i for i, c in enumerate(nb.cells) if c.source == f'check("{exercise_id}")')
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb


def forge_passing_outputs(nb):
    """Return ``nb`` with stored outputs that claim every check passed."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.source.startswith("check("):
            exercise_id = cell.source.split('"')[1]
            cell.outputs = [nbformat.v4.new_output(
                "display_data", data={"text/plain": "[PASSED]"},
                metadata={"course_exercise": {"id": exercise_id, "passed": True, "points": 9,
                                              "max_points": 9}})]
    return nb


@pytest.fixture(scope="module")
def graded(lesson99, tmp_path_factory):
    """Grade a folder with a correct, a partly wrong, a crashing and two unreadable files."""
    folder = tmp_path_factory.mktemp("submissions")
    student = student_notebook(MASTER)
    correct = nbformat.read(MASTER, as_version=4)  # as a Colab learner would hand it in:
    marker = tmp_path_factory.mktemp("shell") / "ran"
    correct.cells.insert(0, nbformat.v4.new_code_cell(f"!touch {marker}\n%pip install -q nothing"))
    nbformat.write(correct, folder / "99_correct.ipynb")
    partly = answered(student, {"99.1": "squares = [n * n for n in range(5)]\nprint(typo)",
                                "99.2": "return x + 2"})
    nbformat.write(forge_passing_outputs(partly), folder / "99_partly_wrong.ipynb")
    crashing = answered(student, {"99.1": "squares = [0, 1, 4, 9, 16]", "99.2": "return 2 * x",
                                  "99.3": "word_count = 4"})
    nbformat.write(insert_after_check(crashing, "99.1", "import os\nos._exit(1)"),
                   folder / "99_crashing.ipynb")
    (folder / "notes.txt").write_text("I could not open the notebook, sorry.")
    (folder / "99_broken.ipynb").write_text('{"cells": [')
    out = tmp_path_factory.mktemp("grades")
    start = time.perf_counter()
    assert main(["homework", "grade", str(folder), "--out", str(out), "--timeout", "120"]) == 0
    seconds = time.perf_counter() - start
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert not marker.exists(), "a shell command of a submission ran while grading"
    return rows, out, seconds


def scores(row) -> tuple:
    return row["99.1"], row["99.2"], row["99.3"], row["total"], row["max_total"], row["status"]


def test_the_table_has_one_row_per_file_and_one_column_per_exercise(graded):
    rows, out, _ = graded
    assert sorted(rows) == ["99_broken.ipynb", "99_correct.ipynb", "99_crashing.ipynb",
                            "99_partly_wrong.ipynb", "notes.txt"]
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header == "submission,lesson,99.1,99.2,99.3,total,max_total,status,note"


def test_the_master_scores_full_marks(graded):
    rows, _, _ = graded
    assert scores(rows["99_correct.ipynb"]) == ("1", "1", "2", "4", "4", "ok")
    assert rows["99_correct.ipynb"]["note"] == ""


def test_partly_wrong_scores_what_is_right_and_ignores_stored_outputs(graded):
    rows, out, _ = graded
    assert scores(rows["99_partly_wrong.ipynb"]) == ("1", "0", "0", "1", "4", "errors")
    assert "NameError: name 'typo' is not defined" in rows["99_partly_wrong.ipynb"]["note"]
    report = (out / "grades.md").read_text()
    assert ("99.1: [PASSED] Exercise 99.1: `squares` holds the squares of 0..4. "
            "(its answer cell raised NameError: name 'typo' is not defined)") in report
    assert "99.2: [NOT YET] Exercise 99.2: double(3) returned 5, expected 6." in report
    assert "99.3: not answered: the answer cell raised NotImplementedError" in report


def test_a_crash_keeps_the_exercises_reached_before_it(graded):
    rows, out, _ = graded
    assert scores(rows["99_crashing.ipynb"]) == ("1", "0", "0", "1", "4", "crashed")
    assert "not reached" in (out / "grades.md").read_text()


def test_unreadable_files_get_zeros_and_a_note(graded):
    rows, out, _ = graded
    assert scores(rows["notes.txt"])[:4] == ("0", "0", "0", "0")
    assert rows["notes.txt"]["status"] == "not a notebook"
    assert rows["99_broken.ipynb"]["status"] == "invalid notebook"
    assert rows["99_broken.ipynb"]["note"].startswith("not a valid notebook")
    report = (out / "grades.md").read_text()
    assert "| 99_correct.ipynb | 99 | 1 | 1 | 2 | 4 | 4 | ok |" in report
    assert "`invalid notebook` (not readable JSON)" in report


def test_executed_notebooks_are_kept_for_the_teacher(graded):
    _, out, _ = graded
    executed = nbformat.read(out / "executed" / "99_correct.ipynb", as_version=4)
    assert any("[PASSED] Exercise 99.3" in json.dumps(c.get("outputs", [])) for c in executed.cells)


def test_a_notebook_over_the_time_limit_is_stopped_and_grading_goes_on(lesson99, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    pid_file = tmp_path / "kernel.pid"
    student = answered(student_notebook(MASTER), {"99.1": "squares = [0, 1, 4, 9, 16]"})
    sleeper = insert_after_check(student, "99.1", f"import os, time\nopen({str(pid_file)!r}, 'w')"
                                                  ".write(str(os.getpid()))\ntime.sleep(600)")
    nbformat.write(sleeper, folder / "99_slow.ipynb")
    start = time.perf_counter()
    grades = grade_submissions(folder, timeout=30)
    assert time.perf_counter() - start < 60
    (grade,) = grades
    assert (grade.status, grade.scores) == ("timeout", {"99.1": 1, "99.2": 0, "99.3": 0})
    assert "time limit of 30 s" in grade.note
    kernel = int(pid_file.read_text())
    assert not psutil.pid_exists(kernel) or psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE
    assert (folder / "grades.csv").exists() and (folder / "grades.md").exists()


def test_the_lesson_comes_from_the_file_name_or_the_exercise_cells(lesson99, tmp_path):
    nb = student_notebook(MASTER)
    assert submission_lessons(tmp_path / "99_anything.ipynb", nb) == ["99"]
    assert submission_lessons(tmp_path / "alice.ipynb", nb) == ["99"]  # "# YOUR ANSWER 99.k"
    only_checks = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('check("99.2")')])
    assert submission_lessons(tmp_path / "bob.ipynb", only_checks) == ["99"]
    assert submission_lessons(tmp_path / "carol.ipynb", nbformat.v4.new_notebook()) == []


def test_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["homework", "grade", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_shell_commands_of_a_colab_notebook_are_turned_off():
    source = "!git clone REPO_URL course && pip install -q -e course\nx = 1\nif x:\n    %pip install y"
    assert without_shell_commands(source) == (
        "pass  # skipped when grading: !git clone REPO_URL course && pip install -q -e course\n"
        "x = 1\nif x:\n    pass  # skipped when grading: %pip install y")
    assert without_shell_commands("%%bash\nls").startswith("# skipped when grading: %%bash")
