"""What the machine lends a run: the cores this process may use, the memory a piece of work takes.

``usable_cores()`` is the default thread count of the lessons (``session.default_threads``)
and the core count the benchmarks report. ``PeakMemory`` samples resident memory in a
thread while a block runs: this process's own (the benchmarks time work done here) or
that of the processes it started (the runner measures the kernel of a notebook).

psutil (the ``batch`` extra) is imported only when memory is sampled, so the lessons can
import this module without it.

Example::

    >>> with PeakMemory(children=True) as memory:            # doctest: +SKIP
    ...     execute(notebook, output, {}, cwd=notebook.parent)
    >>> memory.peak_mb                                        # doctest: +SKIP
    1432.6
"""

from __future__ import annotations

import contextlib
import os
import threading

MB = 1024 * 1024


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
