"""Capture a submission's answers in its kernel, then check them in a fresh process.

The grader never reads a verdict from the submission's outputs. In its own copy of the
notebook it inserts, after every cell that answers or checks an exercise and once at the
end, a cell that saves the variables the exercise reads (``Exercise.names``) to
``answers/<id>.pkl`` (cloudpickle; a missing name or one that fails to serialize is
recorded as such). Then ``python -m course_utils.tools.grading.answers`` loads this package's
checks (and the teacher's hidden ones) in a new process and judges each exercise in a
forked child of its own, on the values saved at the exercise's last answer or check
cell (else at the end), and prints the verdicts as one JSON line.

Redefining ``check``, editing the check modules in the kernel or displaying fake verdicts
changes nothing: those live in the submission's process, which is gone. What remains: the
values themselves come from the submission, and loading a pickled object can run code that
the submission put into it (inside the check's own sandbox, for that exercise's child).

Example::

    python -m course_utils.tools.grading.answers ANSWERS_DIR 99.1,99.2 [--hidden checks.py]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import nbformat

from .markers import answer_ids, exercise_ids

CAPTURE_TAG = "grading-capture"
FINAL = "final"
RESULT_MARK = "COURSE-VERDICTS "

_CAPTURE = '''
def _capture(names, path):
    import os, pickle
    from IPython import get_ipython
    try:
        import cloudpickle as dumper
    except ImportError:
        dumper = pickle
    shell = get_ipython()
    space = shell.user_ns if shell is not None else globals()
    record = {}
    for name in names:
        if name not in space:
            record[name] = ("missing", None)
            continue
        try:
            record[name] = ("ok", dumper.dumps(space[name]))
        except Exception as err:
            record[name] = ("unpicklable", f"{type(err).__name__}: {err}"[:300])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "wb") as handle:
        pickle.dump(record, handle)
    os.replace(path + ".part", path)
'''


def capture_cell(names: list[str], path: Path) -> nbformat.NotebookNode:
    """Return a code cell that saves the variables ``names`` of the kernel to ``path``."""
    code = _CAPTURE + f"_capture({sorted(set(names))!r}, {str(path)!r})\n"
    source = (f"# added by the grader: save the answers' variables for checking\n"
              f"exec({code!r}, {{}})")
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
            cells.append(capture_cell(names[exercise_id], folder / f"{exercise_id}.pkl"))
    every = sorted({name for variables in names.values() for name in variables})
    cells.append(capture_cell(every, folder / f"{FINAL}.pkl"))
    nb.cells = cells
    return nb


def submission_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """Return the cells of an executed notebook that came from the submission (no captures)."""
    return [c for c in nb.cells if CAPTURE_TAG not in c.get("metadata", {}).get("tags", [])]


def answered_in(nb: nbformat.NotebookNode, exercise_id: str) -> bool:
    """Return whether some code cell of ``nb`` answers ``exercise_id`` (a stub or a solution)."""
    return any(c.cell_type == "code" and exercise_id in answer_ids(c.source) for c in nb.cells)


# ---------------------------------------------------------------- the fresh check process
def _namespace(record: dict[str, tuple[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Return the loaded variables of one capture and the problems met loading them."""
    namespace, problems = {}, []
    for name, (state, payload) in record.items():
        if state == "ok":
            try:  # cloudpickle's output loads with pickle (it imports cloudpickle as needed)
                namespace[name] = pickle.loads(payload)
            except Exception as err:
                problems.append(f"`{name}` could not be loaded for grading "
                                f"({type(err).__name__}: {str(err)[:200]})")
        elif state == "unpicklable":
            problems.append(f"`{name}` could not be saved for grading ({payload})")
    return namespace, problems


def judge(exercise_id: str, folder: Path) -> dict[str, Any]:
    """Return the verdict on ``exercise_id`` from the answers saved in ``folder``."""
    from ...homework.core import evaluate

    path = folder / f"{exercise_id}.pkl"
    path = path if path.exists() else folder / f"{FINAL}.pkl"
    if not path.exists():
        return {"passed": False, "reached": False, "message": "not reached"}
    with open(path, "rb") as handle:
        record = pickle.load(handle)  # a dict of names to (state, bytes): plain data
    namespace, problems = _namespace(record)
    verdict = evaluate(exercise_id, namespace)
    message = verdict.message if not problems else "; ".join(problems) + ". " + verdict.message
    return {"passed": bool(verdict.passed and not problems), "reached": True,
            "message": message}


def _judge_in_child(exercise_id: str, folder: Path) -> dict[str, Any]:
    """Return ``judge`` run in a forked child, so one answer's objects cannot touch another's."""
    if not hasattr(os, "fork"):
        return judge(exercise_id, folder)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: judge, send the verdict, leave without cleaning up the parent's
        os.close(read)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            result = judge(exercise_id, folder)
        except BaseException as err:
            result = {"passed": False, "reached": True,
                      "message": f"checking raised {type(err).__name__}: {str(err)[:200]}"}
        with os.fdopen(write, "w") as pipe:
            json.dump(result, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    try:
        return json.loads(text)
    except ValueError:
        return {"passed": False, "reached": True,
                "message": "checking this answer stopped the checking process"}


def main(argv: list[str] | None = None) -> int:
    """Judge the exercises named on the command line; print the verdicts as one JSON line."""
    from ...homework.core import _import_checks, load_lesson_checks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("answers", help="the folder of the saved answers")
    parser.add_argument("ids", help="comma-separated exercise ids")
    parser.add_argument("--hidden", action="append", default=[], help="a hidden check module")
    args = parser.parse_args(argv)
    load_lesson_checks(strict=True)
    for module in args.hidden:
        _import_checks(module)
    verdicts = {exercise_id: _judge_in_child(exercise_id, Path(args.answers))
                for exercise_id in filter(None, args.ids.split(","))}
    sys.stdout.write(RESULT_MARK + json.dumps(verdicts) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
