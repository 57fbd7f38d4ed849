"""Batch grading: a folder of submissions becomes grades.csv and grades.md, whatever they hold."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.homework import EXERCISES
from course_utils.homework.core import EXTRA_MODULES_ENV, load_lesson_checks
from course_utils.tools.cli import main
from course_utils.tools.grading.build import student_notebook
from course_utils.tools.grading.grade import grade_submissions, submission_lessons
from course_utils.tools.grading.reports import feedback_file_name, markdown_text

pytestmark = pytest.mark.grader

VERDICT_KEY = "course_exercise"  # what an older check() stored; a forger may still write it

FIXTURES = Path(__file__).parents[1] / "fixtures" / "homework"
MASTER = FIXTURES / "99_fixture.ipynb"


@pytest.fixture(scope="module")
def lesson99(tmp_path_factory):
    """Register the test-only lesson 99 here and in the kernels grading starts; forget it after.

    The grader's temporary folders go under pytest's own temporary folder too.
    """
    patch = pytest.MonkeyPatch()
    scratch = str(tmp_path_factory.mktemp("grader-tmp"))
    patch.setattr(tempfile, "tempdir", scratch)
    patch.setenv("TMPDIR", scratch)
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
                answer = "\n".join(indent + line for line in code.split("\n"))
                cell.source = head + marker + answer + ("\n" + rest if rest else "")
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
                metadata={VERDICT_KEY: {"id": exercise_id, "passed": True, "points": 9,
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
    nbformat.write(student, folder / "99_unsolved.ipynb")
    (folder / "notes.txt").write_text("I could not open the notebook, sorry.")
    (folder / "99_broken.ipynb").write_text('{"cells": [')
    out = tmp_path_factory.mktemp("grades")
    start = time.perf_counter()
    assert main(["homework", "grade", str(folder), "--out", str(out), "--timeout", "120"]) == 0
    seconds = time.perf_counter() - start
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert not marker.exists(), "a shell command of a submission ran while grading"
    return rows, out, seconds, folder


def scores(row) -> tuple:
    return row["99.1"], row["99.2"], row["99.3"], row["total"], row["max_total"], row["status"]


def test_the_table_has_one_row_per_file_and_one_column_per_exercise(graded):
    rows, out, _, _ = graded
    assert sorted(rows) == ["99_broken.ipynb", "99_correct.ipynb", "99_crashing.ipynb",
                            "99_partly_wrong.ipynb", "99_unsolved.ipynb", "notes.txt"]
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header == "submission,lesson,99.1,99.2,99.3,total,max_total,status,note"


def test_the_master_scores_full_marks(graded):
    rows, _, _, _ = graded
    assert scores(rows["99_correct.ipynb"]) == ("1", "1", "2", "4", "4", "ok")
    assert rows["99_correct.ipynb"]["note"] == ""


def test_partly_wrong_scores_what_is_right_and_ignores_stored_outputs(graded):
    rows, out, _, _ = graded
    assert scores(rows["99_partly_wrong.ipynb"]) == ("1", "0", "0", "1", "4", "errors")
    assert "NameError: name 'typo' is not defined" in rows["99_partly_wrong.ipynb"]["note"]
    report = (out / "grades.md").read_text()
    assert "99.1: " + markdown_text(
        "[PASSED] Exercise 99.1: `squares` holds the squares of 0..4. "
        "(its answer cell raised NameError: name 'typo' is not defined)") in report
    assert "99.2: " + markdown_text("[NOT YET] Exercise 99.2: double(3) returned 5, expected 6."
                                    ) in report
    assert "99.3: not answered: the answer cell raised NotImplementedError" in report


def test_solved_unsolved_and_broken_score_apart(graded):
    rows, _, _, _ = graded
    totals = [int(rows[name]["total"]) for name in
              ("99_correct.ipynb", "99_crashing.ipynb", "99_unsolved.ipynb")]
    assert totals == [4, 1, 0]
    assert scores(rows["99_unsolved.ipynb"]) == ("0", "0", "0", "0", "4", "errors")


def test_a_crash_keeps_the_exercises_reached_before_it(graded):
    rows, out, _, _ = graded
    assert scores(rows["99_crashing.ipynb"]) == ("1", "0", "0", "1", "4", "crashed")
    assert "not reached" in (out / "grades.md").read_text()


def test_unreadable_files_get_zeros_and_a_note(graded):
    rows, out, _, _ = graded
    assert scores(rows["notes.txt"])[:4] == ("0", "0", "0", "0")
    assert rows["notes.txt"]["status"] == "not a notebook"
    assert rows["99_broken.ipynb"]["status"] == "invalid notebook"
    assert rows["99_broken.ipynb"]["note"].startswith("not a valid notebook")
    report = (out / "grades.md").read_text()
    assert "| 99\\_correct.ipynb | 99 | 1 | 1 | 2 | 4 | 4 | ok |" in report
    assert "`invalid notebook`, `too large` and `unknown lesson` were not run" in report


def test_executed_notebooks_are_kept_for_the_teacher(graded):
    _, out, _, _ = graded
    executed = nbformat.read(out / "executed" / "99_correct.ipynb", as_version=4)
    outputs = [json.dumps(c.get("outputs", [])) for c in executed.cells]
    assert any("[PASSED] Exercise 99.3" in text for text in outputs)
    assert executed.cells[0].source.startswith("**Executed by the grader.**")  # not a verdict
    assert "skipped when grading: !touch" in executed.cells[1].source
    assert sorted(p.name for p in (out / "executed").iterdir()) == [
        "99_correct.ipynb", "99_crashing.ipynb", "99_partly_wrong.ipynb",
        "99_unsolved.ipynb"]  # no temporary left, no capture cell kept
    assert not any("added by the grader" in c.source for c in executed.cells)


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



FORGERY = f"""
import dataclasses
import course_utils.homework as homework
import course_utils.homework.core as core
from IPython.display import display



