"""Build the student notebooks: every solution replaced by a stub that raises with a hint.

The committed lesson notebooks are the masters: executed, with the solutions between
``# BEGIN SOLUTION NN.k`` and ``# END SOLUTION`` lines. The student version keeps every
cell and all code outside those blocks, replaces each block by::

    # YOUR ANSWER NN.k: replace the next line with your code
    raise NotImplementedError("Exercise NN.k: <the exercise's hint>")

(at the block's indentation), clears every output and keeps the notebook's metadata.

Example::

    >>> build_student_notebooks("student")          # doctest: +SKIP
    [PosixPath('student/01_tokenization.ipynb'), ...]

or ``python -m course_utils homework build --out student``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

from .core import Exercise, get_exercise, load_lesson_checks

BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<id>.*)$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\b.*$")
ANSWER = re.compile(r"#\s*YOUR ANSWER (?P<id>\d+\.\d+)\b")
LESSON_PREFIX = re.compile(r"^(?P<lesson>\d\d)_")


class HomeworkBuildError(ValueError):
    """A master notebook whose solution markers cannot be turned into a student version."""


def answer_stub(exercise: Exercise, indent: str = "") -> list[str]:
    """Return the lines that replace exercise ``exercise``'s solution in the student version."""
    message = f"Exercise {exercise.id}: {exercise.hint}"
    return [f"{indent}# YOUR ANSWER {exercise.id}: replace the next line with your code",
            f"{indent}raise NotImplementedError({message!r})"]


def strip_solutions(source: str, lesson: str | None = None, where: str = "cell") -> tuple[str, list[str]]:
    """Return ``source`` with each solution block replaced by its stub, and the ids replaced."""
    lines, out, ids = source.split("\n"), [], []
    open_at: int | None = None
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_at is not None:
                raise HomeworkBuildError(f"{where}, line {number}: a second BEGIN SOLUTION before "
                                         f"the END SOLUTION of the block opened at line {open_at}. "
                                         "Close each block before opening the next.")
            exercise_id = begin.group("id").strip()
            if not re.fullmatch(r"\d+\.\d+", exercise_id):
                raise HomeworkBuildError(f"{where}, line {number}: BEGIN SOLUTION needs an exercise "
                                         f"id like '# BEGIN SOLUTION 03.1', found {line.strip()!r}.")
            try:
                exercise = get_exercise(exercise_id)
            except KeyError as err:
                raise HomeworkBuildError(f"{where}, line {number}: {err.args[0]} Register it with "
                                         "@exercise in course_utils/homework/lessonNN.py.") from None
            if lesson is not None and exercise.lesson != lesson:
                raise HomeworkBuildError(f"{where}, line {number}: exercise {exercise_id} belongs to "
                                         f"lesson {exercise.lesson}, not to lesson {lesson}.")
            open_at = number
            ids.append(exercise_id)
            out.extend(answer_stub(exercise, begin.group("indent")))
        elif end:
            if open_at is None:
                raise HomeworkBuildError(f"{where}, line {number}: END SOLUTION without a BEGIN "
                                         "SOLUTION above it in the same cell.")
            open_at = None
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise HomeworkBuildError(f"{where}, line {open_at}: BEGIN SOLUTION is never closed; add "
                                 "'# END SOLUTION' after the solution, in the same cell.")
    return "\n".join(out), ids


def lesson_of(path: Path) -> str | None:
    """Return the lesson number a notebook's file name starts with ("01_x.ipynb" -> "01")."""
    match = LESSON_PREFIX.match(path.name)
    return match.group("lesson") if match else None


def student_notebook(master: Path) -> nbformat.NotebookNode:
    """Return the student version of one master notebook (solutions stubbed, outputs cleared)."""
    nb = nbformat.read(str(master), as_version=4)
    lesson, seen = lesson_of(master), {}
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.source, ids = strip_solutions(cell.source, lesson, f"{master.name}, cell {index}")
        for exercise_id in ids:
            if exercise_id in seen:
                raise HomeworkBuildError(f"{master.name}: exercise {exercise_id} has solution blocks "
                                         f"in cells {seen[exercise_id]} and {index}; keep one.")
            seen[exercise_id] = index
        cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("papermill", None)
    return nb


def write_notebook_atomically(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        nbformat.write(nb, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_student_notebooks(out: str | Path = "student", masters: list[Path] | None = None) -> list[Path]:
    """Write the student version of each master notebook (default: every lesson) into ``out``."""
    from ..runner import lesson_notebooks

    load_lesson_checks(strict=True)  # a broken check module stops the build, loudly
    masters = lesson_notebooks() if masters is None else [Path(m) for m in masters]
    if not masters:
        raise HomeworkBuildError("No lesson notebooks to build (expected notebooks/NN_*.ipynb).")
    out = Path(out)
    students = [(master, student_notebook(master)) for master in masters]  # check all first
    written = []
    for master, nb in students:
        write_notebook_atomically(nb, out / master.name)
        written.append(out / master.name)
    return written
