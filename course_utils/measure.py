"""Measure code honestly: wall time, alternating runs, latency, memory, and a verdict with noise.

One home for what the lessons, the runner and the benchmarks measure:

- time: ``Timer`` (a block), ``measure`` (repeats of one function, with the median),
  ``call_seconds`` (one call per item, for latency) and ``alternate_runs`` (several recipes
  taking turns, so a slow moment of the machine hits all of them);
- summaries: ``latency_ms`` (median and 95th percentile) and ``speed_verdict`` (faster,
  slower or a tie, against the noise of the timed passes);
- the machine: ``usable_cores``; memory: ``resident_mb``, ``PeakMemory`` (sampled in a
  thread), ``release_memory`` (gc and glibc's ``malloc_trim``) and ``peak_memory_mb``.

Timings depend on the machine and on what else runs, so lessons print them in cells that
nbval does not compare, and record them as metrics with ``record()``. psutil (the ``batch``
extra; Colab and Kaggle ship it) is imported only when memory is sampled.

Example::

    >>> with Timer() as t:                                            # doctest: +SKIP
    ...     model(**batch)
    >>> seconds = alternate_runs({"fp32": run_fp32, "int8": run_int8}, repeats=5)  # doctest: +SKIP
    >>> speed_verdict([n / s for s in seconds["int8"]],
    ...               [n / s for s in seconds["fp32"]])               # doctest: +SKIP
    'faster'
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

MB = 1024 * 1024
MIN_PASSES = 3          # timed passes per side that speed_verdict's test needs
T = TypeVar("T")


class Timer:
    """Context manager measuring wall-clock seconds in ``.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


@dataclass
class Measurement:
    """Repeated timings of one function: the median, the spread and the last result."""

    seconds: list[float]
    result: Any

    @property
    def median(self) -> float:
        """Return the median time in seconds."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """Return max minus min, in seconds."""
        return max(self.seconds) - min(self.seconds)


def measure(function: Callable[[], Any], repeats: int = 3, warmup: int = 0) -> Measurement:
    """Call ``function`` ``warmup`` + ``repeats`` times; time the repeats."""
    for _ in range(warmup):
        function()
    seconds, result = [], None
    for _ in range(repeats):
        with Timer() as timer:
            result = function()
        seconds.append(timer.seconds)
    return Measurement(seconds, result)


def call_seconds(call: Callable[[Any], Any], items: Sequence[Any]) -> list[float]:
    """Return the wall time in seconds of ``call(item)`` for each item, one call at a time."""
    seconds = []
    for item in items:
        with Timer() as timer:
            call(item)
        seconds.append(timer.seconds)
    return seconds


def wall_seconds(function: Callable[[], Any]) -> float:
    """Call ``function`` once; return its wall time in seconds."""
    with Timer() as timer:
        function()
    return timer.seconds


def alternate_runs(recipes: dict[str, Callable[[], Any]], repeats: int,
                   run: Callable[[Callable[[], Any]], T] = wall_seconds) -> dict[str, list[T]]:
    """Measure every recipe ``repeats`` times, one run of each per round; return runs per recipe.

    The order reverses every other round (A B, B A, A B, ...), so neither recipe always runs
    first, and a slow moment of the machine hits all recipes instead of one. ``run`` measures
    one call: its wall seconds by default, ``timed_run`` for seconds with memory.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    runs: dict[str, list[T]] = {name: [] for name in recipes}
    names = list(recipes)
    for round_ in range(repeats):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            runs[name].append(run(recipes[name]))
    return runs


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return the median and the 95th percentile of single-call times, in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000
    return {"median_ms": float(np.median(values)), "p95_ms": float(np.percentile(values, 95))}


