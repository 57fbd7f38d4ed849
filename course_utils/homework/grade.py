"""Grade a folder of submitted notebooks: execute each, read its checks, write a table.

Each ``*.ipynb`` in the folder is cleared of its outputs (a submission's stored outputs
are never trusted), executed with papermill on the offline profile in a subprocess with
a wall-clock limit, and scored from the ``check("NN.k")`` verdicts its own run printed.
The lesson is read from the file name (``01_...ipynb``) or, failing that, from the
exercise ids in its cells; the submission is graded on every exercise registered for
that lesson. One row per file goes to ``grades.csv`` and ``grades.md``; the executed
notebooks are kept under ``executed/`` beside them.

Example::

    >>> grades = grade_submissions("submissions", timeout=600)     # doctest: +SKIP

or ``python -m course_utils homework grade submissions/ --timeout 600``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .build import ANSWER, BEGIN, lesson_of, write_notebook_atomically
from .core import METADATA_KEY, exercise_sort_key, lesson_exercises, load_lesson_checks

CHECK_CALL = re.compile(r"""check\(\s*["'](?P<id>\d+\.\d+)["']""")
REPORT_FILES = {"grades.csv", "grades.md"}
CRASH_EXIT = 3


@dataclass
class SubmissionGrade:
    """The grade of one submitted file: a score per exercise, the total, what went wrong."""

    submission: str
    lesson: str | None
    status: str
    scores: dict[str, int] = field(default_factory=dict)
    max_total: int | None = None
    note: str = ""
    feedback: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Return the sum of the exercise scores."""
        return sum(self.scores.values())


def submission_lessons(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    """Return the lesson(s) a submission answers: its file-name prefix, else its exercise ids."""
    prefix = lesson_of(path)
    if prefix and lesson_exercises(prefix):
        return [prefix]
    ids = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.split("\n"):
                begin = BEGIN.match(line)
                ids.update([begin.group("id").strip()] if begin else [])
            ids.update(m.group("id") for m in ANSWER.finditer(cell.source))
            ids.update(m.group("id") for m in CHECK_CALL.finditer(cell.source))
    lessons = {i.split(".")[0] for i in ids}
    return sorted(lesson for lesson in lessons if lesson_exercises(lesson))


SHELL_LINE = re.compile(r"^(?P<indent>\s*)(!|%(pip|conda|sx|system)\b)")
SHELL_CELL = re.compile(r"^\s*%%(bash|sh|script|system)\b")
SKIPPED = "skipped when grading:"


def without_shell_commands(source: str) -> str:
    """Return ``source`` with shell escapes (``!git clone``, ``%pip install``) turned off.

    A Colab submission starts with the cell that clones and installs the course: run while
    grading, it would reinstall the package into the grader's environment. Each such line
    becomes ``pass  # skipped when grading: ...`` at its indentation.
    """
    if SHELL_CELL.match(source):
        return "\n".join(f"# {SKIPPED} {line}" for line in source.split("\n"))
    lines = []
    for line in source.split("\n"):
        shell = SHELL_LINE.match(line)
        lines.append(f"{shell.group('indent')}pass  # {SKIPPED} {line.strip()}" if shell else line)
    return "\n".join(lines)


def cleared(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``nb`` ready to grade: outputs, counts and run records removed, shell lines off."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.source = without_shell_commands(cell.source)
    return nb


def _kill_tree(pid: int) -> None:
    """Kill a process we started and everything it started (the kernel has its own session)."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = parent.children(recursive=True) + [parent]
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def execute_with_limit(notebook: Path, output: Path, cwd: Path, timeout: float) -> tuple[str, str]:
    """Execute ``notebook`` into ``output`` within ``timeout`` seconds; return (status, detail).

    Status is ``"finished"`` (every cell ran; some may have raised), ``"timeout"`` or
    ``"crashed"`` (the kernel died or papermill failed).
    """
    command = [sys.executable, "-m", "course_utils.homework.grade", "--execute", str(notebook),
               str(output), str(cwd), str(int(max(1, timeout)))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(process.pid)
        process.communicate()
        return "timeout", f"stopped after the time limit of {timeout:g} s"
    if process.returncode == 0:
        return "finished", ""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return "crashed", (lines[-1] if lines else f"exit status {process.returncode}")[:300]


def _read_executed(output: Path) -> nbformat.NotebookNode | None:
    try:
        return nbformat.read(str(output), as_version=4)
    except Exception:  # a run killed mid-save leaves a truncated file
        return None


def _first_error(cell: nbformat.NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:200]
    return None


def score_executed(nb: nbformat.NotebookNode | None, lesson_ids: dict[str, int],
                   run_status: str, run_detail: str) -> tuple[dict[str, int], dict[str, str], str]:
    """Return (scores, feedback, note) of one executed submission for the given exercises."""
    verdicts, answer_errors, first_error = {}, {}, None
    for index, cell in enumerate(nb.cells if nb is not None else []):
        if cell.cell_type != "code":
            continue
        error = _first_error(cell)
        if error and first_error is None:
            first_error = f"cell {index} raised {error}"
        answer_ids = [m.group("id") for m in ANSWER.finditer(cell.source)]
        answer_ids += [m.group("id").strip() for m in map(BEGIN.match, cell.source.split("\n")) if m]
        for exercise_id in answer_ids:
            if error:
                answer_errors[exercise_id] = error
        for out in cell.get("outputs", []):
            record = out.get("metadata", {}).get(METADATA_KEY)
            if isinstance(record, dict) and record.get("id") in lesson_ids:
                text = out.get("data", {}).get("text/plain", "")
                verdicts[record["id"]] = (record.get("passed") is True, str(text).strip())
    reason = {"timeout": "not reached before the time limit",
              "crashed": "not reached: the run stopped early"}.get(
        run_status, "no check output: the check cell was removed or never ran")
    scores, feedback = {}, {}
    for exercise_id, points in lesson_ids.items():
        error = answer_errors.get(exercise_id)
        if error and error.startswith("NotImplementedError"):  # the stub: not answered, and
            scores[exercise_id] = 0                              # a leftover variable must not count
            feedback[exercise_id] = f"not answered: the answer cell raised {error}"
        elif exercise_id in verdicts:
            passed, text = verdicts[exercise_id]
            scores[exercise_id] = points if passed else 0
            feedback[exercise_id] = text + (f" (its answer cell raised {error})" if error else "")
        else:
            scores[exercise_id], feedback[exercise_id] = 0, reason
    notes = [run_detail] if run_detail else []
    notes += [first_error] if first_error else []
    return scores, feedback, "; ".join(notes)


def grade_notebook(path: Path, executed_dir: Path, timeout: float) -> SubmissionGrade:
    """Execute and score one submitted file (never raises on a bad submission)."""
    start = time.perf_counter()
    if path.suffix != ".ipynb":
        return SubmissionGrade(path.name, lesson_of(path), "not a notebook",
                               note="not a notebook (.ipynb): nothing was run")
    try:
        nb = nbformat.read(str(path), as_version=4)
        _ = nb.cells
    except Exception as err:
        return SubmissionGrade(path.name, lesson_of(path), "invalid notebook",
                               note=f"not a valid notebook ({type(err).__name__}): nothing was run")
    lessons = submission_lessons(path, nb)
    if not lessons:
        return SubmissionGrade(path.name, None, "unknown lesson",
                               note="no lesson found: name the file NN_... or keep its exercise cells")
    lesson_ids = {ex.id: ex.points for lesson in lessons for ex in lesson_exercises(lesson)}
    output = executed_dir / path.name
    with tempfile.TemporaryDirectory(prefix="grading-") as work:
        staged = Path(work) / path.name
        nbformat.write(cleared(nb), str(staged))
        running = Path(work) / f"executed-{path.name}"
        status, detail = execute_with_limit(staged, running, Path(work), timeout)
        executed = _read_executed(running)
        if executed is not None:
            write_notebook_atomically(executed, output)
    scores, feedback, note = score_executed(executed, lesson_ids, status, detail)
    max_total = sum(lesson_ids.values())
    if status == "finished":
        status = "errors" if note else "ok"
    return SubmissionGrade(path.name, ",".join(lessons), status, scores, max_total, note,
                           feedback, round(time.perf_counter() - start, 1))


def exercise_columns(grades: list[SubmissionGrade]) -> list[str]:
    """Return every exercise id graded in ``grades``, in lesson and id order."""
    ids = {exercise_id for g in grades for exercise_id in g.scores}
    return sorted(ids, key=exercise_sort_key)


def _fill_unread(grades: list[SubmissionGrade], columns: list[str]) -> None:
    """Give files that could not be graded a zero in every column they could have scored in."""
    for g in grades:
        if not g.scores:
            lesson_columns = [c for c in columns if g.lesson and c.split(".")[0] == g.lesson]
            g.scores = {c: 0 for c in (lesson_columns or columns)}


def grades_csv(grades: list[SubmissionGrade], columns: list[str]) -> str:
    """Return the grades as CSV: submission, lesson, one column per exercise, total, status, note."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "lesson", *columns, "total", "max_total", "status", "note"])
    for g in grades:
        writer.writerow([g.submission, g.lesson or "", *[g.scores.get(c, "") for c in columns],
                         g.total, "" if g.max_total is None else g.max_total, g.status, g.note])
    return buffer.getvalue()


def _cell(text: object) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def grades_markdown(grades: list[SubmissionGrade], columns: list[str], timeout: float) -> str:
    """Return the grades as a Markdown report: the table, what the statuses mean, the feedback."""
    lines = ["# Grades", "",
             f"Each notebook was cleared of its outputs and executed on the offline profile "
             f"with a limit of {timeout:g} s; scores come from that run's `check(...)` cells.", "",
             "| submission | lesson | " + " | ".join(columns) + " | total | max | status |",
             "|---|---|" + "---:|" * len(columns) + "---:|---:|---|"]
    for g in grades:
        scores = " | ".join(str(g.scores.get(c, "")) for c in columns)
        lines.append(f"| {_cell(g.submission)} | {g.lesson or ''} | {scores} | {g.total} | "
                     f"{'' if g.max_total is None else g.max_total} | {g.status} |")
    lines += ["", "Status: `ok` every cell ran; `errors` it ran to the end but some cell raised "
              "(an exercise whose answer cell raised scores 0); `timeout` it was stopped at the "
              "limit (exercises after that point score 0); `crashed` the kernel died; "
              "`not a notebook`, `invalid notebook` (not readable JSON) and `unknown lesson` "
              "were not run and score 0. An empty score means the exercise is not part of that "
              "submission's lesson.", ""]
    noted = [g for g in grades if g.note]
    if noted:
        lines += ["## Notes", ""] + [f"- **{_cell(g.submission)}**: {_cell(g.note)}" for g in noted]
        lines.append("")
    lines += ["## Feedback per exercise", ""]
    for g in grades:
        if g.feedback:
            lines.append(f"### {g.submission}")
            lines += [f"- {c}: {_cell(g.feedback[c])}" for c in sorted(g.feedback, key=exercise_sort_key)]
            lines.append("")
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def grade_submissions(submissions: str | Path, out: str | Path | None = None, timeout: float = 600,
                      progress: bool = False) -> list[SubmissionGrade]:
    """Grade every file in ``submissions``; write grades.csv, grades.md and executed/ to ``out``."""
    load_lesson_checks(strict=True)  # grading with a broken check module would score zeros
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder: pass the folder holding the submissions.")
    out = Path(out) if out else submissions
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in submissions.iterdir() if p.is_file() and not p.name.startswith(".")
                   and not (p.name in REPORT_FILES and p.parent.resolve() == out.resolve()))
    if not files:
        raise ValueError(f"{submissions} holds no submission files.")
    grades = []
    for path in files:
        grade = grade_notebook(path, out / "executed", timeout)
        grades.append(grade)
        if progress:
            print(f"{grade.submission:<40} {grade.total:>3}/{grade.max_total or 0:<3} "
                  f"{grade.status:<15} {grade.seconds:6.1f} s", file=sys.stderr)
    columns = exercise_columns(grades)
    _fill_unread(grades, columns)
    _write_atomically(out / "grades.csv", grades_csv(grades, columns))
    _write_atomically(out / "grades.md", grades_markdown(grades, columns, timeout))
    return grades


def _execute_worker(notebook: str, output: str, cwd: str, cell_timeout: str) -> int:
    """Run one notebook with papermill, going on past errors (the subprocess side)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(notebook, output, parameters={"profile": "offline"}, cwd=cwd,
                                   kernel_name="python3", language="python", progress_bar=False,
                                   execution_timeout=int(cell_timeout), allow_errors=True,
                                   interrupt_on_timeout=True)
    except PapermillExecutionError:
        return 0  # cell errors are in the executed notebook; scoring reads them there
    except Exception as err:
        print(f"{type(err).__name__}: {err}".replace("\n", " ")[:300], file=sys.stderr)
        return CRASH_EXIT
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--execute":
        sys.exit(_execute_worker(*sys.argv[2:]))
    sys.exit("usage: python -m course_utils.homework.grade --execute IN OUT CWD CELL_TIMEOUT "
             "(internal; teachers use: python -m course_utils homework grade FOLDER)")
