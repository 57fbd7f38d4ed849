"""Run lessons over a parameter grid (a seed sweep) and summarise each metric over the seeds.

``run_grid({"seed": [0, 1, 2]}, only=["05"])`` runs every point of the grid's Cartesian
product, each in its own folder ``<out>/grid-<timestamp>/<NN>_<key>-<value>.../`` holding its
executed notebooks and its own ``artifacts/`` (the kernel's ``COURSE_ARTIFACTS``, absolute),
so points never share state. The selected lessons run in order within a point, into that
point's artifacts. A lesson that reads another's artifacts (``LESSONS[n].depends_on``: 05
reads 02's checkpoint and 04's results) needs them there: select them too, or run them first
into one folder (``COURSE_ARTIFACTS=DIR python -m course_utils run --only 02,04``) and pass
``artifacts=DIR``, which is copied into each point's folder before it runs.

``workers=N`` runs N points at once in processes of this machine (a
``ProcessPoolExecutor``: the standard library, no scheduler to start, and a process runs one
point at a time, so a point's environment is its own). ``scheduler=ADDRESS`` runs them on a
Dask cluster whose workers see the same files at the same paths (notebooks, ``out``,
``artifacts``); a worker process runs one point at a time (a kernel's environment is its
process's), so start workers as ``dask worker ADDRESS --nworkers N --nthreads 1``. A failing
point is that point's row, never the grid's end. ``grid.json`` and ``grid.md`` list every
point with its parameters, status, seconds and recorded metrics, and, when ``seed`` is a key,
each metric's mean, standard deviation and min–max over the seeds.

Example::

    >>> run = run_grid({"seed": [0, 1, 2]}, only=["05"], small=True, workers=3)  # doctest: +SKIP
    >>> [row["status"] for row in run.rows]                                      # doctest: +SKIP
    ['ok', 'ok', 'ok']

or ``python -m course_utils run --only 05 --grid seed=0,1,2 --small --workers 3``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import statistics
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomically
from ..seeds import flat_metrics
from .lessons import (
    LESSONS,
    course_folder,
    lesson_of,
    select_notebooks,
    small_parameters,
    with_dependencies,
)
from .runner import (
    NotebookResult,
    RunnerError,
    check_parameters,
    parameter_declarations,
    parse_parameter,
    path_parameters,
    resolve_path_parameters,
    run_notebook,
)
from .tables import markdown_cell, markdown_table

SEED = "seed"
_ONE_POINT_AT_A_TIME = threading.Lock()  # a kernel's environment comes from its process's

__all__ = ["GridPoint", "GridRun", "declared_defaults", "dependency_note", "grid_points",
           "over_seeds", "parse_grid", "run_grid", "run_point", "verdicts_over_seeds"]


@dataclass(frozen=True)
class GridPoint:
    """One point of the grid: its values, its folder, and each notebook with its parameters."""

    index: int
    name: str
    values: dict[str, Any]
    folder: str
    runs: tuple[tuple[str, dict[str, Any]], ...]
    artifacts_from: str | None = None
    timeout: int | None = None


@dataclass
class GridRun:
    """One grid run: its folder (grid.json, grid.md, a folder per point) and one row per run."""

    folder: Path
    rows: list[dict[str, Any]]


def parse_grid(texts: list[str]) -> dict[str, list[Any]]:
    """Parse ``["seed=0,1,2", "epochs=1,1.5"]`` into ``{"seed": [0, 1, 2], "epochs": [1, 1.5]}``.

    Each value is read like a ``-p`` value (``runner.parse_parameter``); a value holds no comma.
    """
    grid: dict[str, list[Any]] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise RunnerError(f"Malformed --grid {text!r}: expected key=value1,value2,..., "
                              "e.g. --grid seed=0,1,2.")
        if key in grid:
            raise RunnerError(f"--grid {key} is given twice: list all its values in one, "
                              f"e.g. --grid {key}=0,1,2.")
        pieces = [piece.strip() for piece in raw.split(",")]
        if not all(pieces):
            raise RunnerError(f"--grid {text!r} has an empty value: give values separated by "
                              f"single commas, e.g. --grid {key}=0,1,2.")
        values = [parse_parameter(f"{key}={piece}")[1] for piece in pieces]
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) < len(seen):
            raise RunnerError(f"--grid {text!r} lists a value twice: give each value once.")
        grid[key] = values
    return grid


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Return the Cartesian product of the grid's values, the first key varying slowest."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def point_name(index: int, values: dict[str, Any]) -> str:
    """Return a folder name for a point, e.g. ``03_seed-1_epochs-1.5``."""
    parts = [f"{key}-{re.sub(r'[^A-Za-z0-9.+-]+', '_', str(value))[:40]}"
             for key, value in values.items()]
    return "_".join([f"{index:02d}", *parts])


def dependency_note(notebooks: list[Path], artifacts: str | Path | None) -> str | None:
    """Return a note when a selected lesson reads artifacts of a lesson neither run nor given."""
    if artifacts:
        return None
    chosen = {lesson_of(nb) for nb in notebooks}
    missing = {n: [d for d in with_dependencies([n]) if d != n and d not in chosen]
               for n in chosen if n in LESSONS}
    lines = [f"lesson {n} reads the artifacts of lesson(s) {', '.join(deps)}"
             for n, deps in sorted(missing.items()) if deps]
    if not lines:
        return None
    first = sorted({d for deps in missing.values() for d in deps})
    return ("; ".join(lines) + ", and each point starts with an empty artifacts folder. Run "
            f"them first into one folder (COURSE_ARTIFACTS=DIR python -m course_utils run "
            f"--only {','.join(first)}), then add --artifacts DIR, or select them too.")


def _crashed(point: GridPoint, error: str) -> list[NotebookResult]:
    return [NotebookResult(Path(nb).stem, "crashed", 0.0, 0.0, error=error)
            for nb, _ in point.runs]


def run_point(point: GridPoint, progress: bool = False) -> list[NotebookResult]:
    """Run a point's notebooks in order, into its own folder and artifacts; never raise."""
    with _ONE_POINT_AT_A_TIME:  # Dask runs tasks in threads: one point per process at a time
        folder = Path(point.folder)
        artifacts = folder / "artifacts"
        missing = [nb for nb, _ in point.runs if not Path(nb).is_file()]
        if missing:
            return _crashed(point, f"no notebook at {missing[0]} on this machine: the workers "
                                   "of --scheduler must see the same files at the same paths")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if point.artifacts_from:
                shutil.copytree(point.artifacts_from, artifacts, symlinks=True)
            else:
                artifacts.mkdir()
        except OSError as err:
            return _crashed(point, f"could not prepare {artifacts}: {err}")
        results = []
        for nb, parameters in point.runs:
            try:
                results.append(run_notebook(Path(nb), folder / Path(nb).name, parameters,
                                            progress, point.timeout,
                                            env={"COURSE_ARTIFACTS": str(artifacts)}))
            except Exception as err:  # e.g. an executed notebook whose metrics cannot be read
                results.append(NotebookResult(Path(nb).stem, "crashed", 0.0, 0.0,
                                              error=f"{type(err).__name__}: {err}"[:300]))
        return results


