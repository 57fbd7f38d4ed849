"""The exercise registry and check(): every kind of wrong answer gives feedback, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from course_utils.homework import EXERCISES, Feedback, assess, check, core, exercise, hint
from course_utils.homework.core import (
    EXTRA_MODULES_ENV,
    LOAD_ERRORS,
    exercise_sort_key,
    get_exercise,
    lesson_exercises,
    load_lesson_checks,
)

FIXTURE_CHECKS = Path(__file__).parents[1] / "fixtures" / "homework" / "lesson99_checks.py"


@pytest.fixture
def lesson99(monkeypatch):
    """Register the test-only lesson 99 for one test, and forget it afterwards."""
    monkeypatch.setenv(EXTRA_MODULES_ENV, str(FIXTURE_CHECKS))
    load_lesson_checks()
    yield
    for exercise_id in [i for i in EXERCISES if i.startswith("99.")]:
        del EXERCISES[exercise_id]
    for name in [n for n in sys.modules if n.startswith("course_extra_checks_")]:
        del sys.modules[name]


def test_right_answer_passes(lesson99):
    verdict = assess("99.1", {"squares": [0, 1, 4, 9, 16]})
    assert verdict == Feedback(True, "`squares` holds the squares of 0..4.")


def test_missing_variable_names_it_and_gives_the_hint(lesson99):
    verdict = assess("99.1", {"something_else": 1})
    assert not verdict.passed
    assert "Define `squares` first" in verdict.message
    assert "Use a list comprehension over range(5)." in verdict.message


def test_wrong_type_gets_the_checks_own_message_plus_hint(lesson99):
    verdict = assess("99.1", {"squares": "0 1 4 9 16"})
    assert not verdict.passed
    assert verdict.message.startswith("`squares` should be a list, not str.")
    assert verdict.message.endswith("Hint: Use a list comprehension over range(5).")


def test_exception_inside_the_check_becomes_feedback(lesson99):
    verdict = assess("99.2", {"double": lambda x: x + "!"})  # the check's call raises TypeError
    assert not verdict.passed
    assert verdict.message.startswith("Checking your answer raised TypeError")
    assert "Hint: Return 2 * x." in verdict.message


def test_stub_left_in_place_says_not_answered(lesson99):
    def double(x):
        raise NotImplementedError("Exercise 99.2: Return 2 * x.")

    verdict = assess("99.2", {"double": double})
    assert not verdict.passed and verdict.message.startswith("Not answered yet")


def test_long_exception_messages_are_cut(lesson99):
    def double(x):
        raise ValueError("x" * 5000)

    verdict = assess("99.2", {"double": double})
    assert not verdict.passed and len(verdict.message) < 500


def test_a_check_message_flooded_with_data_is_cut(lesson99):
    exercise("98.2", lesson="98", names=["x"], hint="h")(lambda x: Feedback.wrong(repr(x)))
    try:
        verdict = assess("98.2", {"x": list(range(10000))})
        assert not verdict.passed and len(verdict.message) < 700
        assert verdict.message.endswith(" ... Hint: h")
    finally:
        del EXERCISES["98.2"]


def test_unknown_exercise_lists_the_known_ones(lesson99):
    verdict = assess("99.9", {})
    assert not verdict.passed
    assert "There is no exercise '99.9'" in verdict.message and "99.1" in verdict.message
    with pytest.raises(KeyError, match="99.9"):
        get_exercise("99.9")


def test_check_returning_something_else_is_reported():
    exercise("98.1", lesson="98", names=[], hint="h")(lambda: True)
    try:
        verdict = assess("98.1", {})
        assert not verdict.passed and "Internal" in verdict.message
    finally:
        del EXERCISES["98.1"]


def test_lesson_exercises_are_in_numeric_order(lesson99):
    assert [ex.id for ex in lesson_exercises("99")] == ["99.1", "99.2", "99.3"]
    assert get_exercise("99.3").points == 2
    assert exercise_sort_key("01.2") < exercise_sort_key("01.10")


def test_check_outside_a_notebook_prints_the_verdict(lesson99, capsys):
    check("99.3", {"word_count": 4})
    assert capsys.readouterr().out.strip() == "[PASSED] Exercise 99.3: 4 words."
    globals()["squares"] = [1, 2]  # a notebook's variables are the caller's globals
    try:
        check("99.1")
    finally:
        del globals()["squares"]
    assert capsys.readouterr().out.startswith(
        "[NOT YET] Exercise 99.1: `squares` should hold 5 numbers, it holds 2.")


def test_a_missing_extra_checks_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(EXTRA_MODULES_ENV, str(tmp_path / "absent.py"))
    with pytest.raises(ImportError, match="absent.py"):
        load_lesson_checks(strict=True)


def test_a_broken_checks_module_does_not_break_the_other_lessons(monkeypatch, tmp_path):
    broken = tmp_path / "broken_checks.py"
    broken.write_text("from course_utils.homework import exercise\n"
                      "@exercise('97.1', lesson='97', names=[], hint='h')\n"
                      "def f(:\n    pass\n")
    monkeypatch.setenv(EXTRA_MODULES_ENV, str(broken))
    try:
        assert assess("01.3", {"pad_count": 1}).message.startswith("Define `tokenizer`")
        verdict = assess("97.1", {})
        assert not verdict.passed and "Could not load" in verdict.message
        assert "broken_checks.py (SyntaxError" in verdict.message
        with pytest.raises(ImportError, match="broken_checks.py cannot be loaded"):
            load_lesson_checks(strict=True)
    finally:
        monkeypatch.delenv(EXTRA_MODULES_ENV)
        LOAD_ERRORS.pop(str(broken), None)


@pytest.fixture
def fresh_attempts(monkeypatch):
    """Start every exercise at zero failed attempts, as a new kernel does."""
    monkeypatch.setattr(core, "FAILED_ATTEMPTS", {})


def test_check_shows_the_hint_only_from_the_second_failed_attempt(lesson99, fresh_attempts,
                                                                   capsys):
    check("99.1", {"squares": [1, 2]})
    first = capsys.readouterr().out
    assert "should hold 5 numbers" in first and 'hint("99.1")' in first
    assert "list comprehension" not in first
    check("99.1", {"squares": [1, 2, 3]})
    second = capsys.readouterr().out
    assert second.strip().endswith("Hint: Use a list comprehension over range(5).")
    check("99.2", {"double": lambda x: x})  # attempts are counted per exercise
    assert "Return 2 * x" not in capsys.readouterr().out


def test_a_passing_check_shows_no_hint_and_hint_after_is_a_parameter(lesson99, fresh_attempts,
                                                                      capsys):
    check("99.1", {"squares": [0, 1, 4, 9, 16]})
    assert capsys.readouterr().out.strip() == (
        "[PASSED] Exercise 99.1: `squares` holds the squares of 0..4.")
    check("99.1", {"squares": "x"}, hint_after=1)
    assert "Hint: Use a list comprehension" in capsys.readouterr().out
    check("99.2", {}, hint_after=3)  # not answered: no hint on the first attempt either
    out = capsys.readouterr().out
    assert "Define `double` first" in out and "Return 2 * x" not in out


def test_hint_prints_the_hint_at_any_time(lesson99, fresh_attempts, capsys):
    hint("99.2")
    assert capsys.readouterr().out.strip() == "Hint for exercise 99.2: Return 2 * x."
    hint("99.9")
    assert "There is no exercise '99.9'" in capsys.readouterr().out


def test_assess_adds_the_hint_for_grading_unless_asked_not_to(lesson99):
    assert assess("99.1", {"squares": [1]}).message.endswith("Hint: Use a list comprehension "
                                                                "over range(5).")
    bare = assess("99.1", {"squares": [1]}, with_hint=False)
    assert not bare.passed and "Hint" not in bare.message
    assert "Hint" not in assess("99.2", {}, with_hint=False).message
