"""The exercise registry and ``check()``: feedback that says what is wrong, never a crash.

An exercise is a function registered with ``@exercise``. It receives the variables it
names, taken from the learner's notebook, and returns ``Feedback``: passed or not, and
a message. ``check(exercise_id)`` finds those variables, runs the function, turns any
exception into feedback (with the exercise's hint from the second failed attempt on, or
on ``hint(exercise_id)``) and prints the verdict. The grader never reads this printed verdict:
it judges the captured answers again, in a process of its own.

Example::

    @exercise("03.9", lesson="03", names=["valid_loader"],
              hint="Use a SequentialSampler so every validation example is seen once, in order.")
    def valid_loader_is_sequential(valid_loader):
        if not isinstance(valid_loader.sampler, SequentialSampler):
            return Feedback.wrong(f"valid_loader shuffles ({type(valid_loader.sampler).__name__}).")
        return Feedback.right("valid_loader visits every example once, in order.")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE = 600  # characters of feedback shown; longer messages are cut


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer."""

    passed: bool
    message: str

    @classmethod
    def right(cls, message: str = "Correct.") -> Feedback:
        """Return a passing verdict."""
        return cls(True, message)

    @classmethod
    def wrong(cls, message: str) -> Feedback:
        """Return a failing verdict that says what is wrong."""
        return cls(False, message)

    @classmethod
    def not_a_function(cls, name: str, value: object, takes: str = "") -> Feedback:
        """Return the failing verdict for an answer ``name`` that should be a function."""
        of = f" of {takes}" if takes else ""
        return cls(False, f"`{name}` should be a function{of}, not a {type(value).__name__}: "
                          "the check calls it on inputs of its own.")


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its id, lesson, the variables it reads, its hint and check."""

    id: str
    lesson: str
    names: list[str]
    hint: str
    function: Callable[..., Feedback]
    points: int = 1
    title: str = field(default="")
    parameter_tables: tuple[str, ...] = ()   # modules the check judges by their parameter table


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, lesson: str, names: list[str], hint: str, points: int = 1,
             title: str = "", parameter_tables: tuple[str, ...] = ()
             ) -> Callable[[Callable[..., Feedback]], Callable[..., Feedback]]:
    """Register a check function as exercise ``exercise_id`` (e.g. ``"03.1"``).

    ``parameter_tables``: names of modules the check reads only through ``named_parameters()``,
    so that the grader can judge them from their ``ParameterTable`` (``homework.modules``).
    """

    def register(function: Callable[..., Feedback]) -> Callable[..., Feedback]:
        EXERCISES[exercise_id] = Exercise(exercise_id, lesson, list(names), hint, function,
                                          points, title or (function.__doc__ or "").strip(),
                                          tuple(parameter_tables))
        return function

    return register


EXTRA_MODULES_ENV = "COURSE_HOMEWORK_MODULES"


LOAD_ERRORS: dict[str, str] = {}


def _import_checks(entry: str) -> None:
    """Import one check module: ``course_utils.homework.lessonNN``, a module name or a .py path."""
    import importlib
    import importlib.util
    import os
    import sys

    if not entry.endswith(".py"):
        importlib.import_module(entry)
        return
    name = f"course_extra_checks_{abs(hash(os.path.abspath(entry)))}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, entry)
    if spec is None or spec.loader is None or not os.path.isfile(entry):
        raise ImportError(f"{EXTRA_MODULES_ENV} names {entry!r}, which is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def load_lesson_checks(strict: bool = False) -> None:
    """Import every ``lessonNN`` module, and any in ``$COURSE_HOMEWORK_MODULES``, to register them.

    ``$COURSE_HOMEWORK_MODULES`` lists extra check modules (file paths ending in ``.py``
    or importable module names) separated by ``os.pathsep``: a teacher's own exercises,
    or the test suite's fixture lesson. A module that fails to import is recorded in
    ``LOAD_ERRORS`` (so one broken lesson does not break every other lesson's checks),
    or raised when ``strict`` (the build and the grader use that).
    """
    import os
    import pkgutil

    from . import __path__ as package_path

    entries = [f"{__package__}.{m.name}" for m in pkgutil.iter_modules(package_path)
               if m.name.startswith("lesson")]
    entries += list(filter(None, os.environ.get(EXTRA_MODULES_ENV, "").split(os.pathsep)))
    for entry in entries:
        try:
            _import_checks(entry)
            LOAD_ERRORS.pop(entry, None)
        except Exception as err:
            LOAD_ERRORS[entry] = f"{type(err).__name__}: {err}"
            if strict:
                raise ImportError(f"The exercise checks in {entry} cannot be loaded: "
                                  f"{LOAD_ERRORS[entry]}") from err


_load_lesson_checks = load_lesson_checks


def exercise_sort_key(exercise_id: str) -> tuple:
    """Return a key that orders ids numerically ("01.2" before "01.10")."""
    return tuple(int(part) if part.isdigit() else part for part in str(exercise_id).split("."))


def lesson_exercises(lesson: str) -> list[Exercise]:
    """Return the registered exercises of ``lesson`` (e.g. ``"03"``), in id order."""
    load_lesson_checks()
    return sorted((ex for ex in EXERCISES.values() if ex.lesson == lesson),
                  key=lambda ex: exercise_sort_key(ex.id))


def get_exercise(exercise_id: str) -> Exercise:
    """Return the registered exercise ``exercise_id``; raise ``KeyError`` naming the known ids."""
    load_lesson_checks()
    if exercise_id not in EXERCISES:
        raise KeyError(f"There is no exercise {exercise_id!r}; registered: "
                       f"{', '.join(sorted(EXERCISES, key=exercise_sort_key)) or 'none'}.")
    return EXERCISES[exercise_id]


def _caller_namespace() -> dict[str, Any]:
    """Return the notebook's variables (IPython's user namespace, else the caller's globals)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return inspect.stack()[2].frame.f_globals


def _with_hint(message: str, hint: str, include: bool) -> str:
    """Return ``message`` followed by ``hint`` when ``include``, else ``message`` alone."""
    return f"{message} Hint: {hint}" if include and hint not in message else message


def assess(exercise_id: str, namespace: dict[str, Any], with_hint: bool = True) -> Feedback:
    """Run exercise ``exercise_id`` on the variables in ``namespace``; never raise.

    A failing verdict ends with the exercise's hint when ``with_hint`` (grading feedback);
    ``check()`` asks without it and adds the hint from the second failed attempt on. The check
    modules are imported only when ``exercise_id`` is not registered yet (the grader's judge
    registers just the lessons it judges).
    """
    if exercise_id not in EXERCISES:
        _load_lesson_checks()
    if exercise_id not in EXERCISES:
        broken = "".join(f" Could not load {entry} ({error})."
                         for entry, error in LOAD_ERRORS.items())
        return Feedback.wrong(f"There is no exercise {exercise_id!r}; known: "
                              f"{', '.join(sorted(EXERCISES, key=exercise_sort_key))}.{broken}")
    ex = EXERCISES[exercise_id]
    missing = [name for name in ex.names if name not in namespace]
    if missing:
        return Feedback.wrong(_with_hint(f"Define {', '.join(f'`{n}`' for n in missing)} first "
                                         "(run your answer cell above).", ex.hint, with_hint))
    try:
        verdict = ex.function(*(namespace[name] for name in ex.names))
    except NotImplementedError:
        return Feedback.wrong(_with_hint("Not answered yet: write your code in the answer cell "
                                         "(in place of the `raise NotImplementedError` line) and "
                                         "run it.", ex.hint, with_hint))
    except Exception as err:  # a wrong answer must give feedback, not a traceback
        detail = str(err)
        detail = detail if len(detail) <= 300 else detail[:300] + " ..."
        return Feedback.wrong(_with_hint(f"Checking your answer raised {type(err).__name__}: "
                                         f"{detail}.", ex.hint, with_hint))
    if not isinstance(verdict, Feedback):
        return Feedback.wrong(f"Internal: exercise {exercise_id} returned {verdict!r}.")
    if len(verdict.message) > MAX_MESSAGE:  # e.g. a tensor's repr inside the message
        verdict = Feedback(verdict.passed, verdict.message[:MAX_MESSAGE] + " ...")
    if not verdict.passed:
        verdict = Feedback.wrong(_with_hint(verdict.message, ex.hint, with_hint))
    return verdict


HINT_AFTER = 2  # check() shows the hint from this failed attempt on

FAILED_ATTEMPTS: dict[str, int] = {}  # failed check() calls per exercise, in this process


def hint(exercise_id: str) -> None:
    """Print the hint of exercise ``exercise_id`` (e.g. ``hint("03.1")``)."""
    try:
        text = f"Hint for exercise {exercise_id}: {get_exercise(exercise_id).hint}"
    except KeyError as err:
        text = err.args[0]
    print(text)


def check(exercise_id: str, namespace: dict[str, Any] | None = None,
          hint_after: int = HINT_AFTER) -> None:
    """Check the learner's answer to one exercise and print the verdict (see ``assess``).

    A wrong answer gets what is wrong; the hint joins it from failed attempt ``hint_after``
    on (counted per exercise in this process), or at any time with ``hint(exercise_id)``.
    """
    namespace = namespace if namespace is not None else _caller_namespace()
    verdict = assess(exercise_id, namespace, with_hint=False)
    if not verdict.passed and exercise_id in EXERCISES:
        FAILED_ATTEMPTS[exercise_id] = FAILED_ATTEMPTS.get(exercise_id, 0) + 1
        if FAILED_ATTEMPTS[exercise_id] >= hint_after:
            verdict = Feedback.wrong(_with_hint(verdict.message, EXERCISES[exercise_id].hint,
                                                True))
        else:
            verdict = Feedback.wrong(f"{verdict.message} (Try again: the next check shows a "
                                     f'hint, or call hint("{exercise_id}") now.)')
    mark = "PASSED" if verdict.passed else "NOT YET"
    text = f"[{mark}] Exercise {exercise_id}: {verdict.message}"
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display({"text/plain": text}, raw=True)
            return
    except ImportError:
        pass
    print(text)
