"""Grade one class of submissions several ways and compare them in one run.

The class: for each of lessons 01 and 03, ``--per-kind`` solved submissions (the master
notebooks) and as many unsolved ones (``homework build``'s student versions): 24 files
by default. The ways (``--ways``, all by default): ``workers_1``, ``workers_2`` and
``dask_local_2`` grade in the sandbox; ``no_sandbox_1`` grades with one worker and no sandbox
(``--unsafe-no-sandbox``), the baseline that prices the sandbox on the same machine in the same
run (``sandbox_cost``: seconds in the sandbox over seconds without). The script reports
submissions per minute, the speed-up over one worker, whether the sandboxed ways' grades are
identical, and one lesson graded with its grading parameters vs at full size. The result goes
to ``benchmarks/grading.json``.

    python benchmarks/bench_grading.py [--per-kind 6] [--ways workers_1,no_sandbox_1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.atomic import write_text_atomically  # noqa: E402
from course_utils.measure import usable_cores  # noqa: E402
from course_utils.tools.grading.build import student_notebook  # noqa: E402
from course_utils.tools.grading.grade import grade_submissions  # noqa: E402
from course_utils.tools.grading.sandbox import sandbox_problems  # noqa: E402
from course_utils.tools.lessons import select_notebooks  # noqa: E402

REPORTS = ("grades.csv", "gradebook.csv", "pass_rates.csv")
# Each way's options to grade_submissions (dask_local_2 gets a scheduler address when it runs).
WAYS = {"workers_1": {"workers": 1}, "no_sandbox_1": {"workers": 1, "sandbox": False},
        "workers_2": {"workers": 2}, "dask_local_2": {}}


def make_class(folder: Path, lessons: list[str], per_kind: int) -> list[Path]:
    """Write ``per_kind`` solved and unsolved submissions of each lesson into ``folder``."""
    folder.mkdir(parents=True)
    for master in select_notebooks(lessons):
        lesson = master.name[:2]
        solved, unsolved = nbformat.read(master, as_version=4), student_notebook(master)
        for index in range(per_kind):
            nbformat.write(solved, folder / f"{lesson}_solved{index}.ipynb")
            nbformat.write(unsolved, folder / f"{lesson}_unsolved{index}.ipynb")
    return sorted(folder.iterdir())


def timed_grading(folder: Path, out: Path, **options) -> dict:
    """Grade ``folder`` into ``out``; return the seconds, the rate and the reports' text."""
    start = time.perf_counter()
    grades = grade_submissions(folder, out, **options)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1),
            "submissions_per_minute": round(60 * len(grades) / seconds, 2),
            "statuses": sorted({g.status for g in grades}),
            "totals": {g.submission: f"{g.total}/{g.max_total}" for g in grades},
            "reports": {name: (out / name).read_text() for name in REPORTS}}


def cpu_model() -> str:
    """Return the CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=6, help="solved (and unsolved) per lesson")
    parser.add_argument("--lessons", default="01,03")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "grading.json"))
    parser.add_argument("--ways", default=",".join(WAYS),
                        help=f"comma-separated, from {', '.join(WAYS)} (workers_1 always runs)")
    parser.add_argument("--no-size", action="store_true",
                        help="skip the one-submission grading-parameters vs full-size timing")
    args = parser.parse_args()
    ways = ["workers_1", *(w for w in args.ways.split(",") if w and w != "workers_1")]
    unknown = sorted(set(ways) - set(WAYS))
    if unknown:
        parser.error(f"unknown ways {unknown}: choose from {', '.join(WAYS)}")
    os.environ.setdefault("COURSE_THREADS", "1")
    lessons = args.lessons.split(",")
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temporary:
        root = Path(temporary)
        files = make_class(root / "class", lessons, args.per_kind)
        runs = {}
        for way in ways:
            if way == "dask_local_2":
                with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
                    runs[way] = timed_grading(root / "class", root / way,
                                              scheduler=cluster.scheduler_address)
            else:
                runs[way] = timed_grading(root / "class", root / way, **WAYS[way])
        size = {}
        one = root / "one"
        one.mkdir()
        (one / files[0].name).write_bytes(files[0].read_bytes())  # a solved lesson-01 file
        for label, grading_size in (() if args.no_size else
                                    (("grading_parameters", True), ("full_size", False))):
            run = timed_grading(one, root / f"one-{label}", grading_size=grading_size)
            size[label] = {"seconds": run["seconds"], "total": run["totals"][files[0].name]}
    baseline = runs["workers_1"]["seconds"]
    sandboxed = [name for name in runs if name != "no_sandbox_1"]
    identical = all(runs[name]["reports"] == runs["workers_1"]["reports"] for name in sandboxed)
    same_totals = all(run["totals"] == runs["workers_1"]["totals"] for run in runs.values())
    result = {
        "submissions": len(files), "lessons": lessons, "sandbox": not sandbox_problems(),
        "cores": usable_cores(), "cpu": cpu_model(), "machine": platform.machine(),
        "python": platform.python_version(), "load_average_before": os.getloadavg(),
        "grades_identical": identical, "totals_identical_without_sandbox": same_totals,
        "sandbox_cost": (round(baseline / runs["no_sandbox_1"]["seconds"], 2)
                         if "no_sandbox_1" in runs else None),
        "runs": {name: {k: v for k, v in run.items() if k != "reports"}
                 | {"speedup_vs_1_worker": round(baseline / run["seconds"], 2)}
                 for name, run in runs.items()},
        "one_lesson_01_submission": size,
    }
    write_text_atomically(Path(args.out), json.dumps(result, indent=2) + "\n")
    for name, run in result["runs"].items():
        print(f"{name:<14} {run['seconds']:7.1f} s  {run['submissions_per_minute']:6.2f} "
              f"submissions/min  x{run['speedup_vs_1_worker']:.2f}  {run['statuses']}")
    print(f"grades identical: {identical}; totals without the sandbox the same: {same_totals}; "
          f"sandbox cost: x{result['sandbox_cost']}; lesson 01, one submission: {size}")
    return 0 if identical and same_totals else 1


if __name__ == "__main__":
    sys.exit(main())
