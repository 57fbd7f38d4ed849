"""The spread over seeds of a lesson's numbers and verdicts, from the course's committed sweeps.

A lesson runs one seed; a committed sweep (``course_utils/seed_sweeps/NAME.json``, written by
``python -m course_utils run ... --grid seed=0,1,2 --publish NAME``) ran the same lessons with
their default parameters over several seeds. These functions show it next to the lesson's own
result: each number's mean, standard deviation and range, and how often each verdict came out.

    >>> beside_sweep("02_04_05", "05_fine_tuning", {"loop_vs_trainer": "tie"}, seed=0,
    ...              parameters={"data_path": ""})                             # doctest: +SKIP
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

SWEEP_DIR = Path(__file__).resolve().parent / "seed_sweeps"   # shipped with the package


class SweepError(LookupError):
    """A committed sweep, or a number in it, that does not exist."""


def flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Return recorded metrics with each dict value spread into ``name.key`` entries."""
    flat = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": v for key, v in value.items()})
        else:
            flat[name] = value
    return flat


def committed_sweep(name: str, folder: Path | None = None) -> dict[str, Any]:
    """Return the committed sweep ``NAME`` (its command, machine, points and summaries)."""
    folder = SWEEP_DIR if folder is None else Path(folder)
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.json"))
        raise SweepError(f"No committed sweep {name!r} in {folder}; there are: "
                         f"{', '.join(known) or 'none'}.")
    return json.loads(path.read_text())


def differences_from_sweep(sweep: dict[str, Any], notebook: str,
                           values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Return ``{name: (this run's value, the sweep's)}`` for each parameter run otherwise.

    ``values`` are this run's parameters (the seed left out); an empty result means the sweep ran
    the same lesson on the same data with the same settings, only with other seeds.
    """
    declared = sweep["declared_defaults"].get(notebook)
    if declared is None:
        raise SweepError(f"The sweep did not run {notebook}; it ran: "
                         f"{', '.join(sweep['declared_defaults'])}.")
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise SweepError(f"{notebook} declared no parameter {unknown} when the sweep ran.")
    swept = {name: ast.literal_eval(declared[name]) for name in values}
    return {name: (value, swept[name]) for name, value in values.items() if value != swept[name]}


def _over_seeds(values: list[Any]) -> str:
    """Summarise one metric over seeds: counts for verdicts, mean, std and range for numbers."""
    if all(isinstance(v, str) for v in values):
        counts = Counter(values)
        agreed = "the same at every seed" if len(counts) == 1 else "changes with the seed"
        return f"{', '.join(f'{v} {n}' for v, n in counts.most_common())}: {agreed}"
    numbers = pd.Series(values, dtype=float)
    return (f"mean {numbers.mean():.4f}, std {numbers.std():.4f}, "
            f"{numbers.min():.4f} to {numbers.max():.4f}")


def with_this_run(sweep: dict[str, Any], notebook: str, this_run: dict[str, Any],
                  seed: int) -> pd.DataFrame:
    """Return one row per metric: this run's value, each other seed's in the sweep, a summary.

    A metric recorded as a dict is named by ``name.key`` (``"scheme.verdict"``). The sweep's
    run of ``seed`` itself, if any, is left out (this run stands for it), so every seed counts
    once in the summary over seeds.
    """
    points = sorted((p for p in sweep["points"] if p["notebook"] == notebook
                     and p["status"] == "ok" and p["parameters"].get("seed") != seed),
                    key=lambda p: p["parameters"].get("seed"))
    if not points:
        raise SweepError(f"The sweep has no finished run of {notebook} with a seed other "
                         f"than {seed}.")
    recorded = [(p["parameters"].get("seed"), flat_metrics(p["metrics"])) for p in points]
    rows = []
    for metric, value in this_run.items():
        missing = [s for s, metrics in recorded if metric not in metrics]
        if missing:
            raise SweepError(f"The sweep recorded no {metric!r} for {notebook} at seeds "
                             f"{missing}.")
        others = {f"seed {s}": metrics[metric] for s, metrics in recorded}
        values = [value, *others.values()]
        rows.append({"metric": metric, f"seed {seed} (this run)": value, **others,
                     f"over {len(values)} seeds": _over_seeds(values)})
    return pd.DataFrame(rows).set_index("metric")


def beside_sweep(name: str, notebook: str, this_run: dict[str, Any], seed: int,
                 parameters: dict[str, Any], folder: Path | None = None) -> pd.DataFrame | None:
    """Return this run beside the committed sweep ``name`` (``with_this_run``), after printing
    the command that made it; or print why the sweep does not describe this run and return None.

    ``parameters`` are this run's parameters that decide its results (the seed left out).
    """
    sweep = committed_sweep(name, folder)
    differences = differences_from_sweep(sweep, notebook, parameters)
    if differences:
        print("The committed sweep ran other settings, so it says nothing about this run: "
              + ", ".join(f"{key} {mine!r} here, {theirs!r} there"
                          for key, (mine, theirs) in differences.items()))
        return None
    print("the sweep:", sweep["command"])
    return with_this_run(sweep, notebook, this_run, seed)