def _outcome(point: GridPoint, future) -> tuple[GridPoint, list[NotebookResult]]:
    """Return a finished future's results; a lost worker or process crashes only its point."""
    try:
        return point, future.result()
    except Exception as err:  # a worker process died, a task could not be sent
        hint = (" (a worker process died: its traceback is above; run the grid from a file or "
                "`python -m course_utils`, not from stdin)"
                if type(err).__name__ == "BrokenProcessPool" else "")
        return point, _crashed(point, f"{type(err).__name__}: {err}"[:300] + hint)


def _points_locally(points: list[GridPoint], workers: int, progress: bool):
    """Yield (point, results) as each finishes, ``workers`` processes at a time."""
    if workers == 1:
        for point in points:
            yield point, run_point(point, progress)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_point, point): point for point in points}
        for future in as_completed(futures):
            yield _outcome(futures[future], future)


@contextlib.contextmanager
def _dask_client(scheduler: str):
    """Connect to the Dask scheduler at ``scheduler``; refuse clearly when none answers."""
    try:
        from distributed import Client
    except ImportError as err:
        raise RunnerError("--scheduler needs Dask: pip install -e .[grade] (dask, distributed)"
                          ) from err
    try:
        client = Client(scheduler, timeout=30)
    except OSError as err:
        raise RunnerError(f"--scheduler {scheduler}: no Dask scheduler answered ({err}). Start "
                          "one (dask scheduler) and its workers, or use --workers N.") from err
    with client:
        yield client


def _points_on_dask(points: list[GridPoint], client):
    """Yield (point, results) as the Dask cluster of ``client`` finishes each point."""
    from distributed import as_completed

    futures = {client.submit(run_point, point, pure=False): point for point in points}
    for future in as_completed(futures):
        yield _outcome(futures[future], future)


