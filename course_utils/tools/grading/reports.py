"""The reports of a grading: the grade table, pass rates, a gradebook, one feedback file each.

``write_reports(grades, out, ...)`` writes, each atomically:

- ``grades.csv`` and ``grades.md``: one row per file, a column per exercise, status, notes;
- ``pass_rates.csv``: per exercise, how many submissions passed it, of how many;
- ``gradebook.csv``: one row per file for an LMS import (student id, total, max, percent);
- ``feedback/<file name>.md``: what one student gets back (keyed by the whole, unique name).

Reports are data, never code: every CSV cell that a spreadsheet would read as a formula
(``= + - @``, a tab or a carriage return first) gets a leading ``'`` (OWASP's advice), and every
text in the Markdown files is escaped, so a name or an error message can add no link, image,
HTML or heading. A grading run without the sandbox says so at the top of every Markdown page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ...atomic import atomic_folder, write_text_atomically
from ..lessons import LESSON_PREFIX

STATUS_HELP = ("Status: `ok` every cell ran; `errors` it ran to the end but some cell raised "
               "(an exercise whose answer cell raised `NotImplementedError` scores 0); "
               "`timeout` it was stopped at the time limit (one deadline for its run and its "
               "checks), `memory` it went over the memory limit (its processes and the files "
               "it wrote in memory), `processes` it started too many processes, `output` its "
               "outputs passed the output limit (the first part is kept), `disk` a folder it "
               "writes to filled up, `crashed` the kernel died: exercises reached before that "
               "point are still checked, the others score 0; `not a notebook`, `invalid "
               "notebook`, `too large` and `unknown lesson` were not run and score 0; `skipped` "
               "is not a file to grade (a link, a folder, a pipe, a device, a hidden file); "
               "`grader-error` the grader failed on this file (the note says why). An empty "
               "score means the exercise is not part of that submission's lesson. The verdicts "
               "are the grader's: text a notebook printed (a `[PASSED]`) is the student's.")
UNSAFE_BANNER = "**WARNING: the submissions ran WITHOUT a sandbox.**"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = set("\\`*_[]<>&|~!#")


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


def id_order(exercise_id: str) -> tuple:
    """Return a key ordering ids numerically, hidden ids like "03.h1" after the numbered ones."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in str(exercise_id).split("."))


def student_id(submission: str) -> str:
    """Return the student id of a file: its shown name without the extension and lesson prefix."""
    stem = submission[:-len(".ipynb")] if submission.endswith(".ipynb") else Path(submission).stem
    match = LESSON_PREFIX.match(stem)
    return stem[match.end():] if match and stem[match.end():] else stem


def exercise_columns(grades: list[SubmissionGrade]) -> list[str]:
    """Return every exercise id graded in ``grades``, in lesson and id order."""
    return sorted({exercise_id for g in grades for exercise_id in g.scores}, key=id_order)


def fill_unread(grades: list[SubmissionGrade], columns: list[str]) -> None:
    """Give files that could not be graded a zero in every column they could have scored in."""
    for g in grades:
        if not g.scores:
            lesson_columns = [c for c in columns if g.lesson and c.split(".")[0] == g.lesson]
            g.scores = {c: 0 for c in (lesson_columns or columns)}


def csv_cell(value: object) -> object:
    """Return ``value`` safe for a spreadsheet: text that starts like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([[csv_cell(v) for v in row]
                                                        for row in rows])
    return buffer.getvalue()


def grades_csv(grades: list[SubmissionGrade], columns: list[str]) -> str:
    """Return the grades as CSV: submission, lesson, a column per exercise, total, status, note."""
    rows = [["submission", "lesson", *columns, "total", "max_total", "status", "note"]]
    rows += [[g.submission, g.lesson or "", *[g.scores.get(c, "") for c in columns], g.total,
              "" if g.max_total is None else g.max_total, g.status, g.note] for g in grades]
    return _csv(rows)


def gradebook_csv(grades: list[SubmissionGrade]) -> str:
    """Return one row per file for an LMS: student id, lesson, total, max, percent, status."""
    rows = [["student_id", "lesson", "total", "max", "percent", "status"]]
    for g in grades:
        maximum = g.max_total or 0
        percent = f"{100 * g.total / maximum:.1f}" if maximum else "0.0"
        rows.append([student_id(g.submission), g.lesson or "", g.total, maximum, percent,
                     g.status])
    return _csv(rows)


def pass_rates(grades: list[SubmissionGrade], columns: list[str]) -> list[tuple[str, int, int]]:
    """Return (exercise id, passed, graded) per exercise over the files that were run."""
    rates = []
    for column in columns:
        graded = [g for g in grades if column in g.scores and g.max_total]
        rates.append((column, sum(1 for g in graded if g.scores[column] > 0), len(graded)))
    return rates


def pass_rates_csv(rates: list[tuple[str, int, int]]) -> str:
    """Return the pass rates as CSV: exercise, passed, graded, percent."""
    return _csv([["exercise", "passed", "graded", "percent"]] +
                [[c, p, n, f"{100 * p / n:.1f}" if n else ""] for c, p, n in rates])


def markdown_text(text: object) -> str:
    """Return ``text`` as inert Markdown: one line, HTML and Markdown syntax escaped."""
    entities = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
    out = []
    for char in " ".join(str(text).split()):
        if char in entities:
            out.append(entities[char])
        elif char in MARKDOWN_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


_cell = markdown_text


def feedback_file_name(submission: str) -> str:
    """Return the feedback file of a submission: its whole shown name, safe on any disk."""
    import hashlib

    safe = "".join(c if c.isalnum() or c in "._-() " else "_" for c in submission).strip()
    if len(safe) > 150 or safe != submission or safe.startswith("."):
        digest = hashlib.sha256(submission.encode()).hexdigest()[:10]
        safe = f"{safe.lstrip('.')[:140]}~{digest}"
    return f"{safe}.md"


def executed_file_name(submission: str) -> str:
    """Return the file of a submission's executed copy in ``executed/``: safe, unique, .ipynb."""
    name = feedback_file_name(submission)[:-len(".md")]
    return name if name.endswith(".ipynb") else f"{name}.ipynb"


