"""The one way to execute a notebook, and the process-tree helpers every caller shares.

``execute(notebook, output, parameters, cwd=...)`` runs papermill in this process; with
``wall_limit`` it runs in a child process that is killed, kernel included, at the limit; with a
``launcher`` (the grader's sandbox) that child runs inside it. The executed notebook appears at
``output`` only once complete (or as far as it got, for a failed run). ``kill_tree`` and
``tree_rss_mb`` act on a process and everything it started.

Before any kernel starts, the ``COURSE_*`` folders given in the environment are made absolute
(``absolute_course_paths``): a kernel runs in ``notebooks/``, where a relative path would
mean another folder.

Example::

    >>> run = execute(Path("notebooks/01_tokenization.ipynb"), Path("out.ipynb"),   # doctest: +SKIP
    ...               {"max_examples": 200}, cwd=Path("notebooks"))
    >>> run.status, run.error                                                      # doctest: +SKIP
    ('ok', None)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from .transforms import readable_notebook

MB = 1024 * 1024
# A batch run's outputs are read afterwards, not watched: a progress bar redrawn ten times a
# second would store hundreds of lines per loop. tqdm reads TQDM_* variables as its defaults,
# so a kernel started with this environment redraws its bars at most once a minute.
BATCH_KERNEL_ENV = {"TQDM_MININTERVAL": "60"}
# Folders the lessons read from the environment (artifacts, asset cache, manifest).
COURSE_PATH_VARIABLES = ("COURSE_ARTIFACTS", "COURSE_CACHE", "COURSE_MANIFEST")
STATUSES = ("ok", "failed", "timeout", "crashed")


@dataclass
class Execution:
    """How one execution ended: ``ok``, ``failed`` (a cell raised), ``timeout`` or ``crashed``."""

    status: str
    error: str | None = None
    seconds: float = 0.0


def absolute_course_paths(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``COURSE_*`` folders of ``env`` (default: this process's) made absolute.

    Relative values are resolved against the current folder, the one the command was typed in.
    """
    source = os.environ if env is None else env
    return {name: str(Path(source[name]).expanduser().absolute())
            for name in COURSE_PATH_VARIABLES if source.get(name)}


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
            wall_limit: float | None = None,
            launcher: Callable[[list[str]], list[str]] | None = None) -> Execution:
    """Execute ``notebook`` with ``parameters`` into ``output`` and return how it ended.

    ``cwd`` is the kernel's working directory; ``timeout`` the seconds allowed per cell;
    ``env`` variables the kernel gets on top of this process's (``COURSE_*`` folders made
    absolute). ``allow_errors`` runs on past a failing cell (and interrupts a cell over
    ``timeout``). ``wall_limit`` runs the notebook in a child process and kills it, kernel
    included, after that many seconds (status ``timeout``); ``launcher`` wraps that child's
    command (e.g. in a sandbox). Never raises for a failing notebook: a cell's error is
    ``failed``, a dead kernel or papermill error ``crashed``.
    """
    start = time.perf_counter()
    output = Path(output).absolute()
    env = {**(env or {}), **absolute_course_paths({**os.environ, **(env or {})})}
    spec = {"notebook": str(Path(notebook).absolute()), "parameters": parameters,
            "cwd": str(cwd), "timeout": timeout, "kernel_name": kernel_name,
            "language": language, "allow_errors": allow_errors}
    try:
        with atomic_path(output, suffix=".ipynb") as staging:
            spec["output"] = str(staging)
            if wall_limit is None and launcher is None:
                status, error = execute_in_this_process(**spec, progress=progress, env=env)
            else:
                status, error = _execute_in_child(spec, wall_limit, env, launcher)
            if readable_notebook(staging) is None:
                raise _NothingSaved
    except _NothingSaved:
        pass  # nothing worth keeping was written: ``output`` is left as it was
    return Execution(status, error, round(time.perf_counter() - start, 1))


class _NothingSaved(Exception):
    """The run left no readable notebook to move into place."""


def execute_in_this_process(notebook: str, output: str, parameters: dict[str, Any], cwd: str,
                            timeout: float | None, kernel_name: str, language: str,
                            allow_errors: bool, progress: bool = False,
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


def worker_command(spec: dict[str, Any]) -> list[str]:
    """Return the command that runs ``execute_in_this_process(**spec)`` and prints its result."""
    code = ("import json, sys; from course_utils.tools.execute import execute_in_this_process; "
            "print(json.dumps(execute_in_this_process(**json.loads(sys.argv[1]))))")
    return [sys.executable, "-c", code, json.dumps(spec)]


def last_line_result(stdout: str, stderr: str, returncode: int | None) -> tuple[str, str | None]:
    """Return the (status, error) a worker printed on its last line, else why it crashed."""
    try:
        status, error = json.loads(stdout.strip().splitlines()[-1])
        if status not in STATUSES or not (error is None or isinstance(error, str)):
            raise ValueError(status)
    except (IndexError, ValueError, TypeError):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return "crashed", (lines[-1] if lines else f"exit status {returncode}")[:300]
    return status, error


def _execute_in_child(spec: dict[str, Any], wall_limit: float | None,
                      env: dict[str, str] | None,
                      launcher: Callable[[list[str]], list[str]] | None) -> tuple[str, str | None]:
    """Run the worker in a child process; kill it and its kernel after ``wall_limit``."""
    from unittest.mock import patch

    command = worker_command(spec)
    if launcher is not None:
        command = launcher(command)
    with patch.dict(os.environ, env or {}):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=wall_limit)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        process.communicate()
        return "timeout", f"stopped after the time limit of {wall_limit:g} s"
    return last_line_result(stdout, stderr, process.returncode)


def kill_tree(pid: int) -> None:
    """Kill a process and everything it started (a kernel has its own session)."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(psutil.Error):
        family = parent.children(recursive=True) + [parent]
        for process in family:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(family, timeout=10)


def tree_rss_mb(pid: int) -> float:
    """Return the resident memory in MB of a process and all its descendants together."""
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid)
        for process in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # it may end between listing and reading
                total += process.memory_info().rss
    return total / MB