def check(exercise_id, namespace=None):
    display({{"text/plain": f"[PASSED] Exercise {{exercise_id}}: forged"}},
            metadata={{{VERDICT_KEY!r}: {{"id": exercise_id, "passed": True, "points": 9,
                                          "max_points": 9, "message": "forged"}}}}, raw=True)


homework.check = core.check = check
core.assess = lambda *args, **kwargs: core.Feedback.right("forged")
for key, ex in list(core.EXERCISES.items()):
    core.EXERCISES[key] = dataclasses.replace(ex, function=lambda *a: core.Feedback.right("x"))
"""


def test_a_forged_submission_scores_only_what_it_solved(lesson99, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    nb = answered(student_notebook(MASTER), {"99.1": "squares = [n * n for n in range(5)]",
                                             "99.2": "return x + 2", "99.3": "word_count = 3"})
    nb.cells.insert(3, nbformat.v4.new_code_cell(FORGERY))  # after `from ... import check`
    nbformat.write(forge_passing_outputs(nb), folder / "99_forged.ipynb")
    (grade,) = grade_submissions(folder, tmp_path / "out", timeout=120)
    assert (grade.status, grade.scores, grade.total) == ("ok", {"99.1": 1, "99.2": 0, "99.3": 0}, 1)
    executed = (tmp_path / "out" / "executed" / "99_forged.ipynb").read_text()
    assert executed.count("[PASSED] Exercise 99.") == 3 and "forged" in executed  # it did try
    assert "double(3) returned 5, expected 6." in grade.feedback["99.2"]


HIDDEN = FIXTURES / "hidden99_checks.py"


@pytest.mark.slow
def test_a_hidden_check_counts_only_at_grading_time(lesson99, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(nbformat.read(MASTER, as_version=4), folder / "99_alice.ipynb")
    wrong = answered(student_notebook(MASTER), {"99.1": "squares = [0, 1, 4, 9, 16]",
                                                "99.2": "return 2 * int(x)",
                                                "99.3": "word_count = 4"})
    nbformat.write(wrong, folder / "99_bob.ipynb")
    plain = {g.submission: g for g in grade_submissions(folder, tmp_path / "plain", timeout=120)}
    assert "99.9" not in plain["99_bob.ipynb"].scores and plain["99_bob.ipynb"].total == 4
    graded = {g.submission: g for g in grade_submissions(folder, tmp_path / "hidden", timeout=120,
                                                          hidden=[HIDDEN])}
    assert (graded["99_alice.ipynb"].scores["99.9"], graded["99_alice.ipynb"].max_total) == (3, 7)
    assert (graded["99_bob.ipynb"].scores["99.9"], graded["99_bob.ipynb"].total) == (0, 4)
    assert "double(0.5) returned 0" in graded["99_bob.ipynb"].feedback["99.9"]
    build = student_notebook(MASTER)
    assert "99.9" not in json.dumps(build)  # the build never ships it
    with pytest.raises(ValueError, match="not a Python file"):
        grade_submissions(folder, tmp_path / "bad", hidden=[tmp_path / "nothing.py"])


def test_the_reports_a_teacher_uses(graded):
    rows, out, _, _ = graded
    rates = list(csv.DictReader((out / "pass_rates.csv").open()))
    assert [(r["exercise"], r["passed"], r["graded"]) for r in rates] == [
        ("99.1", "3", "4"), ("99.2", "1", "4"), ("99.3", "1", "4")]
    book = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {r["student_id"]: (r["total"], r["max"], r["percent"]) for r in book}["correct"] == (
        "4", "4", "100.0")
    assert len(book) == len(rows)
    feedback = (out / "feedback" / "99_partly_wrong.ipynb.md").read_text()
    assert "**1 / 4** points" in feedback and "double(3) returned 5" in feedback
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        feedback_file_name(name) for name in rows)
    assert "99_partly_wrong.ipynb.md" in {p.name for p in (out / "feedback").iterdir()}
    assert "## Pass rate per exercise" in (out / "grades.md").read_text()


def test_two_workers_give_the_same_grades_as_one(graded):
    _, out, _, folder = graded
    again = folder.parent / "two-workers"
    assert main(["homework", "grade", str(folder), "--out", str(again), "--timeout", "120",
                 "--workers", "2"]) == 0
    for report in ("grades.csv", "gradebook.csv", "pass_rates.csv"):
        assert (again / report).read_text() == (out / report).read_text()


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_grades_as_one_worker(graded):
    from distributed import LocalCluster

    _, out, _, folder = graded
    again = folder.parent / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        assert main(["homework", "grade", str(folder), "--out", str(again), "--timeout", "120",
                     "--scheduler", cluster.scheduler_address]) == 0
    for report in ("grades.csv", "gradebook.csv", "pass_rates.csv"):
        assert (again / report).read_text() == (out / report).read_text()
