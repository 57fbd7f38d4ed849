"""Grade a folder of submitted notebooks: run each in a sandbox, judge its answers apart, report.

Each entry of the folder gets a row (``names.list_submissions``: links, folders, pipes and
devices are ``skipped``, files over the size limit never read). Each notebook is cleared of its
outputs (a submission's stored outputs are never trusted), given capture cells
(``answers.with_captures``) and executed by ``worker.py`` on the offline profile and the lesson's
grading parameters inside a sandbox without privileges (``sandbox.py``). Its answers come back
as plain data through a pipe, and are judged by ``judge.py`` in a fresh sandboxed process that
runs none of the submission's code (its functions run in the function host, ``host.py``), with
the package's checks and the teacher's hidden ones. One deadline covers a submission's reading,
run and checks. Whatever goes wrong with one file becomes that file's row (``grader-error``),
never the end of the batch. ``--workers N`` grades N files at once; ``--scheduler ADDRESS`` sends
them to a Dask cluster. The reports are written by ``reports.write_reports``.

Example::

    >>> grade_submissions("submissions", "grades", timeout=600, workers=2)  # doctest: +SKIP

or ``python -m course_utils homework grade submissions/ --out grades/ --workers 2``.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ...atomic import write_bytes_atomically
from ...homework.core import _import_checks, lesson_exercises, load_lesson_checks
from ..execute import BATCH_KERNEL_ENV
from ..lessons import lesson_of, small_parameters
from ..transforms import cleaned
from .answers import submission_cells, with_captures
from .markers import exercise_ids
from .names import Entry, list_submissions, read_submission
from .reports import SubmissionGrade, executed_file_name, write_reports
from .sandbox import Limits, bwrap_path, sandbox_environment, sandbox_problems, start, supervise
from .trusted import trusted_names

DEFAULT_TIMEOUT = 600
DEFAULT_MEMORY_MB = 4096
MAX_NOTEBOOK_MB = 20          # a submitted file larger than this is never read
MAX_CELLS = 2000
EXECUTED_NOTICE = ("**Executed by the grader.** The outputs below are the submission's own: a "
                   "`[PASSED]` or `[NOT YET]` printed here is not the grade. The grader's "
                   "verdicts, computed apart from this notebook, are in its feedback file.")

__all__ = ["GradingOptions", "SandboxUnavailable", "SubmissionGrade", "grade_payload",
           "grade_submissions", "submission_lessons"]


class SandboxUnavailable(ValueError):
    """No sandbox without privileges can be had here: grading refuses to run unprotected."""


@dataclass(frozen=True)
class GradingOptions:
    """How each submission is run: limits, sandbox, parameters, hidden check modules."""

    timeout: float = DEFAULT_TIMEOUT
    memory_mb: float = DEFAULT_MEMORY_MB
    sandbox: bool = True            # False: the teacher accepts running submissions unprotected
    grading_size: bool = True       # False: the lessons' full-size parameters
    hidden: tuple[tuple[str, str], ...] = field(default=())  # (file name, source) pairs
    processes: int = 256
    output_mb: float = 16
    max_notebook_mb: float = MAX_NOTEBOOK_MB

    @property
    def limits(self) -> Limits:
        """Return the sandbox limits these options give one submission."""
        tmp = int(min(256, max(16, self.memory_mb / 8)))
        return Limits(memory_mb=self.memory_mb, processes=self.processes, tmp_mb=tmp,
                      shm_mb=int(min(64, tmp)), work_mb=tmp, output_mb=self.output_mb)


@functools.lru_cache(maxsize=2)
def _tool(wanted: bool) -> str | None:
    """Return ``bwrap`` when a sandbox is wanted; raise ``SandboxUnavailable`` when it fails."""
    if not wanted:
        return None
    problems = sandbox_problems()
    if problems:
        raise SandboxUnavailable(
            "Grading refuses to run submissions without a sandbox that drops privileges: "
            + "; ".join(problems) + ". Fix that, or accept the risk explicitly: "
            "grade_submissions(..., sandbox=False) (homework grade --unsafe-no-sandbox).")
    return bwrap_path()


def missing_protections(tool: str | None) -> list[str]:
    """Return what a run without ``tool`` (None: unsafe, no sandbox) does not enforce."""
    if tool:
        return []
    return ["the submission runs as you, with your privileges: it can read and change your "
            "files, your other submissions and the installed checks",
            "the network is blocked for Python sockets only (not for other programs)",
            "processes are counted and killed by session, not by a PID namespace",
            "verdicts are still computed apart, but the checking process is not sandboxed"]


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


UNREACHED = {"timeout": "not reached before the time limit",
             "memory": "not reached: the run went over the memory limit",
             "processes": "not reached: the run started too many processes",
             "output": "not reached: the run passed the output limit",
             "crashed": "not reached: the run stopped early"}


def _score(nb, lesson_ids, verdicts, status) -> tuple[dict, dict, str | None]:
    """Return (scores, feedback, first error) from the saved answers' verdicts."""
    errors, first = _errors(nb)
    unreached = UNREACHED.get(status, "not reached")
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


