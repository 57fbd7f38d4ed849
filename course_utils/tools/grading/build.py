"""Build the student notebooks: every solution replaced by a stub that names what to write.

The committed lesson notebooks are the masters: executed, with the solutions between
``# BEGIN SOLUTION NN.k`` and ``# END SOLUTION`` lines. The student version keeps every
cell and all code outside those blocks, replaces each block by::

    # YOUR ANSWER NN.k: replace the next line with your code
    raise NotImplementedError("Exercise NN.k: write your answer here; it must define `x`. ...")

(at the block's indentation; no hint: ``check()`` gives it after a failed attempt), clears
every output and keeps the notebook's metadata.

Example::

    >>> build_student_notebooks("student")          # doctest: +SKIP
    [PosixPath('student/01_tokenization.ipynb'), ...]

or ``python -m course_utils homework build --out student``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat

from ...homework.core import Exercise, get_exercise, load_lesson_checks
from ..lessons import lesson_notebooks, lesson_of
from ..transforms import cleaned, write_notebook
from .markers import BEGIN, END


class HomeworkBuildError(ValueError):
    """A master notebook whose solution markers cannot be turned into a student version."""


def answer_names(exercise: Exercise, solution: list[str]) -> list[str]:
    """Return the variables of ``exercise`` its solution lines define (all it reads if none)."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(solution)))
    except SyntaxError:
        return list(exercise.names)
    defined = {node.id for node in ast.walk(tree)
               if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    defined |= {node.name for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return [name for name in exercise.names if name in defined] or list(exercise.names)


def answer_stub(exercise: Exercise, indent: str = "", names: list[str] | None = None) -> list[str]:
    """Return the lines that replace exercise ``exercise``'s solution in the student version."""
    shown = ", ".join(f"`{name}`" for name in (names or exercise.names))
    message = (f"Exercise {exercise.id}: write your answer here; it must define {shown}. "
               f'Then run check("{exercise.id}") below.')
    return [f"{indent}# YOUR ANSWER {exercise.id}: replace the next line with your code",
            f"{indent}raise NotImplementedError({message!r})"]


def strip_solutions(source: str, lesson: str | None = None,
                    where: str = "cell") -> tuple[str, list[str]]:
    """Return ``source`` with each solution block replaced by its stub, and the ids replaced."""
    lines, out, ids = source.split("\n"), [], []
    open_at: int | None = None
    solution: list[str] = []
    indent = ""
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_at is not None:
                raise HomeworkBuildError(f"{where}, line {number}: a second BEGIN SOLUTION before "
                                         f"the END SOLUTION of the block opened at line {open_at}. "
                                         "Close each block before opening the next.")
            exercise_id = begin.group("id").strip()
            if not re.fullmatch(r"\d+\.\d+", exercise_id):
                raise HomeworkBuildError(f"{where}, line {number}: BEGIN SOLUTION needs an "
                                         "exercise id like '# BEGIN SOLUTION 03.1', found "
                                         f"{line.strip()!r}.")
            try:
                exercise = get_exercise(exercise_id)
            except KeyError as err:
                raise HomeworkBuildError(f"{where}, line {number}: {err.args[0]} Register it "
                                         "with @exercise in course_utils/homework/lessonNN.py."
                                         ) from None
            if lesson is not None and exercise.lesson != lesson:
                raise HomeworkBuildError(f"{where}, line {number}: exercise {exercise_id} "
                                         f"belongs to lesson {exercise.lesson}, not to lesson "
                                         f"{lesson}.")
            open_at, solution, indent = number, [], begin.group("indent")
            ids.append(exercise_id)
        elif end:
            if open_at is None:
                raise HomeworkBuildError(f"{where}, line {number}: END SOLUTION without a BEGIN "
                                         "SOLUTION above it in the same cell.")
            out.extend(answer_stub(exercise, indent, answer_names(exercise, solution)))
            open_at = None
        elif open_at is None:
            out.append(line)
        else:
            solution.append(line)
    if open_at is not None:
        raise HomeworkBuildError(f"{where}, line {open_at}: BEGIN SOLUTION is never closed; add "
                                 "'# END SOLUTION' after the solution, in the same cell.")
    return "\n".join(out), ids


def student_notebook(master: Path) -> nbformat.NotebookNode:
    """Return the student version of one master notebook (solutions stubbed, outputs cleared)."""
    nb = cleaned(nbformat.read(str(master), as_version=4))
    lesson, seen = lesson_of(master), {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source, ids = strip_solutions(cell.source, lesson, f"{master.name}, cell {index}")
        for exercise_id in ids:
            if exercise_id in seen:
                raise HomeworkBuildError(f"{master.name}: exercise {exercise_id} has solution "
                                         f"blocks in cells {seen[exercise_id]} and {index}; "
                                         "keep one.")
            seen[exercise_id] = index
    return nb


def build_student_notebooks(out: str | Path = "student",
                            masters: list[Path] | None = None) -> list[Path]:
    """Write the student version of each master notebook (default: every lesson) into ``out``."""
    load_lesson_checks(strict=True)  # a broken check module stops the build, loudly
    masters = lesson_notebooks() if masters is None else [Path(m) for m in masters]
    if not masters:
        raise HomeworkBuildError("No lesson notebooks to build (expected notebooks/NN_*.ipynb).")
    out = Path(out)
    students = [(master, student_notebook(master)) for master in masters]  # check all first
    written = []
    for master, nb in students:
        written.append(write_notebook(nb, out / master.name))
    return written