def speed_verdict(runs: Sequence[float], baseline_runs: Sequence[float],
                  alpha: float = 0.05) -> str:
    """Return "faster", "slower" or "tie": throughputs ``runs`` against ``baseline_runs``.

    Welch's t-test on the logarithms of the throughputs (a ratio of speeds, unequal noise
    allowed): "faster" or "slower" when its two-sided p-value is below ``alpha``, else "tie".
    With fewer than ``MIN_PASSES`` (3) timed passes on either side the noise cannot be
    estimated, and the verdict is "tie" whatever the numbers.

    >>> speed_verdict([20.1, 19.8, 20.3], [10.2, 9.9, 10.0])
    'faster'
    >>> speed_verdict([20.0, 19.0], [10.0, 9.0])      # two passes: too few to tell
    'tie'
    """
    from scipy.stats import ttest_ind

    if not len(runs) or not len(baseline_runs):
        raise ValueError("each side needs at least one timed run.")
    values, baseline = np.log(_positive(runs)), np.log(_positive(baseline_runs))
    if min(values.size, baseline.size) < MIN_PASSES:
        return "tie"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)      # identical runs: no variance
        p_value = float(ttest_ind(values, baseline, equal_var=False).pvalue)
    if not p_value < alpha:                                    # NaN (no difference) is a tie
        return "tie"
    return "faster" if values.mean() > baseline.mean() else "slower"


def _positive(throughputs: Sequence[float]) -> np.ndarray:
    values = np.asarray(throughputs, dtype=float)
    if not (np.isfinite(values) & (values > 0)).all():
        raise ValueError(f"throughputs must be positive numbers, got {values.tolist()}.")
    return values


def usable_cores() -> int:
    """Return the number of cores this process may run on (its affinity, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def resident_mb(children: bool = False) -> float:
    """Return the resident memory in MB of this process, or of all its descendants together."""
    import psutil

    me = psutil.Process()
    if not children:
        return me.memory_info().rss / MB
    total = 0
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # it may end between listing and reading
            total += child.memory_info().rss
    return total / MB


class PeakMemory:
    """Sample resident memory while a block runs; ``start_mb`` and ``peak_mb`` after it.

    ``children=False`` samples this process; ``children=True`` the processes it started
    (their sum), e.g. the kernel executing a notebook. ``interval`` is the seconds between
    samples: a peak shorter than that can be missed.

    Example::

        >>> with PeakMemory(children=True) as memory:            # doctest: +SKIP
        ...     execute(notebook, output, {}, cwd=notebook.parent)
        >>> memory.peak_mb                                        # doctest: +SKIP
        1432.6
    """

    def __init__(self, interval: float = 0.25, children: bool = False) -> None:
        self.interval, self.children = interval, children
        self.start_mb = self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        self.peak_mb = max(self.peak_mb, resident_mb(self.children))

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self.start_mb = self.peak_mb = resident_mb(self.children)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS, so a peak belongs to the next run."""
    gc.collect()
    # not glibc (macOS, musl, Windows): no malloc_trim, and peaks may include old heap
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class Run:
    """One measured call: wall seconds, its result, resident MB at its start and at its peak."""

    seconds: float
    result: Any
    start_mb: float = math.nan
    peak_mb: float = math.nan

    @property
    def rise_mb(self) -> float:
        """Return how far resident memory rose above its start (NaN when not sampled)."""
        if math.isnan(self.peak_mb) or math.isnan(self.start_mb):
            return math.nan
        return max(0.0, self.peak_mb - self.start_mb)


def timed_run(function: Callable[[], Any], memory: bool = True, interval: float = 0.01) -> Run:
    """Call ``function`` once and time it; with ``memory``, release memory first and sample RSS."""
    if not memory:
        with Timer() as timer:
            result = function()
        return Run(timer.seconds, result)
    release_memory()
    with PeakMemory(interval=interval) as sampled, Timer() as timer:
        result = function()
    return Run(timer.seconds, result, sampled.start_mb, sampled.peak_mb)


def peak_memory_mb(function: Callable[[], Any], interval: float = 0.01) -> tuple[Any, float]:
    """Run ``function``; return its result and the rise of resident memory it caused, in MB.

    NaN when psutil is not installed (it is in Colab, Kaggle and the course's ``batch`` extra).
    """
    import importlib.util

    if importlib.util.find_spec("psutil") is None:
        return function(), math.nan
    run = timed_run(function, memory=True, interval=interval)
    return run.result, run.rise_mb