def _row(point: GridPoint, result: NotebookResult) -> dict[str, Any]:
    return {"point": point.name, "notebook": result.name, "parameters": point.values,
            "status": result.status, "seconds": result.seconds,
            "peak_rss_mb": result.peak_rss_mb, "error": result.error,
            "metrics": result.metrics, "folder": point.folder,
            "artifacts": str(Path(point.folder) / "artifacts"), "output": result.output}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _grouped_over_seeds(rows: list[dict[str, Any]],
                        kept: Callable[[Any], bool]) -> list[dict[str, Any]]:
    """Return per notebook, other grid values and kept metric: its seeds and values.

    Over the ``seed`` values of the points that finished ``ok``; empty when ``seed`` is no
    grid key.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        if SEED not in row["parameters"] or row["status"] != "ok":
            continue
        others = {k: v for k, v in row["parameters"].items() if k != SEED}
        for metric, value in flat_metrics(row["metrics"]).items():
            if not kept(value):
                continue
            key = json.dumps([row["notebook"], others, metric], sort_keys=True, default=str)
            group = groups.setdefault(key, {"notebook": row["notebook"], "group": others,
                                            "metric": metric, "seeds": [], "values": []})
            group["seeds"].append(row["parameters"][SEED])
            group["values"].append(value)
    return list(groups.values())


def over_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return per notebook, other grid values and numeric metric: n, mean, std, min, max.

    Over the ``seed`` values of the points that finished ``ok``; ``std`` is the sample
    standard deviation (n - 1), ``None`` for one seed. Empty when ``seed`` is no grid key.
    """
    summary = []
    for group in _grouped_over_seeds(rows, _number):
        values = group.pop("values")
        summary.append({**group, "n": len(values), "mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else None,
                        "min": min(values), "max": max(values)})
    return summary


def verdicts_over_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return per notebook, other grid values and text metric (a verdict): how often each value.

    Over the ``seed`` values of the points that finished ``ok``, e.g. ``{"metric":
    "loop_vs_trainer", "seeds": [0, 1, 2], "counts": {"tie": 3}}``: a verdict survives the
    seeds when one value has every count. Empty when ``seed`` is no grid key.
    """
    verdicts = []
    for group in _grouped_over_seeds(rows, lambda value: isinstance(value, str)):
        values = group.pop("values")
        verdicts.append({**group, "counts": dict(Counter(values))})
    return verdicts


def _summary_columns(summary: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Return the columns that name one summary row: notebook, other grid values, metric, seeds."""
    return {"notebook": summary["notebook"],
            **{k: summary["group"][k] for k in keys if k != SEED},
            "metric": summary["metric"], "seeds": ",".join(map(str, summary["seeds"]))}


def grid_markdown(rows: list[dict[str, Any]], keys: list[str], profile: str) -> str:
    """Return grid.md: a row per point and notebook, then each metric over the seeds."""
    flat = [flat_metrics(row["metrics"]) for row in rows]
    metrics = list(dict.fromkeys(name for metrics in flat for name in metrics))
    body = [{"point": row["point"], "notebook": row["notebook"],
             **{k: row["parameters"][k] for k in keys}, "status": row["status"],
             "seconds": f"{row['seconds']:.1f}", **{m: values.get(m) for m in metrics},
             "error": row["error"]}
            for row, values in zip(rows, flat)]
    text = [f"# Grid run ({profile} profile)", "", markdown_table(body), ""]
    summary = over_seeds(rows)
    if summary:
        text += ["## Over the seeds", "",
                 "Points that finished ok; std is the sample standard deviation (n - 1).", "",
                 markdown_table([{**_summary_columns(s, keys), "n": s["n"], "mean": s["mean"],
                                  "std": s["std"],
                                  "min–max": "–".join(map(markdown_cell, (s["min"], s["max"])))}
                                 for s in summary]),
                 ""]
    verdicts = verdicts_over_seeds(rows)
    if verdicts:
        text += ["## Verdicts over the seeds", "",
                 "How often each seed's run gave each verdict (points that finished ok).", "",
                 markdown_table([{**_summary_columns(v, keys),
                                  "verdicts": ", ".join(f"{name} {count}" for name, count
                                                        in sorted(v["counts"].items()))}
                                 for v in verdicts]),
                 ""]
    return "\n".join(text)