def grades_markdown(grades: list[SubmissionGrade], columns: list[str], how: str,
                    missing: list[str]) -> str:
    """Return the Markdown report: how it was run, the table, pass rates, notes, feedback."""
    lines = ["# Grades", ""]
    if missing:
        lines += [f"{UNSAFE_BANNER} Not enforced:", ""]
        lines += [f"- {_cell(item)}" for item in missing] + [""]
    lines += [_cell(how), "",
              "| submission | lesson | " + " | ".join(columns) + " | total | max | status |",
              "|---|---|" + "---:|" * len(columns) + "---:|---:|---|"]
    for g in grades:
        scores = " | ".join(str(g.scores.get(c, "")) for c in columns)
        lines.append(f"| {_cell(g.submission)} | {_cell(g.lesson or '')} | {scores} | "
                     f"{g.total} | {'' if g.max_total is None else g.max_total} | "
                     f"{_cell(g.status)} |")
    lines += ["", STATUS_HELP, "", "## Pass rate per exercise", "",
              "| exercise | passed | of | percent |", "|---|---:|---:|---:|"]
    lines += [f"| {c} | {p} | {n} | {100 * p / n:.0f}% |" if n else f"| {c} | 0 | 0 | |"
              for c, p, n in pass_rates(grades, columns)]
    lines.append("")
    noted = [g for g in grades if g.note]
    if noted:
        lines += ["## Notes", ""] + [f"- **{_cell(g.submission)}**: {_cell(g.note)}" for g in noted]
        lines.append("")
    lines += ["## Feedback per exercise", ""]
    for g in grades:
        if g.feedback:
            lines.append(f"### {_cell(g.submission)}")
            lines += [f"- {c}: {_cell(g.feedback[c])}" for c in sorted(g.feedback, key=id_order)]
            lines.append("")
    return "\n".join(lines)


def feedback_markdown(grade: SubmissionGrade, missing: list[str] = ()) -> str:
    """Return the feedback file of one submission: score, status, a line per exercise."""
    lines = [f"{UNSAFE_BANNER}", ""] if missing else []
    lines += [f"# Feedback: {_cell(grade.submission)}", "",
              f"Lesson {_cell(grade.lesson or '?')}: **{grade.total} / {grade.max_total or 0}** "
              f"points (status: {_cell(grade.status)}).", "",
              "These verdicts are the grader's, computed apart from the notebook; what the "
              "notebook printed (a \\[PASSED\\] line) is not a verdict.", ""]
    if grade.note:
        lines += [f"Note: {_cell(grade.note)}", ""]
    for exercise_id in sorted(grade.scores, key=id_order):
        text = grade.feedback.get(exercise_id, "not graded")
        lines.append(f"- **{_cell(exercise_id)}** ({grade.scores[exercise_id]} point(s)): "
                     f"{_cell(text)}")
    return "\n".join(lines) + "\n"


def write_reports(grades: list[SubmissionGrade], out: Path, how: str,
                  missing: list[str]) -> list[Path]:
    """Write every report of ``grades`` into ``out``, each atomically; return their paths."""
    out = Path(out)
    columns = exercise_columns(grades)
    fill_unread(grades, columns)
    written = [write_text_atomically(out / "grades.csv", grades_csv(grades, columns)),
               write_text_atomically(out / "grades.md",
                                     grades_markdown(grades, columns, how, missing)),
               write_text_atomically(out / "pass_rates.csv",
                                     pass_rates_csv(pass_rates(grades, columns))),
               write_text_atomically(out / "gradebook.csv", gradebook_csv(grades))]
    with atomic_folder(out / "feedback") as folder:
        for g in grades:
            (Path(folder) / feedback_file_name(g.submission)).write_text(
                feedback_markdown(g, missing))
    return [Path(p) for p in written] + [out / "feedback"]