def _parse_notebook(data: bytes, options: GradingOptions) -> tuple[nbformat.NotebookNode | None,
                                                                   str, str]:
    """Return (notebook, status, note) of submitted bytes; status empty when it can be run."""
    try:
        text = data.decode("utf-8")
        _check_structure(json.loads(text))
        nb = nbformat.reads(text, as_version=4)
        cells = nb.cells
    except Exception as err:
        return None, "invalid notebook", (f"not a valid notebook ({type(err).__name__}): "
                                          "nothing was run")
    if len(cells) > MAX_CELLS:
        return None, "too large", f"{len(cells)} cells, more than {MAX_CELLS}: nothing was run"
    return nb, "", ""


def _check_structure(raw: object) -> None:
    """Raise ``ValueError`` unless ``raw`` (parsed JSON) has the types of a version-4 notebook."""
    if not (isinstance(raw, dict) and isinstance(raw.get("nbformat"), int)
            and isinstance(raw.get("cells"), list)):
        raise ValueError("not a notebook: no list of cells or no nbformat version")
    for cell in raw["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError("a cell is not a code, markdown or raw cell")
        source = cell.get("source")
        if not (isinstance(source, str) or isinstance(source, list)
                and all(isinstance(line, str) for line in source)):
            raise ValueError("a cell's source is not text")


def grade_payload(name: str, data: bytes, options: GradingOptions = GradingOptions(),
                  ) -> tuple[SubmissionGrade, bytes | None]:
    """Grade one submitted file given as bytes; return its grade and its executed notebook.

    Never raises: whatever goes wrong becomes the row's ``grader-error`` status and note.
    """
    began = time.monotonic()
    deadline = began + options.timeout
    try:
        grade, executed = _grade(name, data, options, deadline)
        grade.seconds = round(time.monotonic() - began, 1)
        return grade, executed
    except SandboxUnavailable as err:
        return SubmissionGrade(name, _lesson(name), "grader-error", note=str(err)[:600]), None
    except Exception as err:
        return SubmissionGrade(name, _lesson(name), "grader-error",
                               note=f"the grader failed on this file ({type(err).__name__}: "
                                    f"{str(err)[:200]})"), None


def _lesson(name: str) -> str | None:
    return lesson_of(Path(name.replace("/", "_")))


def _grade(name: str, data: bytes, options: GradingOptions, deadline: float):
    load_lesson_checks(strict=True)
    elsewhere = _load_hidden(options.hidden)
    if not name.endswith(".ipynb"):
        return SubmissionGrade(name, _lesson(name), "not a notebook",
                               note="not a notebook (.ipynb): nothing was run"), None
    if len(data) > options.max_notebook_mb * 1024 * 1024:
        return SubmissionGrade(name, _lesson(name), "too large",
                               note=f"larger than {options.max_notebook_mb:g} MB: nothing was "
                                    "run"), None
    nb, status, note = _parse_notebook(data, options)
    if nb is None:
        return SubmissionGrade(name, _lesson(name), status, note=note), None
    lessons = submission_lessons(Path(name.replace("/", "_")), nb)
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
    captured = {ex.id: [n for n in ex.names if n not in trusted_names(ex.lesson)]
                for ex in exercises}
    staged = with_captures(cleaned(nb, shell_commands=False), captured, Path("answers"))
    limits = options.limits
    reserve = min(30.0, max(5.0, options.timeout / 4))  # the checks' share of the deadline
    run = _run_notebook(nbformat.writes(staged), parameters, limits, tool, deadline - reserve,
                        options.timeout)
    executed = _executed(run.get("executed"))
    verdicts, problem = _judge(sorted(lesson_ids), lessons, run.get("answers", {}), options,
                               tool, deadline)
    status = run["status"]
    scores, feedback, first = _score(executed, lesson_ids, verdicts, status)
    notes = [n for n in (run["detail"], problem, first) if n]
    if status == "finished":
        status = "errors" if first or problem else "ok"
    grade = SubmissionGrade(name, ",".join(lessons), status, scores, sum(lesson_ids.values()),
                            "; ".join(notes), feedback)
    return grade, _executed_bytes(executed)


def _sandbox_env(tool: str | None, home: Path | None) -> dict[str, str]:
    env = sandbox_environment(BATCH_KERNEL_ENV) if tool else \
        sandbox_environment(BATCH_KERNEL_ENV, home=str(home))
    if not tool:  # unsafe: block Python's sockets through sitecustomize, as well as it can
        from .sandbox import network_block

        env["PYTHONPATH"] = f"{network_block(home)}:{env['PYTHONPATH']}"
    return env


def _run_notebook(notebook: str, parameters: dict, limits: Limits, tool: str | None,
                  deadline: float, timeout: float) -> dict:
    """Execute ``notebook`` in the sandbox; return its status, detail, executed text, answers."""
    request = json.dumps({"notebook": notebook, "parameters": parameters,
                          "processes": limits.processes,
                          "output_bytes": int(limits.output_mb * 1024 * 1024),
                          "answers_bytes": int(limits.answers_mb * 1024 * 1024)}).encode()
    cap = int((limits.output_mb * 2 + limits.answers_mb) * 1024 * 1024) + 4 * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="grading-unsafe-") as home:
        started = start([sys.executable, "-m", "course_utils.tools.grading.worker",
                         "{result_fd}"], limits, request, tool,
                        _sandbox_env(tool, Path(home)), result_cap=cap, workdir=Path(home))
        ended = supervise([started], limits, deadline, gentle=True)
    result = _result(bytes(started.result))
    stderr = bytes(started.stderr).decode(errors="replace").strip().splitlines()
    if ended.status in ("timeout", "memory", "processes"):
        seconds = f" of {limits.memory_mb:g} MB" if ended.status == "memory" else ""
        detail = {"timeout": f"stopped at the time limit of {timeout:g} s (one deadline for "
                             "its run and its checks)",
                  "memory": f"stopped above the memory limit{seconds} (processes and the files "
                            "they wrote in memory together)",
                  "processes": f"stopped: more than {limits.processes} processes and threads"
                  }[ended.status]
        return {**result, "status": ended.status, "detail": detail}
    if result.get("output_over") is True:
        return {**result, "status": "output",
                "detail": f"stopped: its outputs passed {limits.output_mb:g} MB (the first "
                          "part is kept)"}
    if started.result_overflow:
        return {"status": "output", "detail": "what the run handed back passed its size limit"}
    if ended.full:
        return {**result, "status": "disk",
                "detail": "a folder it writes to filled up: " + ", ".join(ended.full)}
    if result.get("status") in ("ok", "failed"):
        return {**result, "status": "finished", "detail": ""}
    reason = result.get("error") if isinstance(result.get("error"), str) else \
        (stderr[-1] if stderr else f"the run ended with status {ended.status}")
    return {**result, "status": "crashed", "detail": str(reason)[:300]}