def _grid_folder(root: Path) -> Path:
    """Create and return a new ``grid-<timestamp>`` folder in ``root``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in itertools.count(1):
        folder = root / (f"grid-{stamp}" if attempt == 1 else f"grid-{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _checked(grid: dict[str, list[Any]], profile: str, only: list[str] | None,
             parameters: dict[str, Any], workers: int | None, scheduler: str | None,
             artifacts: str | Path | None, notebook_dir: Path | None, cwd: Path):
    """Return (notebooks, shared parameters, grid, artifacts) checked and with absolute paths."""
    from ..profiles import get_profile

    get_profile(profile)
    if not grid or not all(grid.values()):
        raise RunnerError("The grid is empty: give each key values, e.g. --grid seed=0,1,2.")
    if scheduler and workers is not None:
        raise RunnerError("--workers runs points on this machine, --scheduler on a Dask "
                          "cluster: give one of them.")
    if workers is not None and workers < 1:
        raise RunnerError(f"--workers {workers}: give 1 or more points to run at once.")
    both = sorted(set(grid) & set(parameters))
    if both:
        raise RunnerError(f"{', '.join(both)} given by both --grid and -p: keep one.")
    if artifacts is not None:
        artifacts = (cwd / Path(artifacts).expanduser()).absolute()
        if not artifacts.is_dir():
            raise RunnerError(f"--artifacts {artifacts}: no such folder. Run the lessons it "
                              "needs into it first (COURSE_ARTIFACTS=DIR python -m "
                              "course_utils run --only ...).")
    notebooks = select_notebooks(only, notebook_dir)
    shared = {"profile": profile, **parameters}
    paths: set[str] = set()
    defaults: dict[str, dict[str, str]] = {}
    for notebook in notebooks:  # every parameter must be declared before anything runs
        declared = parameter_declarations(notebook)
        check_parameters(notebook, {**shared, **grid}, declared)
        paths |= path_parameters(declared)
        defaults[notebook.stem] = declared_defaults(declared)
    shared = resolve_path_parameters(shared, paths, cwd)
    grid = {key: [resolve_path_parameters({key: v}, paths, cwd)[key] for v in values]
            for key, values in grid.items()}
    return notebooks, shared, grid, artifacts, defaults


def declared_defaults(declared: dict[str, dict[str, str]]) -> dict[str, str]:
    """Return each declared parameter's default as written in the ``parameters`` cell."""
    return {name: about["default"] for name, about in declared.items()}


def run_grid(grid: dict[str, list[Any]], profile: str = "offline",
             only: list[str] | None = None, parameters: dict[str, Any] | None = None,
             out: str | Path | None = None, small: bool = False, workers: int | None = None,
             scheduler: str | None = None, artifacts: str | Path | None = None,
             timeout: int | None = None, notebook_dir: Path | None = None,
             cwd: Path | None = None, progress: bool = True) -> GridRun:
    """Run the selected lessons at every point of ``grid``; write grid.json and grid.md.

    Parameters are, lowest first: the lesson's small ones (``small``), ``parameters``, the
    point's values. ``workers`` (default 1) or ``scheduler``, not both. Bad input raises
    ``RunnerError`` before anything runs.
    """
    from tqdm.auto import tqdm

    notebooks, shared, grid, artifacts, defaults = _checked(
        grid, profile, only, parameters or {}, workers, scheduler, artifacts, notebook_dir,
        Path(cwd) if cwd else Path.cwd())
    small_values = {nb: small_parameters(lesson_of(nb), nb.parent)
                    if small and lesson_of(nb) else {} for nb in notebooks}
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(_dask_client(scheduler)) if scheduler else None
        folder = _grid_folder(Path(out).absolute() if out else course_folder("runs"))
        points = [GridPoint(i, name, values, str(folder / name),
                            tuple((str(nb), {**small_values[nb], **shared, **values})
                                  for nb in notebooks),
                            str(artifacts) if artifacts else None, timeout)
                  for i, values in enumerate(grid_points(grid))
                  for name in [point_name(i, values)]]
        runs = (_points_on_dask(points, client) if client is not None
                else _points_locally(points, workers or 1, progress and (workers or 1) == 1))
        header = {"profile": profile, "lessons": [nb.stem for nb in notebooks], "grid": grid,
                  "parameters": shared, "small": small,
                  "artifacts": str(artifacts) if artifacts else None,
                  "declared_defaults": defaults}   # each lesson's parameters cell, as run
        done: dict[int, list[dict[str, Any]]] = {}
        with tqdm(total=len(points), unit="point", desc="grid", disable=not progress) as bar:
            for point, results in runs:
                done[point.index] = [_row(point, result) for result in results]
                rows = [row for index in sorted(done) for row in done[index]]
                summary = {**header, "points": rows, "over_seeds": over_seeds(rows),
                           "verdicts_over_seeds": verdicts_over_seeds(rows)}
                write_text_atomically(folder / "grid.json", json.dumps(summary, indent=2))
                write_text_atomically(folder / "grid.md", grid_markdown(rows, list(grid),
                                                                        profile))
                bar.update()
    return GridRun(folder, [row for index in sorted(done) for row in done[index]])
