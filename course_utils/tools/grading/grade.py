"""Grade a folder of submitted notebooks: run each in a sandbox, check its answers apart, report.

Each ``*.ipynb`` is cleared of its outputs (a submission's stored outputs are never
trusted), given capture cells (``answers.with_captures``) and executed with papermill on
the offline profile and the lesson's grading parameters, inside a sandbox
(``sandbox.run_limited``: own folder and ``HOME``, no network, memory and time limits).
Its saved answers are then judged by the package's checks, plus the teacher's hidden
ones, in a fresh sandboxed process (``python -m course_utils.tools.grading.answers``).
``--workers N`` grades N files at once; ``--scheduler ADDRESS`` sends them to a Dask
cluster. The reports are written by ``reports.write_reports``.

Example::

    >>> grades = grade_submissions("submissions", timeout=600, workers=2)   # doctest: +SKIP

or ``python -m course_utils homework grade submissions/ --workers 2``.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ...assets import cache_dir
from ...atomic import write_bytes_atomically
from ...homework.core import _import_checks, lesson_exercises, load_lesson_checks
from ..execute import BATCH_KERNEL_ENV, last_line_result, worker_command
from ..lessons import lesson_of, small_parameters
from ..transforms import cleaned
from .answers import RESULT_MARK, submission_cells, with_captures
from .markers import exercise_ids
from .reports import SubmissionGrade, write_reports
from .sandbox import (
    bwrap_path,
    missing_protections,
    regular_file,
    run_limited,
    sandbox_environment,
)

REPORT_FILES = {"grades.csv", "grades.md", "pass_rates.csv", "gradebook.csv"}
DEFAULT_TIMEOUT = 600
DEFAULT_MEMORY_MB = 4096

__all__ = ["GradingOptions", "SubmissionGrade", "grade_payload", "grade_submissions",
           "submission_lessons"]


@dataclass(frozen=True)
class GradingOptions:
    """How each submission is run: limits, sandbox, parameters, hidden check modules."""

    timeout: float = DEFAULT_TIMEOUT
    memory_mb: float = DEFAULT_MEMORY_MB
    sandbox: bool = True            # False: no sandbox even where bwrap is available
    grading_size: bool = True       # False: the lessons' full-size parameters
    hidden: tuple[tuple[str, str], ...] = field(default=())  # (file name, source) pairs


@functools.lru_cache(maxsize=1)
def _tool(wanted: bool) -> str | None:
    return bwrap_path() if wanted else None


def submission_lessons(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    """Return the lesson(s) a submission answers: its file-name prefix, else its exercise ids."""
    prefix = lesson_of(path)
    if prefix and lesson_exercises(prefix):
        return [prefix]
    ids = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            ids |= exercise_ids(cell.source)
    return sorted(lesson for lesson in {i.split(".")[0] for i in ids} if lesson_exercises(lesson))


def _errors(nb: nbformat.NotebookNode | None) -> tuple[dict[str, str], str | None]:
    """Return the error of each answer cell that raised, and the first error of the run."""
    from .markers import answer_ids

    by_id, first = {}, None
    for index, cell in enumerate(submission_cells(nb) if nb is not None else []):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                error = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:200]
                first = first or f"cell {index} raised {error}"
                by_id.update(dict.fromkeys(answer_ids(cell.source), error))
                break
    return by_id, first


def _score(nb, lesson_ids, verdicts, status) -> tuple[dict, dict, str | None]:
    """Return (scores, feedback, first error) from the saved answers' verdicts."""
    errors, first = _errors(nb)
    unreached = {"timeout": "not reached before the time limit",
                 "memory": "not reached: the run went over the memory limit",
                 "crashed": "not reached: the run stopped early"}.get(status, "not reached")
    scores, feedback = {}, {}
    for exercise_id, points in lesson_ids.items():
        verdict = verdicts.get(exercise_id, {"passed": False, "reached": False})
        error = errors.get(exercise_id)
        if error and error.startswith("NotImplementedError"):  # the stub: not answered, and
            scores[exercise_id] = 0  # ... a variable left from elsewhere must not count
            feedback[exercise_id] = f"not answered: the answer cell raised {error}"
        elif not verdict.get("reached"):
            scores[exercise_id], feedback[exercise_id] = 0, unreached
        else:
            mark = "PASSED" if verdict["passed"] else "NOT YET"
            scores[exercise_id] = points if verdict["passed"] else 0
            feedback[exercise_id] = (f"[{mark}] Exercise {exercise_id}: {verdict['message']}"
                                     + (f" (its answer cell raised {error})" if error else ""))
    return scores, feedback, first


