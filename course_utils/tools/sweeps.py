"""Committed seed sweeps: a grid run over seeds, kept with the course and checked against it.

A lesson's verdicts come from one seed; how far they move with the seed is measured by a sweep
that no lesson can afford to run inline. ``--publish NAME`` on a seed grid keeps its result::

    python -m course_utils run --only 02,04,05 --grid seed=0,1,2 --publish 02_04_05

writes ``course_utils/seed_sweeps/02_04_05.json``: the command, the machine, each lesson's
``parameters`` cell as it ran, every point's status, seconds and recorded metrics, each number's
mean, standard deviation and range over the seeds, and how often each verdict came out.
``course_utils.seeds`` reads them in a lesson. ``stale_parameters`` names every parameter whose
default changed since the sweep ran; a test fails on it, so a committed sweep always describes
the lessons as they are. Publishing new seeds under the name of a committed sweep adds them to
it (``--grid seed=3,4 --publish 02_04_05``), provided the same lessons ran with the same
defaults; its command then names every seed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomically
from ..seeds import SWEEP_DIR, committed_sweep
from .grid import SEED, declared_defaults, over_seeds, verdicts_over_seeds
from .runner import RunnerError, parameter_declarations

KEPT_FIELDS = ("point", "notebook", "parameters", "status", "seconds", "peak_rss_mb", "error",
               "metrics")   # a point's row without its folders, which exist only where it ran


def published_sweep(summary: dict[str, Any], command: str, machine: str) -> dict[str, Any]:
    """Return what is committed of a grid run's ``grid.json``: no paths, the command added.

    Raises ``RunnerError`` for a grid a lesson cannot quote: no ``seed`` key, small parameters,
    parameters set with ``-p`` (the lessons' own defaults must be what ran), or a failed point.
    """
    if SEED not in summary["grid"] or len(summary["grid"][SEED]) < 2:
        raise RunnerError("--publish keeps a seed sweep: give --grid seed=0,1,2 (two seeds or "
                          "more).")
    _check_settings(bool(summary.get("small")), summary["parameters"], summary.get("artifacts"))
    failed = [f"{row['point']} {row['notebook']}" for row in summary["points"]
              if row["status"] != "ok"]
    if failed:
        raise RunnerError(f"not published: {', '.join(failed)} did not finish; a sweep with a "
                          "missing seed would show a narrower spread than the lessons have.")
    return {"command": command, "machine": machine, "profile": summary["profile"],
            "lessons": summary["lessons"], "grid": summary["grid"],
            "declared_defaults": summary["declared_defaults"],
            "points": [{key: row[key] for key in KEPT_FIELDS} for row in summary["points"]],
            "over_seeds": summary["over_seeds"],
            "verdicts_over_seeds": summary["verdicts_over_seeds"]}


def _check_name(name: str) -> None:
    if not name or Path(name).name != name or name.startswith("."):
        raise RunnerError(f"--publish {name!r}: give a plain name such as 05_fine_tuning.")


def _check_settings(small: bool, parameters: dict[str, Any], artifacts: str | None) -> None:
    """Raise unless the lessons ran (or will run) with their own defaults, each point alone."""
    if small:
        raise RunnerError("--publish keeps what the lessons run by default: drop --small.")
    overrides = sorted(set(parameters) - {"profile"})
    if overrides:
        raise RunnerError(f"--publish keeps what the lessons run by default: drop -p "
                          f"{', '.join(overrides)} (or change the lesson's parameters cell).")
    if artifacts:
        raise RunnerError("--publish reruns every lesson a point reads (select 02,04,05, not "
                          "--artifacts): a copied artifacts folder would not follow the seed.")


def check_publishable(name: str, small: bool, parameters: dict[str, Any],
                      artifacts: str | None, seeds: list[Any] | None = None,
                      folder: Path | None = None, notebook_dir: Path | None = None) -> None:
    """Raise ``RunnerError`` before a grid runs when its result could not be published.

    When ``NAME`` is a committed sweep, the new ``seeds`` are added to it: refused when one of
    them is in it already or when its lessons' defaults changed since it ran.
    """
    _check_name(name)
    _check_settings(small, parameters, artifacts)
    folder = SWEEP_DIR if folder is None else Path(folder)
    if not (folder / f"{name}.json").is_file():
        return
    committed = committed_sweep(name, folder)
    repeated = _seed_order(set(committed["grid"][SEED]) & set(seeds or []))
    if repeated:
        raise RunnerError(f"--publish {name}: seeds {', '.join(map(str, repeated))} are in the "
                          f"committed sweep already ({folder / f'{name}.json'}); give only new "
                          "seeds.")
    stale = stale_parameters(committed, notebook_dir) if notebook_dir is not None else []
    if stale:
        raise RunnerError(f"--publish {name}: the committed sweep ran other defaults "
                          f"({'; '.join(stale)}); delete {folder / f'{name}.json'} and run every "
                          "seed again.")


def _seed_order(seeds) -> list[Any]:
    """Return the seeds in order: numbers by value (2 before 10), then any others by name."""
    return sorted(seeds, key=lambda s: (0, s, "") if isinstance(s, int) else (1, 0, str(s)))


def merged_sweep(committed: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Return ``committed`` with the seeds of ``new`` added, its summaries over every seed.

    Raises ``RunnerError`` unless both ran the same lessons, profile, other grid keys and
    defaults, with no seed in both.
    """
    for key in ("profile", "lessons", "declared_defaults"):
        if committed[key] != new[key]:
            raise RunnerError(f"not published: the committed sweep ran other {key} than this "
                              "grid; delete it and run every seed again.")
    others = [{k: v for k, v in sweep["grid"].items() if k != SEED} for sweep in (committed, new)]
    if others[0] != others[1]:
        raise RunnerError(f"not published: the committed sweep's grid {committed['grid']} and "
                          f"this one {new['grid']} differ beyond the seeds.")
    repeated = _seed_order(set(committed["grid"][SEED]) & set(new["grid"][SEED]))
    if repeated:
        raise RunnerError(f"not published: seeds {', '.join(map(str, repeated))} are in the "
                          "committed sweep already.")
    seeds = _seed_order(committed["grid"][SEED] + new["grid"][SEED])
    points = sorted(committed["points"] + new["points"],
                    key=lambda row: (seeds.index(row["parameters"][SEED]), row["notebook"]))
    machine = committed["machine"] if committed["machine"] == new["machine"] else (
        f"seeds {', '.join(map(str, committed['grid'][SEED]))}: {committed['machine']}; seeds "
        f"{', '.join(map(str, new['grid'][SEED]))}: {new['machine']}")
    command = re.sub(r"seed=\S+", f"seed={','.join(map(str, seeds))}", new["command"])
    return {**committed, "command": command, "machine": machine,
            "grid": {**committed["grid"], SEED: seeds}, "points": points,
            "over_seeds": over_seeds(points), "verdicts_over_seeds": verdicts_over_seeds(points)}


def publish(grid_folder: Path, name: str, command: str, machine: str,
            folder: Path | None = None) -> Path:
    """Write ``folder/NAME.json`` (default: the committed ``SWEEP_DIR``) from the grid run in
    ``grid_folder``, adding its seeds to the sweep already there; return its path."""
    folder = SWEEP_DIR if folder is None else folder
    _check_name(name)
    summary = json.loads((Path(grid_folder) / "grid.json").read_text())
    kept = published_sweep(summary, command, machine)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.json"
    if target.is_file():
        kept = merged_sweep(committed_sweep(name, folder), kept)
    write_text_atomically(target, json.dumps(kept, indent=1) + "\n")
    return target


def committed_sweeps(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Return every committed sweep by name."""
    folder = SWEEP_DIR if folder is None else folder
    return {path.stem: committed_sweep(path.stem, folder) for path in sorted(folder.glob("*.json"))}


def stale_parameters(sweep: dict[str, Any], notebook_dir: Path) -> list[str]:
    """Return one line per lesson parameter whose default is not what the sweep ran with.

    The grid's own keys (the seed) are not compared: the sweep varied them on purpose.
    """
    problems = []
    for stem, ran_with in sweep["declared_defaults"].items():
        path = Path(notebook_dir) / f"{stem}.ipynb"
        if not path.is_file():
            problems.append(f"{stem}: the sweep ran it, and there is no {path} now")
            continue
        now = declared_defaults(parameter_declarations(path))
        for name in sorted(set(ran_with) | set(now)):
            if name in sweep["grid"] or ran_with.get(name) == now.get(name):
                continue
            problems.append(f"{stem}: {name} = {now.get(name, '(not declared)')} now, the sweep "
                            f"ran with {ran_with.get(name, '(not declared)')}")
    return problems
