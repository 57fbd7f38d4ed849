"""The homework markers in a lesson's cells: solution blocks, answer stubs, ``check`` calls.

Solutions sit between ``# BEGIN SOLUTION NN.k`` and ``# END SOLUTION``; the student build
leaves ``# YOUR ANSWER NN.k`` in their place; ``check("NN.k")`` judges the answer.
"""

from __future__ import annotations

import re

BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<id>.*)$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\b.*$")
ANSWER = re.compile(r"#\s*YOUR ANSWER (?P<id>\d+\.\d+)\b")
CHECK_CALL = re.compile(r"""check\(\s*["'](?P<id>\d+\.\d+)["']""")


def answer_ids(source: str) -> set[str]:
    """Return the exercises a cell's source answers: its solution blocks and answer stubs."""
    ids = {m.group("id").strip() for m in map(BEGIN.match, source.split("\n")) if m}
    return ids | {m.group("id") for m in ANSWER.finditer(source)}


def exercise_ids(source: str) -> set[str]:
    """Return the exercises a cell's source names: answers and ``check("NN.k")`` calls."""
    return answer_ids(source) | {m.group("id") for m in CHECK_CALL.finditer(source)}
