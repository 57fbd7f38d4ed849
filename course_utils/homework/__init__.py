"""Exercises with instant feedback, and the tools a teacher uses to hand them out and grade them.

In a lesson, after the learner's answer cell::

    from course_utils.homework import check
    check("03.1")          # reads the answer's variables from the notebook, prints feedback
    hint("03.1")           # its hint (check shows it from the second failed attempt)

Each lesson's exercises live in ``course_utils/homework/lessonNN.py`` and register
themselves with ``@exercise``. See ``core.py`` for the contract.
"""

from .core import EXERCISES, Feedback, assess, check, exercise, hint

__all__ = ["EXERCISES", "Feedback", "check", "assess", "exercise", "hint"]