def _run_notebook(work: Path, staged: Path, parameters: dict, options: GradingOptions,
                  tool: str | None) -> tuple[str, str]:
    """Execute ``staged`` in the sandbox; return (status, detail)."""
    spec = {"notebook": str(staged), "output": str(work / "executed.ipynb"),
            "parameters": parameters, "cwd": str(work), "timeout": None,  # the wall limit stops it
            "kernel_name": "python3", "language": "python", "allow_errors": True}
    env = sandbox_environment(work, tool, {**BATCH_KERNEL_ENV, "COURSE_CACHE": str(cache_dir()),
                                           "COURSE_ARTIFACTS": str(work / "artifacts"),
                                           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    run = run_limited(worker_command(spec), work, options.timeout, options.memory_mb, tool, env)
    if run.status == "timeout":
        return "timeout", f"stopped after the time limit of {options.timeout:g} s"
    if run.status == "memory":
        return "memory", f"stopped above the memory limit of {options.memory_mb:g} MB"
    status, error = last_line_result(run.stdout, run.stderr, run.returncode)
    return ("crashed", (error or "")[:300]) if status == "crashed" else ("finished", "")


def _check_answers(root: Path, ids: list[str], options: GradingOptions,
                   tool: str | None) -> tuple[dict, str]:
    """Judge the answers saved under ``root/work/answers`` in a fresh sandboxed process.

    The hidden check modules are written only now, once the submission's processes are gone,
    into a folder the submission never had.
    """
    import shutil

    check = root / "check"
    (check / "hidden").mkdir(parents=True)
    hidden = []
    for index, (file_name, source) in enumerate(options.hidden):
        hidden.append(check / "hidden" / f"hidden{index}_{Path(file_name).name}")
        hidden[-1].write_text(source)
    (check / "answers").mkdir()
    saved = root / "work" / "answers"
    for path in saved.glob("*.pkl") if saved.is_dir() and not saved.is_symlink() else []:
        if regular_file(path):  # plain files only: no links, devices, pipes or floods
            shutil.copyfile(path, check / "answers" / path.name)
    command = [sys.executable, "-m", "course_utils.tools.grading.answers", str(check / "answers"),
               ",".join(ids)] + [arg for path in hidden for arg in ("--hidden", str(path))]
    env = sandbox_environment(check, tool, {"COURSE_CACHE": str(cache_dir())})
    run = run_limited(command, check, options.timeout, options.memory_mb, tool, env)
    for line in reversed(run.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):]), ""
    detail = (run.stderr.strip().splitlines() or [run.status])[-1][:300]
    return {}, f"the checks could not run ({run.status}: {detail})"


def grade_payload(name: str, data: bytes, options: GradingOptions = GradingOptions(),
                  ) -> tuple[SubmissionGrade, bytes | None]:
    """Grade one submitted file given as bytes; return its grade and its executed notebook."""
    load_lesson_checks(strict=True)
    elsewhere = _load_hidden(options.hidden)
    if not name.endswith(".ipynb"):
        return SubmissionGrade(name, lesson_of(Path(name)), "not a notebook",
                               note="not a notebook (.ipynb): nothing was run"), None
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        _ = nb.cells
    except Exception as err:
        return SubmissionGrade(name, lesson_of(Path(name)), "invalid notebook",
                               note=f"not a valid notebook ({type(err).__name__}): "
                                    f"nothing was run"), None
    lessons = submission_lessons(Path(name), nb)
    if not lessons:
        return SubmissionGrade(name, None, "unknown lesson", note="no lesson found: name the "
                               "file NN_... or keep its exercise cells"), None
    exercises = [ex for lesson in lessons for ex in lesson_exercises(lesson)
                 if ex.id not in elsewhere]
    lesson_ids = {ex.id: ex.points for ex in exercises}
    tool = _tool(options.sandbox)
    parameters = {"profile": "offline"}
    if options.grading_size:
        for lesson in lessons:
            parameters.update(small_parameters(lesson))
    with tempfile.TemporaryDirectory(prefix="grading-") as temporary:
        root = Path(temporary)
        work = root / "work"
        work.mkdir()
        staged = work / name
        submitted = cleaned(nb, shell_commands=False)
        nbformat.write(with_captures(submitted, {ex.id: ex.names for ex in exercises},
                                     work / "answers"), str(staged))
        status, detail = _run_notebook(work, staged, parameters, options, tool)
        executed = _readable(work / "executed.ipynb")
        verdicts, problem = _check_answers(root, sorted(lesson_ids), options, tool)
    scores, feedback, first = _score(executed, lesson_ids, verdicts, status)
    notes = [n for n in (detail, problem, first) if n]
    if status == "finished":
        status = "errors" if first or problem else "ok"
    grade = SubmissionGrade(name, ",".join(lessons), status, scores, sum(lesson_ids.values()),
                            "; ".join(notes), feedback)
    if executed is not None:
        executed.cells = submission_cells(executed)
    return grade, (nbformat.writes(executed).encode() if executed is not None else None)


def _readable(path: Path) -> nbformat.NotebookNode | None:
    """Return the executed notebook, unless the submission replaced it by something else."""
    from ..transforms import readable_notebook

    return readable_notebook(path) if regular_file(path) else None


_HIDDEN_LOADED: dict[str, set[str]] = {}  # a hidden module's digest -> the ids it registered


