"""Exercise texts: hints and feedback nudge without giving the answer; the README counts right.

A hint points at a concept or a section, never at the course function whose source is the answer
nor at the algorithm's steps. Wrong-answer feedback says what is wrong about the learner's value
(too large, ignores the last batch, off by one step), never the formula or a solution line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import nbformat
import pytest
from test_homework_build import giveaways, solution_blocks, solution_statements, squeezed

from course_utils.homework.core import EXERCISES, load_lesson_checks
from course_utils.tools.lessons import lesson_notebooks

README = Path(__file__).parents[2] / "README.md"
LESSONS = ("01", "02", "03", "04", "05", "06")
# course_utils functions whose source solves an exercise: never in its hint or feedback
SOLVING_HELPERS = {"03.2": ["encode_labels"],
                   "04.2": ["ClassifierHead"], "04.3": ["most_confident_mistakes"],
                   "05.3": ["get_linear_schedule_with_warmup("], "06.1": ["first_letter_id"],
                   "06.2": ["align_labels"]}
# a formula written as code: "(a - b) / (c - d)", "a / b", "x * y / z"
FORMULA = re.compile(r"\w\s*[-+]\s*\w+\s*\)\s*/\s*\(|\b[a-z_]+\s*/\s*[a-z_]+\b|\w+\s*\*\s*\w+\s*/")


def wrong_messages(lesson: str) -> dict[str, list[str]]:
    """Return {exercise id: the text of every Feedback.wrong/not_a_function in its check}."""
    load_lesson_checks()
    module = importlib.import_module(f"course_utils.homework.lesson{lesson}")
    tree = ast.parse(inspect.getsource(module))
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    found = {}
    for exercise in EXERCISES.values():
        if exercise.lesson != lesson or exercise.function.__name__ not in functions:
            continue
        texts = []
        for node in ast.walk(functions[exercise.function.__name__]):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                    "wrong", "not_a_function"):
                parts = [n.value for n in ast.walk(node)
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                texts.append("".join(parts))
        found[exercise.id] = texts
    return found


def test_the_formula_detector_catches_the_old_05_3_feedback():
    assert FORMULA.search("after warmup it falls as (total_steps - step) / (total_steps - "
                          "warmup_steps).")
    assert FORMULA.search("during warmup the factor rises as step / warmup_steps.")
    assert not FORMULA.search("after warmup your factor is too large (off by one step?).")


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_feedback_names_a_solving_helper_or_a_formula(lesson):
    for exercise_id, texts in wrong_messages(lesson).items():
        assert texts, f"{exercise_id}: no Feedback.wrong found"
        for text in texts:
            for helper in SOLVING_HELPERS.get(exercise_id, []):
                named_as_borrowed = "the course's `" in text  # "you used X": allowed
                assert named_as_borrowed or helper not in text, (exercise_id, helper, text)
            assert not FORMULA.search(text), f"{exercise_id} prints a formula: {text!r}"


def test_no_hint_names_a_solving_helper():
    load_lesson_checks()
    for exercise_id, helpers in SOLVING_HELPERS.items():
        for helper in helpers:
            assert helper.rstrip("(") not in EXERCISES[exercise_id].hint, (exercise_id, helper)


def test_no_hint_or_feedback_gives_away_its_solution():
    for master_path in lesson_notebooks():
        lesson = master_path.name[:2]
        if lesson not in LESSONS:
            continue
        messages = wrong_messages(lesson)
        for exercise_id, lines in solution_blocks(nbformat.read(master_path, 4)).items():
            assert not giveaways(EXERCISES[exercise_id].hint, lines), exercise_id
            for text in messages.get(exercise_id, []):
                squeezed_text = squeezed(text)
                leaked = [s for s in solution_statements(lines)
                          if len(s) >= 12 and s in squeezed_text]
                assert not leaked, f"{exercise_id}'s feedback holds its solution: {leaked}"


def test_readme_counts_the_exercises_and_the_judgements():
    load_lesson_checks()
    lessons = {path.name[:2] for path in lesson_notebooks()}
    registered = [ex for ex in EXERCISES.values() if ex.lesson in lessons]
    judgements = [ex for ex in registered if getattr(ex.function, "kind", "") == "judgement"]
    text = " ".join(README.read_text().split())
    match = re.search(r"(\d+) exercises in all, (\d+) of them", text)
    assert match, "README's Homework section no longer states the exercise count"
    assert (int(match.group(1)), int(match.group(2))) == (len(registered), len(judgements)), (
        f"README says {match.group(0)!r}; the registry has {len(registered)} exercises, "
        f"{len(judgements)} marked kind='judgement'")
