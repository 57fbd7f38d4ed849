"""course_utils.measure: timers, alternating runs, latency, the speed verdict and peak memory.

Cores and PeakMemory themselves are tested in test_resources.py."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from course_utils import measure


def test_measure_times_each_repeat_after_the_warmup_and_keeps_the_last_result():
    calls = []
    result = measure.measure(lambda: calls.append(len(calls)) or len(calls), repeats=3, warmup=2)
    assert len(calls) == 5 and result.result == 5
    assert len(result.seconds) == 3 and result.median >= 0 and result.spread >= 0


def test_timer_measures_a_sleep():
    with measure.Timer() as timer:
        time.sleep(0.02)
    assert timer.seconds >= 0.02


def test_alternate_runs_reverse_the_order_every_other_round():
    calls = []
    seconds = measure.alternate_runs({"a": lambda: calls.append("a"),
                                      "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert {name: len(runs) for name, runs in seconds.items()} == {"a": 3, "b": 3}
    assert all(s >= 0 for runs in seconds.values() for s in runs)
    with pytest.raises(ValueError, match="repeats"):
        measure.alternate_runs({"a": lambda: None}, repeats=0)


def test_alternate_runs_measure_each_call_with_the_given_run():
    runs = measure.alternate_runs({"a": lambda: "A", "b": lambda: "B"}, repeats=2,
                                  run=lambda function: function().lower())
    assert runs == {"a": ["a", "a"], "b": ["b", "b"]}


def test_call_seconds_times_each_call():
    seconds = measure.call_seconds(time.sleep, [0.0, 0.02])
    assert len(seconds) == 2 and seconds[1] >= 0.02 > seconds[0]


def test_latency_is_reported_in_milliseconds_with_the_95th_percentile():
    summary = measure.latency_ms([0.001] * 19 + [0.1])
    assert summary["median_ms"] == pytest.approx(1.0)
    assert 1.0 < summary["p95_ms"] < 100.0
    assert summary["p95_ms"] == pytest.approx(np.percentile([1.0] * 19 + [100.0], 95))


def test_speed_verdict_sees_a_difference_larger_than_the_noise():
    assert measure.speed_verdict([20.1, 19.8, 20.3], [10.2, 9.9, 10.0]) == "faster"
    assert measure.speed_verdict([10.2, 9.9, 10.0], [20.1, 19.8, 20.3]) == "slower"


def test_speed_verdict_is_a_tie_when_the_noise_covers_the_difference():
    # the medians differ by a tenth, while each side's passes spread over a third
    assert measure.speed_verdict([10.5, 8.0, 12.5, 11.0], [10.0, 12.0, 8.5, 9.5]) == "tie"
    assert measure.speed_verdict([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]) == "tie"


def test_speed_verdict_is_not_made_a_tie_by_one_slow_pass():
    # the ranges overlap (one slow pass), which the old min-max rule called a tie; five
    # passes each still show a difference far larger than their noise
    runs, baseline = [15.0, 15.2, 14.9, 15.1, 9.5], [10.0, 10.1, 9.9, 10.2, 9.8]
    assert min(runs) < max(baseline)
    assert measure.speed_verdict(runs, baseline) == "faster"


def test_speed_verdict_needs_three_passes_each_and_positive_throughputs():
    assert measure.speed_verdict([100.0, 101.0], [1.0, 1.1]) == "tie"       # too few passes
    with pytest.raises(ValueError, match="at least one"):
        measure.speed_verdict([], [1.0])
    with pytest.raises(ValueError, match="positive"):
        measure.speed_verdict([1.0, 0.0, 2.0], [1.0, 1.0, 1.0])


def test_timed_run_without_memory_has_no_memory_figures():
    run = measure.timed_run(lambda: 42, memory=False)
    assert run.result == 42 and run.seconds >= 0
    assert math.isnan(run.peak_mb) and math.isnan(run.rise_mb)


def test_timed_run_with_memory_sees_a_large_allocation():
    run = measure.timed_run(lambda: np.ones(40_000_000).sum())    # 320 MB
    assert run.result == 40_000_000
    assert run.peak_mb >= run.start_mb > 0 and run.rise_mb > 100


def test_peak_memory_mb_returns_the_result_and_the_rise():
    result, rise = measure.peak_memory_mb(lambda: np.ones(40_000_000).sum())
    assert result == 40_000_000
    assert math.isnan(rise) or rise > 100


def test_peak_memory_mb_is_nan_without_psutil(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "psutil" else real(name, *args))
    result, rise = measure.peak_memory_mb(lambda: "done")
    assert result == "done" and math.isnan(rise)


def test_release_memory_runs_where_there_is_no_glibc(monkeypatch):
    import ctypes

    def no_glibc(name):
        raise OSError(name)

    monkeypatch.setattr(ctypes, "CDLL", no_glibc)
    measure.release_memory()     # gc still runs; nothing raised