def _load_hidden(hidden: tuple[tuple[str, str], ...]) -> set[str]:
    """Register the hidden check modules in this process too; return the ids hidden elsewhere.

    Those are the ids that other gradings' hidden modules registered: not part of this one.
    """
    import hashlib

    from ...homework.core import EXERCISES

    wanted = set()
    for file_name, source in hidden:
        digest = hashlib.sha256(source.encode()).hexdigest()
        if digest not in _HIDDEN_LOADED:
            before = set(EXERCISES)
            with tempfile.TemporaryDirectory(prefix="hidden-checks-") as folder:
                path = Path(folder) / f"hidden_{digest[:12]}_{Path(file_name).name}"
                path.write_text(source)
                _import_checks(str(path))
            _HIDDEN_LOADED[digest] = set(EXERCISES) - before
        wanted |= _HIDDEN_LOADED[digest]
    return set().union(*_HIDDEN_LOADED.values()) - wanted


def hidden_modules(paths: list[str | Path]) -> tuple[tuple[str, str], ...]:
    """Return the hidden check modules at ``paths`` as (name, source) pairs; refuse bad paths."""
    modules = []
    for path in map(Path, paths):
        if path.suffix != ".py" or not path.is_file():
            raise ValueError(f"--hidden {path}: not a Python file. Pass the .py file that "
                             f"registers the hidden exercises with @exercise.")
        modules.append((path.name, path.read_text()))
    return tuple(modules)


def _submission_files(submissions: Path, out: Path) -> list[Path]:
    """Return the files of the submissions folder, without the reports of an earlier grading."""
    return sorted(p for p in submissions.iterdir() if p.is_file() and not p.name.startswith(".")
                  and not (p.name in REPORT_FILES and p.parent.resolve() == out.resolve()))


def _graded_locally(files: list[Path], options: GradingOptions, workers: int):
    """Yield (grade, executed bytes) per file as it finishes, ``workers`` at a time."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=workers) as pool:  # the work runs in subprocesses
        futures = [pool.submit(grade_payload, p.name, p.read_bytes(), options) for p in files]
        for future in as_completed(futures):
            yield future.result()


def _graded_on_dask(files: list[Path], options: GradingOptions, scheduler: str):
    """Yield (grade, executed bytes) per file as a Dask cluster at ``scheduler`` finishes it."""
    try:
        from distributed import Client, as_completed
    except ImportError as err:
        raise ValueError("--scheduler needs Dask: pip install -e .[grade] (dask, distributed)"
                         ) from err
    with Client(scheduler) as client:
        futures = [client.submit(grade_payload, p.name, p.read_bytes(), options, pure=False)
                   for p in files]
        for future in as_completed(futures):
            yield future.result()


def grade_submissions(submissions: str | Path, out: str | Path | None = None,
                      timeout: float = DEFAULT_TIMEOUT, progress: bool = False,
                      memory_mb: float = DEFAULT_MEMORY_MB, workers: int = 1,
                      scheduler: str | None = None, hidden: list[str | Path] = (),
                      sandbox: bool = True, grading_size: bool = True) -> list[SubmissionGrade]:
    """Grade every file in ``submissions``; write the reports and executed/ to ``out``."""
    load_lesson_checks(strict=True)  # grading with a broken check module would score zeros
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder: pass the folder holding the submissions.")
    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more submissions to grade at once.")
    out = Path(out) if out else submissions
    out.mkdir(parents=True, exist_ok=True)
    files = _submission_files(submissions, out)
    if not files:
        raise ValueError(f"{submissions} holds no submission files.")
    options = GradingOptions(timeout, memory_mb, sandbox, grading_size, hidden_modules(hidden))
    _load_hidden(options.hidden)
    tool = _tool(sandbox) if scheduler is None else "the workers' own"
    missing = missing_protections(tool)
    if missing and progress:
        print("WARNING: grading WITHOUT a sandbox. Not enforced:\n  - " + "\n  - ".join(missing),
              file=sys.stderr)
    runs = (_graded_on_dask(files, options, scheduler) if scheduler
            else _graded_locally(files, options, workers))
    grades = _collect(runs, len(files), out / "executed", progress)
    where = "WITHOUT a sandbox" if missing else "in a bubblewrap sandbox"
    size = " with the grading parameters" if grading_size else ""
    how = (f"Each notebook was cleared of its outputs and executed on the offline profile{size},"
           f" with a limit of {timeout:g} s and {memory_mb:g} MB, {where}; its answers were then "
           f"checked in a separate process.")
    write_reports(grades, out, how, missing)
    return grades


def _collect(runs, total: int, executed_dir: Path, progress: bool) -> list[SubmissionGrade]:
    """Keep each executed notebook, show progress, and return the grades in file order."""
    from tqdm.auto import tqdm

    grades, failures = [], 0
    with tqdm(total=total, unit="submission", disable=not progress, file=sys.stderr) as bar:
        for grade, executed in runs:
            grades.append(grade)
            if executed is not None:
                write_bytes_atomically(executed_dir / grade.submission, executed)
            failures += grade.status != "ok"
            bar.set_postfix_str(f"not ok: {failures}")
            bar.update()
    return sorted(grades, key=lambda g: g.submission)
