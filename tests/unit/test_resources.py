"""course_utils.measure's cores and memory: one of each, for the lessons, the runner and the
benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from course_utils.measure import PeakMemory, usable_cores
from course_utils.session import default_threads


def test_usable_cores_follow_the_affinity_and_the_environment_wins(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cores() == 3
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    assert default_threads() == 3
    monkeypatch.setenv("COURSE_THREADS", "1")
    assert default_threads() == 1


def test_usable_cores_fall_back_to_the_cpu_count(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores() == 1


def test_peak_memory_of_this_process_sees_an_allocation():
    with PeakMemory(interval=0.01) as memory:
        block = bytearray(200 * 2**20)  # 200 MB, touched so it is resident
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.1)
        del block
    assert memory.peak_mb - memory.start_mb > 150


@pytest.mark.kernel
def test_peak_memory_of_children_measures_the_processes_started_inside():
    code = ("import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            "time.sleep(1)")
    with PeakMemory(interval=0.05, children=True) as memory:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert memory.peak_mb - memory.start_mb > 150


@pytest.mark.parametrize("module", ["course_utils", "course_utils.measure",
                                    "course_utils.record", "course_utils.session"])
def test_lessons_import_without_the_batch_packages(module):
    code = (f"import sys, {module}; "
            "print(sorted({'psutil', 'papermill', 'nbformat', 'nbconvert'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
