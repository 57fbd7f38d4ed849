"""The spread over seeds of a lesson's numbers and verdicts, from the course's committed sweeps.

A lesson runs one seed; a committed sweep (``course_utils/seed_sweeps/NAME.json``, written by
``python -m course_utils run ... --grid seed=0,1,2 --publish NAME``) ran the same lessons with
their default parameters over several seeds. These functions show it next to the lesson's own
result: each number's mean, standard deviation and range, and how often each verdict came out.

    >>> sweep = committed_sweep("02_04_05")                                    # doctest: +SKIP
    >>> numbers_over_seeds(sweep, "05_fine_tuning", ["finetune_accuracy"])   # doctest: +SKIP
    >>> verdicts_over_seeds(sweep, "05_fine_tuning", ["loop_vs_trainer"])    # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

SWEEP_DIR = Path(__file__).resolve().parent / "seed_sweeps"   # shipped with the package


class SweepError(LookupError):
    """A committed sweep, or a number in it, that does not exist."""


def committed_sweep(name: str, folder: Path | None = None) -> dict[str, Any]:
    """Return the committed sweep ``NAME`` (its command, machine, points and summaries)."""
    folder = SWEEP_DIR if folder is None else Path(folder)
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.json"))
        raise SweepError(f"No committed sweep {name!r} in {folder}; there are: "
                         f"{', '.join(known) or 'none'}.")
    return json.loads(path.read_text())


def _chosen(rows: list[dict[str, Any]], notebook: str, metrics: list[str], what: str):
    by_metric = {row["metric"]: row for row in rows if row["notebook"] == notebook}
    missing = [m for m in metrics if m not in by_metric]
    if missing:
        raise SweepError(f"The sweep has no {what} {missing} for {notebook}; it has: "
                         f"{', '.join(sorted(by_metric)) or 'none'}.")
    return [by_metric[m] for m in metrics]


def numbers_over_seeds(sweep: dict[str, Any], notebook: str,
                       metrics: list[str]) -> pd.DataFrame:
    """Return one row per metric: the seeds, mean, standard deviation, min and max."""
    rows = _chosen(sweep["over_seeds"], notebook, metrics, "number")
    return pd.DataFrame([{"metric": r["metric"], "seeds": len(r["seeds"]), "mean": r["mean"],
                          "std": r["std"], "min": r["min"], "max": r["max"]}
                         for r in rows]).set_index("metric")


def verdicts_over_seeds(sweep: dict[str, Any], notebook: str,
                        metrics: list[str]) -> pd.DataFrame:
    """Return one row per verdict: how often each value came out, and whether all seeds agree."""
    rows = _chosen(sweep["verdicts_over_seeds"], notebook, metrics, "verdict")
    return pd.DataFrame([{"verdict": r["metric"], "seeds": len(r["seeds"]),
                          "counts": ", ".join(f"{v} {n}" for v, n in sorted(r["counts"].items())),
                          "same_every_seed": len(r["counts"]) == 1}
                         for r in rows]).set_index("verdict")
