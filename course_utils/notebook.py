"""The lesson notebooks as files: finding them, their markers, cleaning them, executing them.

One home for what the runner, the homework build and the grader share:

- where the lessons are (``lesson_notebooks``, ``select_notebooks``): ``notebooks/`` of the
  checkout that holds this package, or of the current folder for an installed copy;
- the markers and metadata keys: solution blocks between ``# BEGIN SOLUTION NN.k`` and
  ``# END SOLUTION``, the ``# YOUR ANSWER NN.k`` stub, metrics under ``course_metric``
  (``record``) and exercise verdicts under ``course_exercise`` (``check``);
- ``cleaned(nb)``: outputs, execution counts and papermill's run metadata removed
  (nbconvert's ``ClearOutputPreprocessor``), shell lines (``!pip``, ``%pip``, ``%%bash``)
  optionally turned off;
- ``execute(...)``: papermill in this process, or, with ``wall_limit``, in a child process
  stopped with its kernel at the limit. The executed notebook appears at ``output`` only
  once complete (or as far as it got, for a failed run).

papermill, nbformat, nbconvert and psutil (the ``batch`` extra) are imported inside the
functions that use them: the lessons import this module (through ``record``) without them.

Example::

    >>> run = execute(Path("notebooks/01_tokenization.ipynb"), Path("out.ipynb"),   # doctest: +SKIP
    ...               {"max_examples": 200}, cwd=Path("notebooks"))
    >>> run.status, run.error                                                      # doctest: +SKIP
    ('ok', None)
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_path

if TYPE_CHECKING:
    from nbformat import NotebookNode

METRIC_KEY = "course_metric"      # output metadata of record(name, value)
VERDICT_KEY = "course_exercise"   # output metadata of check("NN.k")
BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<id>.*)$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\b.*$")
ANSWER = re.compile(r"#\s*YOUR ANSWER (?P<id>\d+\.\d+)\b")
CHECK_CALL = re.compile(r"""check\(\s*["'](?P<id>\d+\.\d+)["']""")
LESSON_PREFIX = re.compile(r"^(?P<lesson>\d\d)_")
RUN_METADATA_KEYS = ("papermill", "execution")
SHELL_LINE = re.compile(r"^(?P<indent>\s*)(!|%(pip|conda|sx|system)\b)")
SHELL_CELL = re.compile(r"^\s*%%(bash|sh|script|system)\b")
SKIPPED = "skipped when grading:"

# A batch run's outputs are read afterwards, not watched: a progress bar redrawn ten times a
# second would store hundreds of lines per loop. tqdm reads TQDM_* variables as its defaults,
# so a kernel started with this environment redraws its bars at most once a minute.
BATCH_KERNEL_ENV = {"TQDM_MININTERVAL": "60"}

PACKAGE_PARENT = Path(__file__).resolve().parents[1]


class NotebookError(ValueError):
    """Bad input about notebooks (a selector, a parameter, a path), explained with a fix."""


# ---------------------------------------------------------------- finding the lessons
def checkout_root() -> Path | None:
    """Return the repository checkout holding this package, or None for an installed copy."""
    is_checkout = (PACKAGE_PARENT / "pyproject.toml").is_file() and \
        (PACKAGE_PARENT / "notebooks").is_dir()
    return PACKAGE_PARENT if is_checkout else None


def course_folder(name: str) -> Path:
    """Return ``name`` (``notebooks``, ``runs``) in the checkout, else in the current folder."""
    return (checkout_root() or Path.cwd()) / name


def lesson_of(path: Path) -> str | None:
    """Return the lesson number a notebook's file name starts with ("01_x.ipynb" -> "01")."""
    match = LESSON_PREFIX.match(Path(path).name)
    return match.group("lesson") if match else None


def lesson_notebooks(folder: Path | None = None) -> list[Path]:
    """Return the numbered lesson notebooks (``NN_*.ipynb``) of ``folder``, in order."""
    folder = Path(folder) if folder is not None else course_folder("notebooks")
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(only: list[str] | None, folder: Path | None = None) -> list[Path]:
    """Return the notebooks whose number or name matches a selector ("01", "02_masked...")."""
    folder = Path(folder) if folder is not None else course_folder("notebooks")
    available = lesson_notebooks(folder)
    if not available:
        raise NotebookError(f"No lesson notebooks (NN_*.ipynb) in {folder}: run from the "
                            "course's folder or pass the folder of the notebooks.")
    if not only:
        return available
    chosen: list[Path] = []
    for selector in only:
        matches = [p for p in available if selector in (p.stem, lesson_of(p))]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise NotebookError(f"No notebook matches {selector!r}. Use a number or a name: "
                                f"{names}.")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


def answer_ids(source: str) -> set[str]:
    """Return the exercises a cell's source answers: its solution blocks and answer stubs."""
    ids = {m.group("id").strip() for m in map(BEGIN.match, source.split("\n")) if m}
    return ids | {m.group("id") for m in ANSWER.finditer(source)}


def exercise_ids(source: str) -> set[str]:
    """Return the exercises a cell's source names: answers and ``check("NN.k")`` calls."""
    return answer_ids(source) | {m.group("id") for m in CHECK_CALL.finditer(source)}


# ---------------------------------------------------------------- cleaning
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


def final_stream_lines(outputs: list) -> list:
    """Return ``outputs`` with each stream's redraws (``\r``) reduced to what a terminal shows.

    A progress bar redraws its line with carriage returns; the stored output keeps only the
    last state of each line (one final line per loop). Consecutive outputs of the same stream
    are merged first, so a line split between two of them is reduced as one.
    """
    merged: list = []
    for output in outputs:
        if (output.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == output.get("name")):
            merged[-1]["text"] = "".join(merged[-1]["text"]) + "".join(output["text"])
        else:
            merged.append(copy.deepcopy(output))
    kept = []
    for output in merged:
        if output.get("output_type") == "stream":
            text = "".join(output["text"])
            output["text"] = "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))
            if output["name"] == "stderr" and not output["text"].strip():
                continue  # a bar that cleared itself (leave=False) leaves nothing to show
        kept.append(output)
    return kept


def cleaned(nb: NotebookNode, keep_outputs: bool = False,
            shell_commands: bool = True) -> NotebookNode:
    """Return a copy of ``nb`` without run metadata, outputs and counts; shell lines kept or off.

    ``keep_outputs`` keeps outputs and counts (a re-executed lesson), each progress bar reduced
    to its final line (``final_stream_lines``); ``shell_commands=False``
    turns ``!``/``%pip``/``%%bash`` lines off (a submission about to be graded).
    """
    import nbformat
    from nbconvert.preprocessors import ClearOutputPreprocessor

    nb = nbformat.from_dict(copy.deepcopy(nb))
    if keep_outputs:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = final_stream_lines(cell.outputs)
    else:
        clear = ClearOutputPreprocessor(remove_metadata_fields={"collapsed", "scrolled",
                                                                *RUN_METADATA_KEYS})
        nb, _ = clear.preprocess(nb, {})
    # Not ClearMetadataPreprocessor: it keeps only an allow-list (the `parameters` tag, the
    # kernelspec and nbval's markers would go) and skips markdown cells, which papermill marks.
    for key in RUN_METADATA_KEYS:  # every cell, markdown too, and the notebook's own
        nb.metadata.pop(key, None)
        for cell in nb.cells:
            cell.metadata.pop(key, None)
    if not shell_commands:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = without_shell_commands(cell.source)
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> Path:
    """Write ``nb`` to ``path`` through a temporary file and a rename; return the path."""
    import nbformat

    with atomic_path(path, suffix=".ipynb") as temporary:
        nbformat.write(nb, str(temporary))
    return Path(path)


def readable_notebook(path: Path) -> NotebookNode | None:
    """Return the notebook at ``path``, or None when it is missing or not a whole notebook."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
        _ = nb.cells
    except Exception:  # a run killed mid-save leaves a truncated file
        return None
    return nb


# ---------------------------------------------------------------- executing
@dataclass
class Execution:
    """How one execution ended: ``ok``, ``failed`` (a cell raised), ``timeout`` or ``crashed``."""

    status: str
    error: str | None = None
    seconds: float = 0.0


def describe_failure(err: Exception) -> str:
    """Return where a run stopped and why: ``cell 4 (In [3]) starting 'x = 1': ValueError: ..``."""
    cell = getattr(err, "exec_count", None)
    index = getattr(err, "cell_index", None)
    where = f"cell {index}" if index is not None else "a cell"
    if cell is not None:
        where += f" (In [{cell}])"
    source = (getattr(err, "source", "") or "").strip().splitlines()
    if source:
        where += f" starting {source[0][:60]!r}"
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    return f"{where}: {ename}: {evalue}".strip()


def execute(notebook: Path, output: Path, parameters: dict[str, Any], *, cwd: Path,
            timeout: float | None = None, kernel_name: str = "python3",
            env: dict[str, str] | None = None, language: str = "python",
            allow_errors: bool = False, progress: bool = False,
            wall_limit: float | None = None) -> Execution:
    """Execute ``notebook`` with ``parameters`` into ``output`` and return how it ended.

    ``cwd`` is the kernel's working directory; ``timeout`` the seconds allowed per cell;
    ``env`` variables the kernel gets on top of this process's (this process's environment
    is restored afterwards). ``allow_errors`` runs on past a failing cell (and interrupts a
    cell over ``timeout``), so every cell's outcome is in ``output``. ``wall_limit`` runs the
    notebook in a child process and kills it, kernel included, after that many seconds
    (status ``timeout``; ``output`` then holds what was saved before). Never raises for a
    failing notebook: a cell's error is ``failed``, a dead kernel or papermill error ``crashed``.
    """
    start = time.perf_counter()
    output = Path(output).absolute()
    spec = {"notebook": str(Path(notebook).absolute()), "parameters": parameters,
            "cwd": str(cwd), "timeout": timeout, "kernel_name": kernel_name,
            "language": language, "allow_errors": allow_errors}
    try:
        with atomic_path(output, suffix=".ipynb") as staging:
            spec["output"] = str(staging)
            if wall_limit is None:
                status, error = _execute_here(**spec, progress=progress, env=env)
            else:
                status, error = _execute_in_child(spec, wall_limit, env)
            if readable_notebook(staging) is None:
                raise _NothingSaved
    except _NothingSaved:
        pass  # nothing worth keeping was written: ``output`` is left as it was
    return Execution(status, error, round(time.perf_counter() - start, 1))


class _NothingSaved(Exception):
    """The run left no readable notebook to move into place."""


def _execute_here(notebook: str, output: str, parameters: dict[str, Any], cwd: str,
                  timeout: float | None, kernel_name: str, language: str, allow_errors: bool,
                  progress: bool = False,
                  env: dict[str, str] | None = None) -> tuple[str, str | None]:
    """Run papermill in this process; return (status, error description)."""
    from unittest.mock import patch

    import papermill
    from papermill.exceptions import PapermillExecutionError

    cell_timeout = None if timeout is None else int(math.ceil(timeout))
    try:
        with patch.dict(os.environ, env or {}):
            papermill.execute_notebook(notebook, output, parameters=parameters, cwd=cwd,
                                       kernel_name=kernel_name, language=language,
                                       progress_bar=progress, execution_timeout=cell_timeout,
                                       allow_errors=allow_errors,
                                       interrupt_on_timeout=allow_errors)
    except PapermillExecutionError as err:
        return "failed", describe_failure(err)
    except Exception as err:  # a dead kernel, a missing kernel, an unreadable notebook
        return "crashed", describe_failure(err)
    return "ok", None


_WORKER = ("import json, sys; from course_utils.notebook import _execute_here; "
           "print(json.dumps(_execute_here(**json.loads(sys.argv[1]))))")


def _execute_in_child(spec: dict[str, Any], wall_limit: float,
                      env: dict[str, str] | None) -> tuple[str, str | None]:
    """Run ``_execute_here`` in a child process; kill it and its kernel after ``wall_limit``."""
    from unittest.mock import patch

    command = [sys.executable, "-c", _WORKER, json.dumps(spec)]
    with patch.dict(os.environ, env or {}):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=wall_limit)
    except subprocess.TimeoutExpired:
        _kill_tree(process.pid)
        process.communicate()
        return "timeout", f"stopped after the time limit of {wall_limit:g} s"
    try:
        status, error = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return "crashed", (lines[-1] if lines else f"exit status {process.returncode}")[:300]
    return status, error


def _kill_tree(pid: int) -> None:
    """Kill a process we started and everything it started (the kernel has its own session)."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = parent.children(recursive=True) + [parent]
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(family, timeout=10)

