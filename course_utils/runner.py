"""Run the lessons in batch with papermill and write a summary of what each reported.

Each notebook is executed into ``runs/<timestamp>/`` (with ``runs/latest`` pointing at
the newest run); a failing notebook is reported and the batch goes on. The summary
(``summary.json`` and ``summary.md``) lists per notebook its status, wall time, peak
memory of its kernel, the error if any, and the metrics it recorded with ``record()``.

Example::

    >>> run_lessons(only=["01"], parameters={"seed": 1})      # doctest: +SKIP
"""

from __future__ import annotations

import ast
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import papermill
import psutil

from .paths import REPO_ROOT
from .record import read_metrics

NOTEBOOK_DIR = REPO_ROOT / "notebooks"

# A batch run's outputs are read afterwards, not watched: a progress bar redrawn ten times a
# second would store hundreds of lines per loop. tqdm reads TQDM_* variables as its defaults,
# so the kernel (which inherits this environment) redraws its bars at most once a minute.
BATCH_KERNEL_ENV = {"TQDM_MININTERVAL": "60"}


class RunnerError(ValueError):
    """Bad input to the batch runner (selector, parameter), explained with a fix."""


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


def lesson_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Return the numbered lesson notebooks, in order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(only: list[str] | None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Return the notebooks whose number or name matches a selector ("01", "02_masked...")."""
    available = lesson_notebooks(folder)
    if not only:
        return available
    chosen = []
    for selector in only:
        matches = [p for p in available if p.stem == selector or p.stem.split("_")[0] == selector]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise RunnerError(f"No notebook matches {selector!r}. Use a number or a name: {names}.")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


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


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Raise if a parameter is not declared in the notebook's ``parameters`` cell."""
    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RunnerError(f"{notebook.stem} does not declare parameter(s) {unknown}. "
                          f"Its parameters are: {', '.join(declared) or 'none'}.")


class _PeakMemory:
    """Poll the resident memory of this process's children (the kernel) in a thread."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "_PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by kernels started inside), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _describe_failure(err: Exception) -> str:
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


def run_notebook(notebook: Path, output: Path, parameters: dict[str, Any],
                 progress: bool = True, timeout: int | None = None) -> NotebookResult:
    """Execute one notebook with papermill and return what happened."""
    start = time.perf_counter()
    error = None
    with _PeakMemory() as memory, _environment(BATCH_KERNEL_ENV):
        try:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                       cwd=str(notebook.parent), progress_bar=progress,
                                       execution_timeout=timeout, kernel_name="python3")
        except Exception as err:  # the batch goes on; the error is reported
            error = _describe_failure(err)
    seconds = time.perf_counter() - start
    metrics = read_metrics(output) if output.exists() else {}
    return NotebookResult(name=notebook.stem, status="failed" if error else "ok",
                          seconds=round(seconds, 1), peak_rss_mb=round(memory.peak / 2**20, 1),
                          error=error, metrics=metrics, output=str(output))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def summary_markdown(results: list[NotebookResult], profile: str) -> str:
    """Return the run summary as a Markdown table, metrics listed under it."""
    lines = [f"# Course run ({profile} profile)", "",
             "| notebook | status | seconds | peak RSS (MB) | error |",
             "|---|---|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.status} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} | "
                     f"{(r.error or '').replace('|', '/')[:200]} |")
    lines.append("")
    for r in results:
        if r.metrics:
            lines.append(f"## {r.name}")
            lines.extend(f"- `{k}`: {v}" for k, v in r.metrics.items())
            lines.append("")
    return "\n".join(lines)


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def run_lessons(profile: str = "offline", only: list[str] | None = None,
                parameters: dict[str, Any] | None = None, out: str | Path | None = None,
                progress: bool = True, timeout: int | None = None,
                notebook_dir: Path = NOTEBOOK_DIR) -> list[NotebookResult]:
    """Run the selected lessons, write summary.json / summary.md, return the results."""
    from tqdm.auto import tqdm

    from .profiles import get_profile

    get_profile(profile)  # fail early on a typo
    notebooks = select_notebooks(only, notebook_dir)
    shared = {"profile": profile, **(parameters or {})}
    for notebook in notebooks:  # every parameter must be declared before anything runs
        check_parameters(notebook, shared)
    runs_root = Path(out) if out else REPO_ROOT / "runs"
    run_dir = runs_root / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=False)
    _link_latest(run_dir)
    results = []
    bar = tqdm(notebooks, desc="lessons", unit="notebook", disable=not progress)
    for notebook in bar:
        bar.set_postfix_str(notebook.stem)
        result = run_notebook(notebook, run_dir / notebook.name, shared, progress, timeout)
        results.append(result)
        summary = {"profile": profile, "parameters": shared,
                   "notebooks": [asdict(r) for r in results]}
        _atomic_write(run_dir / "summary.json", json.dumps(summary, indent=2))
        _atomic_write(run_dir / "summary.md", summary_markdown(results, profile))
    return results


def strip_run_metadata(path: Path) -> None:
    """Remove papermill's per-run timestamps so re-executed notebooks diff cleanly."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, str(path))


def refresh_notebooks(only: list[str] | None = None, progress: bool = True) -> list[NotebookResult]:
    """Re-execute lesson notebooks in place with their default parameters (offline profile)."""
    results = []
    for notebook in select_notebooks(only):
        staging_dir = notebook.parent / ".executing"  # hidden: never collected by pytest
        staging_dir.mkdir(exist_ok=True)
        staged = staging_dir / notebook.name
        result = run_notebook(notebook, staged, {}, progress)
        if result.status == "ok":
            strip_run_metadata(staged)
            os.replace(staged, notebook)
        result.output = str(notebook if result.status == "ok" else staged)
        results.append(result)
    return results