def _result(data: bytes) -> dict:
    """Return the worker's result, type-checked: anything malformed counts as nothing."""
    try:
        result = json.loads(data)
    except ValueError:
        return {}
    if not isinstance(result, dict):
        return {}
    answers = result.get("answers")
    result["answers"] = {k: v for k, v in answers.items() if isinstance(k, str)
                         and isinstance(v, str)} if isinstance(answers, dict) else {}
    if not isinstance(result.get("executed"), str):
        result["executed"] = None
    return result


def _executed(text: str | None) -> nbformat.NotebookNode | None:
    """Return the executed notebook the run handed back, if it is one."""
    if not text:
        return None
    nb, status, _ = _parse_notebook(text.encode(), GradingOptions())
    return nb


def _executed_bytes(nb: nbformat.NotebookNode | None) -> bytes | None:
    """Return the executed notebook for the teacher: the submission's cells under a notice."""
    if nb is None:
        return None
    nb.cells = [nbformat.v4.new_markdown_cell(EXECUTED_NOTICE)] + submission_cells(nb)
    return nbformat.writes(nb).encode()


def _judge(ids: list[str], lessons: list[str], answers: dict[str, str],
           options: GradingOptions, tool: str | None, deadline: float) -> tuple[dict, str]:
    """Judge the captured ``answers`` in a fresh sandboxed process; return (verdicts, problem).

    A function among the answers runs in the function host, a sandbox of its own.
    """
    import os

    request = json.dumps({"ids": ids, "lessons": lessons, "answers": answers,
                          "hidden": [list(pair) for pair in options.hidden]}).encode()
    limits = options.limits
    needs_host = any('"$": "function"' in text for text in answers.values())
    with tempfile.TemporaryDirectory(prefix="grading-unsafe-") as home:
        env = _sandbox_env(tool, Path(home))
        runs, pipes = [], []
        command = [sys.executable, "-m", "course_utils.tools.grading.judge", "{result_fd}"]
        if needs_host:
            calls, replies = os.pipe(), os.pipe()
            pipes = [*calls, *replies]
            runs.append(start([sys.executable, "-m", "course_utils.tools.grading.host",
                               str(calls[0]), str(replies[1])], limits, b"", tool, env,
                              pass_fds=(calls[0], replies[1]), workdir=Path(home)))
            command += [str(calls[1]), str(replies[0])]
        judge = start(command, limits, request, tool, env, result_cap=16 * 1024 * 1024,
                      pass_fds=(calls[1], replies[0]) if needs_host else (),
                      workdir=Path(home))
        for fd in pipes:
            os.close(fd)
        ended = supervise([judge, *runs], limits, deadline)
    verdicts = _verdicts(bytes(judge.result), ids)
    if verdicts is not None:
        return verdicts, ""
    if ended.status == "timeout":
        return {}, "the checks could not finish before the time limit"
    detail = (bytes(judge.stderr).decode(errors="replace").strip().splitlines()
              or [ended.status])[-1][:300]
    return {}, f"the checks could not run ({ended.status}: {detail})"


