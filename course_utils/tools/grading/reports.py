"""The reports of a grading: the grade table, pass rates, a gradebook, one feedback file each.

``write_reports(grades, out, ...)`` writes, each atomically:

- ``grades.csv`` and ``grades.md``: one row per file, a column per exercise, status, notes;
- ``pass_rates.csv``: per exercise, how many submissions passed it, of how many;
- ``gradebook.csv``: one row per file for an LMS import (student id, total, max, percent);
- ``feedback/<file stem>.md``: what one student gets back.
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
               "`timeout` it was stopped at the time limit, `memory` it went over the memory "
               "limit, `crashed` the kernel died: exercises reached before that point are "
               "still checked, the others score 0; `not a notebook`, `invalid notebook` (not "
               "readable JSON) and `unknown lesson` were not run and score 0. An empty score "
               "means the exercise is not part of that submission's lesson.")


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
    """Return the student id of a file: its name without the extension and lesson prefix."""
    stem = Path(submission).stem
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


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
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


def _cell(text: object) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def grades_markdown(grades: list[SubmissionGrade], columns: list[str], how: str,
                    missing: list[str]) -> str:
    """Return the Markdown report: how it was run, the table, pass rates, notes, feedback."""
    lines = ["# Grades", ""]
    if missing:
        lines += ["**WARNING: the submissions ran WITHOUT a sandbox.** Not enforced:", ""]
        lines += [f"- {item}" for item in missing] + [""]
    lines += [how, "",
              "| submission | lesson | " + " | ".join(columns) + " | total | max | status |",
              "|---|---|" + "---:|" * len(columns) + "---:|---:|---|"]
    for g in grades:
        scores = " | ".join(str(g.scores.get(c, "")) for c in columns)
        lines.append(f"| {_cell(g.submission)} | {g.lesson or ''} | {scores} | {g.total} | "
                     f"{'' if g.max_total is None else g.max_total} | {g.status} |")
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
            lines.append(f"### {g.submission}")
            lines += [f"- {c}: {_cell(g.feedback[c])}" for c in sorted(g.feedback, key=id_order)]
            lines.append("")
    return "\n".join(lines)


def feedback_markdown(grade: SubmissionGrade) -> str:
    """Return the feedback file of one submission: score, status, a line per exercise."""
    lines = [f"# Feedback: {grade.submission}", "",
             f"Lesson {grade.lesson or '?'}: **{grade.total} / {grade.max_total or 0}** "
             f"points (status: `{grade.status}`).", ""]
    if grade.note:
        lines += [f"Note: {grade.note}", ""]
    for exercise_id in sorted(grade.scores, key=id_order):
        text = grade.feedback.get(exercise_id, "not graded")
        lines.append(f"- **{exercise_id}** ({grade.scores[exercise_id]} point(s)): {_cell(text)}")
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
            (Path(folder) / f"{Path(g.submission).stem}.md").write_text(feedback_markdown(g))
    return [Path(p) for p in written] + [out / "feedback"]
