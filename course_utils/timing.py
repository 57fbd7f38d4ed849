"""Time code honestly: wall-clock timers and repeated measurements with a median.

Timings depend on the machine and on what else runs, so lessons print them in cells
that nbval does not compare, and record them as metrics with ``record()``.

Example::

    >>> with Timer() as t:                      # doctest: +SKIP
    ...     model(**batch)
    >>> t.seconds                               # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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