def _verdicts(data: bytes, ids: list[str]) -> dict | None:
    """Return the judge's verdicts, type-checked; None when there are none."""
    try:
        verdicts = json.loads(data)
    except ValueError:
        return None
    if not isinstance(verdicts, dict):
        return None
    return {i: v for i, v in verdicts.items() if i in ids and isinstance(v, dict)
            and isinstance(v.get("passed"), bool) and isinstance(v.get("reached"), bool)
            and isinstance(v.get("message"), str)}


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


def _skipped(entry: Entry) -> SubmissionGrade:
    note = "; ".join(filter(None, [entry.skipped and f"{entry.skipped}: not graded",
                                   entry.renamed]))
    return SubmissionGrade(entry.name, _lesson(entry.name), "skipped", note=note)


def _grade_entry(entry: Entry, options: GradingOptions) -> tuple[SubmissionGrade, bytes | None]:
    """Read one entry (sized first, in the worker thread) and grade it; never raise."""
    limit = int(options.max_notebook_mb * 1024 * 1024)
    try:
        if entry.name.endswith(".ipynb") and entry.size > limit:
            return SubmissionGrade(entry.name, _lesson(entry.name), "too large",
                                   note=f"larger than {options.max_notebook_mb:g} MB: never "
                                        "read, nothing was run"), None
        data = read_submission(entry, limit) if entry.name.endswith(".ipynb") else b""
        if data is None:
            return SubmissionGrade(entry.name, _lesson(entry.name), "skipped",
                                   note="changed into something that is not a plain file of "
                                        "the allowed size while grading: not graded"), None
        grade, executed = grade_payload(entry.name, data, options)
    except Exception as err:
        return SubmissionGrade(entry.name, _lesson(entry.name), "grader-error",
                               note=f"the grader failed on this file ({type(err).__name__})"
                               ), None
    if entry.renamed:
        grade.note = "; ".join(filter(None, [grade.note, entry.renamed]))
    return grade, executed


