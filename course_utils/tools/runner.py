"""Run the lessons in batch with papermill and write a summary of what each reported.

Each notebook is executed into ``runs/<timestamp>/`` (with ``runs/latest`` pointing at
the newest run); a failing notebook is reported and the batch goes on. The summary
(``summary.json`` and ``summary.md``) lists per notebook its status, wall time, peak
memory of its kernel, the error if any, and the metrics it recorded with ``record()``.
``notebooks/`` and ``runs/`` are those of the checkout that holds the package, or of the
current folder when the package is installed from elsewhere.

Paths in parameters mean what the user means. A parameter holds a path when its name ends
in ``_path``, ``_file`` or ``_dir``, or when its comment in the notebook's parameters cell
says ``path`` (lesson 06: ``text_source = ""  # ...; or a .txt path``). Its value is made
absolute against the folder the runner was started from (the kernel runs in the notebook's
folder), before any kernel starts: ``*_path`` / ``*_file`` values, and values of a
commented parameter that look like a path (a folder separator, a leading ``~`` or ``.``,
a suffix such as ``.txt``), must name an existing file, else the run stops with the
absolute path tried. ``*_dir`` values name folders a lesson writes and need not exist.
An empty value (the lesson's default) and a plain name (``text_source=hamlet``) are
passed on unchanged.

Example::

    >>> run = run_lessons(only=["03"], parameters={"data_path": "my.csv"})   # doctest: +SKIP
    >>> run.folder, [r.status for r in run.results]                          # doctest: +SKIP
    (PosixPath('runs/20261201-163000'), ['ok'])
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomically
from ..measure import PeakMemory
from ..record import recorded_metrics
from .execute import BATCH_KERNEL_ENV, execute
from .lessons import (
    NotebookError,
    course_folder,
    lesson_notebooks,
    lesson_of,
    select_notebooks,
    small_parameters,
    with_dependencies,
)
from .tables import markdown_table
from .transforms import cleaned, readable_notebook, slowest_cells, write_notebook

NOTEBOOK_DIR = course_folder("notebooks")  # the default folder of lessons, when imported
PATH_SUFFIXES = ("_path", "_file", "_dir")
PATH_COMMENT = re.compile(r"\bpath\b", re.IGNORECASE)

__all__ = ["LessonRun", "NotebookResult", "RunnerError", "check_parameters", "lesson_notebooks",
           "parse_parameter", "path_parameters", "resolve_path_parameters", "run_lessons",
           "run_notebook", "select_notebooks"]


class RunnerError(NotebookError):
    """Bad input to the batch runner (selector, parameter, path), explained with a fix."""


@dataclass
class NotebookResult:
    """What one notebook run produced."""

    name: str
    status: str
    seconds: float
    peak_rss_mb: float
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    slowest_cells: list[dict] = field(default_factory=list)


@dataclass
class LessonRun:
    """One batch run: the folder holding its notebooks and summary, and each notebook's result."""

    folder: Path
    results: list[NotebookResult]


