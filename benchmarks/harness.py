"""Timing and memory plumbing shared by the benchmark rows, built on ``course_utils.measure``.

``compare(baseline, course, repeats)`` runs two recipes alternately in this process
(B C, C B, B C, ... with ``measure.alternate_runs``), times every run, samples the
process's resident memory while each runs (``measure.timed_run``: memory released first),
and keeps each recipe's last result for the row's equality check. ``figure`` turns the
timings into the median-and-spread record that results.json holds.

Example::

    >>> pair = compare(lambda: slow(texts), lambda: fast(texts), repeats=3)   # doctest: +SKIP
    >>> figure([len(texts) / s for s in pair.baseline.seconds], "texts/s")   # doctest: +SKIP
    {'median': 812.4, 'unit': 'texts/s', 'min': 790.1, 'max': 830.0, 'runs': [...]}
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from course_utils.measure import Run, alternate_runs, timed_run, usable_cores
from course_utils.session import cpu_features


@dataclass
class Runs:
    """Every timed run of one recipe: seconds, peak RSS (MB) and its increase, last result."""

    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    rss_increase_mb: list[float] = field(default_factory=list)
    result: Any = None

    def add(self, run: Run) -> None:
        """Append one measured run."""
        self.seconds.append(run.seconds)
        self.peak_rss_mb.append(run.peak_mb)
        self.rss_increase_mb.append(run.rise_mb)
        self.result = run.result


@dataclass
class Pair:
    """The runs of the source recipe and of the course recipe from one ``compare``."""

    baseline: Runs
    course: Runs


def timed(function: Callable[[], Any], runs: Runs) -> Any:
    """Run ``function`` once under a timer and an RSS sampler; append to ``runs``."""
    run = timed_run(function, memory=True)
    runs.add(run)
    return run.result


def compare(baseline: Callable[[], Any], course: Callable[[], Any], repeats: int,
            warmup: Callable[[], Any] | None = None) -> Pair:
    """Time both recipes ``repeats`` times each, alternating which goes first."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    if warmup is not None:
        warmup()
    measured = alternate_runs({"baseline": baseline, "course": course}, repeats, run=timed_run)
    pair = Pair(Runs(), Runs())
    for name, runs in (("baseline", pair.baseline), ("course", pair.course)):
        for run in measured[name]:
            runs.add(run)
    return pair


def figure(values: list[float], unit: str, higher_is_better: bool = True,
           digits: int = 4) -> dict[str, Any]:
    """Return the median, min, max and every run of one measured quantity, with its unit."""
    if not values:
        raise ValueError("figure() needs at least one measured value.")
    rounded = [round(float(v), digits) for v in values]
    return {"median": round(statistics.median(values), digits), "unit": unit,
            "min": min(rounded), "max": max(rounded), "runs": rounded,
            "higher_is_better": higher_is_better}


def throughput(items: int, seconds: list[float]) -> list[float]:
    """Return items per second for each run."""
    return [items / s for s in seconds]


def peak_memory(pair: Pair) -> dict[str, float]:
    """Return each recipe's largest peak RSS over its runs, in MB (whole process)."""
    return {"baseline": round(max(pair.baseline.peak_rss_mb), 1),
            "course": round(max(pair.course.peak_rss_mb), 1)}


def memory_increase(pair: Pair) -> dict[str, float]:
    """Return each recipe's largest RSS increase over the RSS at its start, in MB."""
    return {"baseline": round(max(pair.baseline.rss_increase_mb), 1),
            "course": round(max(pair.course.rss_increase_mb), 1)}


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages (runnable processes), rounded."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def machine_info(threads: int) -> dict[str, Any]:
    """Return what results.json says about the machine and the libraries."""
    import tokenizers
    import torch
    import transformers

    features = cpu_features()
    return {"cpu": features["model"], "cores": usable_cores(), "threads": threads,
            "memory_gb": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "load_average": {"start": load_average()},
            "cpu_features": features}


class HookTimer:
    """Context manager adding up the wall time between a pre-hook and its post-hook.

    ``register_pre`` and ``register_post`` are hook-registering methods, e.g. a module's
    ``register_forward_pre_hook`` / ``register_forward_hook`` or an optimizer's
    ``register_step_pre_hook`` / ``register_step_post_hook``.
    """

    def __init__(self, register_pre, register_post) -> None:
        self._register = (register_pre, register_post)
        self.seconds = 0.0
        self.calls = 0
        self._started = 0.0
        self._handles = []

    def _before(self, *hook_args) -> None:
        self._started = time.perf_counter()

    def _after(self, *hook_args) -> None:
        self.seconds += time.perf_counter() - self._started
        self.calls += 1

    def __enter__(self) -> HookTimer:
        register_pre, register_post = self._register
        self._handles = [register_pre(self._before), register_post(self._after)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


def ForwardTimer(module) -> HookTimer:  # noqa: N802 (kept as the name callers use)
    """Return a timer of the wall time spent inside ``module``'s forward passes."""
    return HookTimer(module.register_forward_pre_hook, module.register_forward_hook)