def _graded_locally(entries: list[Entry], options: GradingOptions, workers: int):
    """Yield (grade, executed bytes) per entry as it finishes, ``workers`` at a time."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=workers) as pool:  # the work runs in subprocesses
        futures = [pool.submit(_grade_entry, entry, options) for entry in entries]
        for future in as_completed(futures):
            yield future.result()


def _graded_on_dask(entries: list[Entry], options: GradingOptions, scheduler: str):
    """Yield (grade, executed bytes) per entry as a Dask cluster at ``scheduler`` finishes it.

    The files travel as bytes, read one at a time as the cluster takes them (at most twice as
    many in flight as the cluster has threads), so the grader never holds the whole class.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as err:
        raise ValueError("--scheduler needs Dask: pip install -e .[grade] (dask, distributed)"
                         ) from err
    limit = int(options.max_notebook_mb * 1024 * 1024)
    with Client(scheduler) as client:
        window = max(2, 2 * sum(client.nthreads().values()))
        pending, queue = as_completed(), list(entries)

        def submit_next() -> None:
            entry = queue.pop(0)
            if entry.name.endswith(".ipynb") and entry.size > limit:
                pending.add(client.submit(_grade_entry, entry, options, pure=False))
                return
            data = read_submission(entry, limit) if entry.name.endswith(".ipynb") else b""
            if data is None:
                pending.add(client.submit(_grade_entry, entry, options, pure=False))
            else:
                pending.add(client.submit(grade_payload, entry.name, data, options, pure=False))

        while queue and pending.count() < window:
            submit_next()
        for future in pending:
            yield future.result()
            future.release()
            if queue:
                submit_next()


def _check_out(submissions: Path, out: Path) -> None:
    """Refuse an ``out`` folder whose reports would land among the submissions (or vice versa)."""
    sub, dest = submissions.resolve(), out.resolve()
    if dest == sub or dest.is_relative_to(sub) or any(
            sub.is_relative_to(dest / name) for name in ("executed", "feedback")):
        raise ValueError(f"--out {out}: the reports would mix with the submissions in "
                         f"{submissions}. Pass --out a folder outside it, e.g. "
                         f"{submissions.parent / (submissions.name + '-grades')}.")


def grade_submissions(submissions: str | Path, out: str | Path | None = None,
                      timeout: float = DEFAULT_TIMEOUT, progress: bool = False,
                      memory_mb: float = DEFAULT_MEMORY_MB, workers: int = 1,
                      scheduler: str | None = None, hidden: list[str | Path] = (),
                      sandbox: bool = True, grading_size: bool = True) -> list[SubmissionGrade]:
    """Grade every entry of ``submissions``; write the reports and executed/ to ``out``.

    ``sandbox=False`` runs the submissions unprotected (the teacher accepts the risk; every
    report says so); otherwise grading refuses to start where no sandbox without privileges
    can be had (``SandboxUnavailable``, naming the fix).
    """
    load_lesson_checks(strict=True)  # grading with a broken check module would score zeros
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder: pass the folder holding the submissions.")
    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more submissions to grade at once.")
    out = Path(out) if out else submissions
    _check_out(submissions, out)
    options = GradingOptions(timeout, memory_mb, sandbox, grading_size, hidden_modules(hidden))
    entries = list_submissions(submissions, int(options.max_notebook_mb * 1024 * 1024))
    if not entries:
        raise ValueError(f"{submissions} holds no submission files.")
    _load_hidden(options.hidden)
    tool = _tool(sandbox) if scheduler is None else ("the workers' own" if sandbox else None)
    missing = missing_protections(tool)
    if missing and progress:
        print("WARNING: grading WITHOUT a sandbox. Not enforced:\n  - " + "\n  - ".join(missing),
              file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    to_grade = [e for e in entries if not e.skipped]
    runs = (_graded_on_dask(to_grade, options, scheduler) if scheduler
            else _graded_locally(to_grade, options, workers))
    grades = _collect(runs, len(to_grade), out / "executed", progress)
    grades = sorted(grades + [_skipped(e) for e in entries if e.skipped],
                    key=lambda g: g.submission)
    where = "WITHOUT a sandbox" if missing else "in a bubblewrap sandbox without privileges"
    size = " with the grading parameters" if grading_size else ""
    how = (f"Each notebook was cleared of its outputs and executed on the offline profile{size},"
           f" with one deadline of {timeout:g} s for its run and checks and a memory limit of "
           f"{memory_mb:g} MB, {where}; its answers were then checked, as plain data, in a "
           f"separate process.")
    write_reports(grades, out, how, missing)
    return grades


def _collect(runs, total: int, executed_dir: Path, progress: bool) -> list[SubmissionGrade]:
    """Keep each executed notebook, show progress, and return the grades."""
    from tqdm.auto import tqdm

    grades, failures = [], 0
    with tqdm(total=total, unit="submission", disable=not progress, file=sys.stderr) as bar:
        for grade, executed in runs:
            grades.append(grade)
            if executed is not None:
                write_bytes_atomically(executed_dir / executed_file_name(grade.submission),
                                       executed)
            failures += grade.status != "ok"
            bar.set_postfix_str(f"not ok: {failures}")
            bar.update()
    return grades