def parse_parameter(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (value as a Python literal when it is one, else a string)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise RunnerError(f"Malformed parameter {text!r}: expected key=value, e.g. -p seed=1 "
                          "or -p data_path=reviews.csv.")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key, value


def parameter_declarations(notebook: Path) -> dict[str, dict[str, str]]:
    """Return the parameters a notebook's ``parameters`` cell declares, with their comments."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict[str, Any],
                     declared: dict[str, Any] | None = None) -> None:
    """Raise if a parameter is not declared in the notebook's ``parameters`` cell."""
    declared = parameter_declarations(notebook) if declared is None else declared
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RunnerError(f"{notebook.stem} does not declare parameter(s) {unknown}. "
                          f"Its parameters are: {', '.join(declared) or 'none'}.")


def path_parameters(declared: dict[str, dict[str, str]]) -> set[str]:
    """Return the declared parameters that hold paths (by name suffix or by their comment)."""
    return {name for name, about in declared.items()
            if name.endswith(PATH_SUFFIXES) or PATH_COMMENT.search(about.get("help") or "")}


def _looks_like_path(value: str) -> bool:
    return ("/" in value or os.sep in value or value.startswith(("~", "."))
            or Path(value).suffix != "")


def resolve_path_parameters(parameters: dict[str, Any], names: set[str],
                            cwd: Path) -> dict[str, Any]:
    """Return ``parameters`` with the path values of ``names`` made absolute against ``cwd``.

    Raise ``RunnerError`` naming the parameter and the absolute path tried when a file
    parameter names no file (or a ``*_dir`` parameter names a file).
    """
    resolved = dict(parameters)
    for name in sorted(names & set(parameters)):
        value = parameters[name]
        if not isinstance(value, str) or not value.strip():
            continue  # empty: the lesson's own default
        by_name = name.endswith(PATH_SUFFIXES)
        if not by_name and not _looks_like_path(value):
            continue  # a name the lesson knows, e.g. text_source=hamlet
        path = Path(os.path.abspath(Path(cwd) / Path(value).expanduser()))
        where = (f"Relative paths are read from the folder the run was started in ({cwd}): "
                 "give the path from there, or an absolute path.")
        if name.endswith("_dir"):
            if path.exists() and not path.is_dir():
                raise RunnerError(f"{name}={value}: {path} is a file; {name} names a folder.")
        elif path.is_dir():
            raise RunnerError(f"{name}={value}: {path} is a folder; {name} names a file in it.")
        elif not path.is_file():
            raise RunnerError(f"{name}={value}: no file at {path}. {where}")
        resolved[name] = str(path)
    return resolved


def run_notebook(notebook: Path, output: Path, parameters: dict[str, Any],
                 progress: bool = True, timeout: int | None = None,
                 kernel_name: str = "python3",
                 env: dict[str, str] | None = None) -> NotebookResult:
    """Execute one notebook with papermill (in its own folder) and return what happened.

    ``env`` adds variables for its kernel, e.g. a grid point's own ``COURSE_ARTIFACTS``.
    """
    with PeakMemory(children=True) as memory:
        run = execute(notebook, output, parameters, cwd=notebook.parent, timeout=timeout,
                      kernel_name=kernel_name, env={**BATCH_KERNEL_ENV, **(env or {})},
                      progress=progress)
    executed = readable_notebook(output) if output.exists() else None   # read once
    return NotebookResult(name=notebook.stem, status=run.status,
                          seconds=run.seconds, peak_rss_mb=round(memory.peak_mb, 1),
                          error=run.error, output=str(output),
                          metrics=recorded_metrics(executed) if executed is not None else {},
                          slowest_cells=slowest_cells(executed) if executed is not None else [])


def summary_markdown(results: list[NotebookResult], profile: str) -> str:
    """Return the run summary as a Markdown table, metrics listed under it."""
    table = markdown_table([{"notebook": r.name, "status": r.status,
                             "seconds": f"{r.seconds:.1f}", "peak RSS (MB)": f"{r.peak_rss_mb:.0f}",
                             "error": r.error} for r in results])
    lines = [f"# Course run ({profile} profile)", "", table, ""]
    slow = [{"notebook": r.name, "cell": row["cell"], "seconds": f"{row['seconds']:.1f}",
             "starts with": row["starts"]} for r in results for row in r.slowest_cells]
    if slow:
        lines += ["## Where the time went (each notebook's slowest cells)", "",
                  markdown_table(slow), ""]
    for r in results:
        if r.metrics:
            lines.append(f"## {r.name}")
            lines.extend(f"- `{k}`: {v}" for k, v in r.metrics.items())
            lines.append("")
    return "\n".join(lines)


def _link_latest(run_dir: Path) -> None:
    """Point ``latest`` beside ``run_dir`` at it (a new link renamed over the old one)."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def run_lessons(profile: str = "offline", only: list[str] | None = None,
                parameters: dict[str, Any] | None = None, out: str | Path | None = None,
                progress: bool = True, timeout: int | None = None,
                notebook_dir: Path | None = None, cwd: Path | None = None,
                small: bool = False) -> LessonRun:
    """Run the selected lessons, write summary.json / summary.md, return the run.

    ``cwd`` (default: the current folder) is where relative paths in ``parameters`` start.
    ``small`` runs each lesson on its small parameters (``lessons.LESSONS``), under
    ``parameters``.
    """
    from tqdm.auto import tqdm

    from ..profiles import get_profile

    get_profile(profile)  # fail early on a typo
    notebooks = select_notebooks(only, notebook_dir)
    shared = {"profile": profile, **(parameters or {})}
    paths: set[str] = set()
    for notebook in notebooks:  # every parameter must be declared before anything runs
        declared = parameter_declarations(notebook)
        check_parameters(notebook, shared, declared)
        paths |= path_parameters(declared)
    shared = resolve_path_parameters(shared, paths, Path(cwd) if cwd else Path.cwd())
    runs_root = Path(out).absolute() if out else course_folder("runs")
    run_dir = runs_root / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=False)
    _link_latest(run_dir)
    results = []
    bar = tqdm(notebooks, desc="lessons", unit="notebook", disable=not progress)
    for notebook in bar:
        bar.set_postfix_str(notebook.stem)
        lesson = lesson_of(notebook)
        values = {**(small_parameters(lesson, notebook.parent) if small and lesson else {}),
                  **shared}
        result = run_notebook(notebook, run_dir / notebook.name, values, progress, timeout)
        results.append(result)
        summary = {"profile": profile, "parameters": shared,
                   "notebooks": [asdict(r) for r in results]}
        write_text_atomically(run_dir / "summary.json", json.dumps(summary, indent=2))
        write_text_atomically(run_dir / "summary.md", summary_markdown(results, profile))
    return LessonRun(run_dir, results)


def refresh_notebooks(only: list[str] | None = None, progress: bool = True,
                      notebook_dir: Path | None = None) -> list[NotebookResult]:
    """Re-execute lesson notebooks in place with their default parameters (offline profile).

    The stored outputs are a learner's first run: every notebook runs in one new, empty
    artifacts folder (no cached features, no earlier lesson's leftovers), after the lessons
    whose artifacts it reads (``LESSONS[n].depends_on``), which run there too but are not
    rewritten unless chosen. A notebook is replaced only when its run succeeded, and without
    papermill's run metadata, so re-executed notebooks diff cleanly; a failed run is kept under
    ``notebooks/.executing``.
    """
    import tempfile

    chosen = select_notebooks(only, notebook_dir)
    needed = with_dependencies([lesson_of(notebook) for notebook in chosen])
    results, failed = [], set()
    with tempfile.TemporaryDirectory(prefix="course-notebooks-") as fresh:
        env = {"COURSE_ARTIFACTS": fresh}
        for notebook in [n for n in lesson_notebooks(notebook_dir) if lesson_of(n) in needed]:
            missing = sorted(failed & set(with_dependencies([lesson_of(notebook)])))
            if missing:                       # it would run without what it reads: not stored
                results.append(NotebookResult(name=notebook.stem, status="failed", seconds=0.0,
                                              peak_rss_mb=0.0,
                                              error=f"not run: lesson {', '.join(missing)} "
                                                    "failed and this lesson reads its artifacts"))
                continue
            staged = notebook.parent / ".executing" / notebook.name  # hidden: pytest skips it
            result = run_notebook(notebook, staged, {}, progress, env=env)
            executed = readable_notebook(staged) if result.status == "ok" else None
            if executed is not None and notebook in chosen:
                write_notebook(cleaned(executed, keep_outputs=True), notebook)
            if executed is not None:
                staged.unlink()
            kept = notebook if notebook in chosen else ""   # a dependency's run is not kept
            result.output = str(kept if executed is not None else staged)
            results.append(result)
            if result.status != "ok":
                failed.add(lesson_of(notebook))
    return results
