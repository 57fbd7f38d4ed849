"""Capture a submission's answers in its kernel, as plain data, for checking elsewhere.

The grader never reads a verdict from the submission. In its own copy of the notebook it
inserts, after every cell that answers or checks an exercise and once at the end, a cell that
saves the variables the exercise reads (``Exercise.names``, less those the judge rebuilds itself,
``trusted.py``) to ``answers/<id>.json`` as plain data (``plaindata.encode``: numbers, text,
arrays, tables; a function as opaque bytes only the sandboxed function host loads). A missing
name, or one that is not plain data, is recorded as such. The judge (``judge.py``) reads those
files as data, in a process where no submission code ever ran.

Example::

    >>> nb = with_captures(nb, {"99.1": ["squares"]}, Path("answers"))      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .markers import answer_ids, exercise_ids

CAPTURE_TAG = "grading-capture"
FINAL = "final"
ANSWER_FILE_BYTES = 16 * 1024 * 1024   # one capture at most; larger ones are recorded as such


def capture(names: list[str], path: str, max_bytes: int = ANSWER_FILE_BYTES) -> None:
    """Save the kernel's variables ``names`` to ``path`` as plain-data JSON (run in the kernel)."""
    import json
    import os

    from IPython import get_ipython

    from .plaindata import Unsupported, encode

    shell = get_ipython()
    space = shell.user_ns if shell is not None else {}
    record = {}
    for name in names:
        if name not in space:
            record[name] = ["missing", None]
            continue
        try:
            record[name] = ["ok", encode(space[name])]
        except Unsupported as err:
            record[name] = ["unsupported", str(err)[:300]]
        except Exception as err:  # a value whose own methods fail while it is read
            record[name] = ["unsupported", f"reading it raised {type(err).__name__}"]
    text = json.dumps(record)
    if len(text) > max_bytes:
        text = json.dumps({name: ["unsupported", f"larger than {max_bytes} bytes together"]
                           for name in names})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "w") as handle:
        handle.write(text)
    os.replace(path + ".part", path)


def capture_cell(names: list[str], path: Path) -> nbformat.NotebookNode:
    """Return a code cell that saves the variables ``names`` of the kernel to ``path``."""
    source = ("# added by the grader: save the answers' variables, as plain data, for checking\n"
              "from course_utils.tools.grading.answers import capture as _grader_capture\n"
              f"_grader_capture({sorted(set(names))!r}, {str(path)!r})\n"
              "del _grader_capture")
    return nbformat.v4.new_code_cell(source, metadata={"tags": [CAPTURE_TAG]})


def with_captures(nb: nbformat.NotebookNode, names: dict[str, list[str]],
                  folder: Path) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` with capture cells for the exercises ``names`` (id -> variables)."""
    nb = nbformat.from_dict(nb)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        for exercise_id in sorted(exercise_ids(cell.source) & set(names)):
            cells.append(capture_cell(names[exercise_id], folder / f"{exercise_id}.json"))
    every = sorted({name for variables in names.values() for name in variables})
    cells.append(capture_cell(every, folder / f"{FINAL}.json"))
    nb.cells = cells
    return nb


def submission_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """Return the cells of an executed notebook that came from the submission (no captures)."""
    return [c for c in nb.cells if CAPTURE_TAG not in c.get("metadata", {}).get("tags", [])]


def answered_in(nb: nbformat.NotebookNode, exercise_id: str) -> bool:
    """Return whether some code cell of ``nb`` answers ``exercise_id`` (a stub or a solution)."""
    return any(c.cell_type == "code" and exercise_id in answer_ids(c.source) for c in nb.cells)
