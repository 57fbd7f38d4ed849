"""The grading sandbox: time and memory limits, no writes outside, no network, loud fallback."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest
from test_homework_grade import MASTER, answered, insert_after_check, lesson99  # noqa: F401

from course_utils.tools.grading.build import student_notebook
from course_utils.tools.grading.grade import grade_submissions, missing_protections
from course_utils.tools.grading.sandbox import sandbox_problems
from course_utils.tools.lessons import LESSONS, NotebookError, select_notebooks, small_parameters

# the fixture lesson, here and in the kernels
pytestmark = [pytest.mark.grader, pytest.mark.usefixtures("lesson99")]
SOLVED = {"99.1": "squares = [0, 1, 4, 9, 16]", "99.2": "return 2 * x", "99.3": "word_count = 4"}


@pytest.fixture(scope="module")
def bwrap():
    """Require the sandbox: a missing one fails with what to install or allow."""
    problems = sandbox_problems()
    assert not problems, "; ".join(problems)
    return "bwrap"


def submit(folder: Path, name: str, extra: str | None = None, after: str = "99.1") -> None:
    """Write a solved submission, with the cell ``extra`` after the check of ``after``."""
    nb = answered(student_notebook(MASTER), SOLVED)
    nbformat.write(insert_after_check(nb, after, extra) if extra else nb, folder / name)


def folder_of(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


def test_an_infinite_loop_times_out_and_the_others_still_grade(bwrap, tmp_path):
    folder = folder_of(tmp_path)
    submit(folder, "99_loop.ipynb", "while True:\n    pass")
    submit(folder, "99_fine.ipynb")
    start = time.perf_counter()
    grades = {g.submission: g for g in grade_submissions(folder, tmp_path / "out", timeout=90,
                                                          workers=2)}
    assert time.perf_counter() - start < 90 + 30  # one deadline: run and checks together
    loop = grades["99_loop.ipynb"]
    assert (loop.status, loop.scores) == ("timeout", {"99.1": 1, "99.2": 0, "99.3": 0})
    assert "time limit of 90 s" in loop.note
    assert loop.feedback["99.2"] == "not reached before the time limit"
    assert (grades["99_fine.ipynb"].status, grades["99_fine.ipynb"].total) == ("ok", 4)


def test_a_memory_bomb_is_stopped_as_memory(bwrap, tmp_path):
    folder = folder_of(tmp_path)
    bomb = "blocks = []\nwhile True:\n    blocks.append(b'x' * 50_000_000)"
    submit(folder, "99_bomb.ipynb", bomb)
    (grade,) = grade_submissions(folder, tmp_path / "out", timeout=120, memory_mb=900)
    assert (grade.status, grade.scores) == ("memory", {"99.1": 1, "99.2": 0, "99.3": 0})
    assert "memory limit of 900 MB" in grade.note
    assert "memory" in (tmp_path / "out" / "grades.md").read_text()


def test_files_outside_the_submission_folder_cannot_be_changed(bwrap, tmp_path):
    folder = folder_of(tmp_path)
    victim, planted = tmp_path / "victim.txt", tmp_path / "planted.txt"
    victim.write_text("the teacher's file")
    home_file = Path.home() / ".course-grading-probe"
    submit(folder, "99_vandal.ipynb",
           f"import os, pathlib\nos.remove({str(victim)!r})")
    submit(folder, "99_writer.ipynb",
           f"open({str(planted)!r}, 'w').write('x')\n"
           f"assert pathlib.Path.home() != pathlib.Path({str(Path.home())!r})", after="99.2")
    grades = {g.submission: g for g in grade_submissions(folder, tmp_path / "out", timeout=120)}
    assert victim.read_text() == "the teacher's file" and not planted.exists()
    assert not home_file.exists()
    for name in ("99_vandal.ipynb", "99_writer.ipynb"):
        assert grades[name].status == "errors" and grades[name].total == 4
        assert "Error" in grades[name].note
    report = (tmp_path / "out" / "grades.md").read_text()
    assert "99\\_vandal.ipynb**: cell" in report and "FileNotFoundError" in report


def test_the_network_is_unreachable(bwrap, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port, accepted, stop = server.getsockname()[1], [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    probe = socket.create_connection(("127.0.0.1", port), timeout=5)  # the server does answer
    probe.close()
    time.sleep(1)
    assert len(accepted) == 1
    folder = folder_of(tmp_path)
    submit(folder, "99_caller.ipynb",
           f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)")
    try:
        (grade,) = grade_submissions(folder, tmp_path / "out", timeout=120)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert len(accepted) == 1, "the submission reached the server"
    assert grade.status == "errors" and "ConnectionRefusedError" in grade.note


def test_without_a_sandbox_grading_runs_and_says_what_is_missing(tmp_path, capsys):
    folder = folder_of(tmp_path)
    submit(folder, "99_caller.ipynb",
           "import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=5)")
    (grade,) = grade_submissions(folder, tmp_path / "out", timeout=120, sandbox=False,
                                 progress=True)
    assert grade.total == 4 and "The network is blocked while grading" in grade.note
    assert "WARNING: grading WITHOUT a sandbox" in capsys.readouterr().err
    report = (tmp_path / "out" / "grades.md").read_text()
    assert "WITHOUT a sandbox" in report and "with your privileges" in report
    feedback = (tmp_path / "out" / "feedback" / "99_caller.ipynb.md").read_text()
    assert feedback.startswith("**WARNING: the submissions ran WITHOUT a sandbox.**")
    assert missing_protections("/usr/bin/bwrap") == []


def test_each_lessons_grading_parameters_are_declared_by_the_lesson():
    assert sorted(LESSONS) == [p.name[:2] for p in select_notebooks(None)]
    for lesson in LESSONS:
        assert small_parameters(lesson)  # raises if the notebook lost one of the names


def test_a_renamed_parameter_fails_loudly(monkeypatch):
    monkeypatch.setitem(LESSONS["01"].small, "max_exemples", 10)
    with pytest.raises(NotebookError, match="max_exemples.*no longer declares"):
        small_parameters("01")


def test_supervise_stops_a_command_at_each_limit(bwrap, tmp_path):
    import sys

    from course_utils.tools.grading.sandbox import WORK, Limits, bwrap_path, start, supervise

    limits = Limits(memory_mb=400)
    out = "import os, sys; os.write(int(sys.argv[1]), os.environ['HOME'].encode())"
    ok = start([sys.executable, "-c", out, "{result_fd}"], limits, b"", bwrap_path(), result_cap=99)
    assert supervise([ok], limits, time.monotonic() + 60).status == "ok"
    assert bytes(ok.result).decode() == WORK
    slow = start([sys.executable, "-c", "while True: pass"], limits, b"", bwrap_path())
    ended = supervise([slow], limits, time.monotonic() + 2)
    assert ended.status == "timeout" and 2 <= ended.seconds < 10
    hog = start([sys.executable, "-c", "x = []\nwhile True: x.append(b'x' * 10**7)"], limits,
                b"", bwrap_path())
    ended = supervise([hog], limits, time.monotonic() + 60)
    assert ended.status == "memory" and ended.peak_mb > 400


def test_report_helpers():
    from course_utils.tools.grading.reports import id_order, student_id

    assert student_id("03_alice.ipynb") == "alice" and student_id("bob.ipynb") == "bob"
    assert student_id("03_.ipynb") == "03_"
    assert sorted(["03.10", "03.h1", "03.2"], key=id_order) == ["03.2", "03.10", "03.h1"]


def test_a_course_under_tmp_stays_readable_in_the_sandbox(monkeypatch, tmp_path):
    """A clone and its .venv under /tmp (as CI may place them) are bound, read-only."""
    from course_utils.tools.grading import sandbox

    venv = tmp_path / "clone" / ".venv"
    (venv / "lib").mkdir(parents=True)
    monkeypatch.setattr(sandbox.sys, "prefix", str(venv))
    command = sandbox.bwrap_arguments("bwrap", sandbox.Limits(), {}, tmp_path, 3, 4)
    bound = command.index(str(venv.resolve()))
    assert command[bound - 1] == "--ro-bind" and command[bound + 1] == str(venv.resolve())
    assert command.index("/tmp") < bound  # a fresh tmpfs, with the clone bound on top
    assert str(tmp_path) not in command[:bound - 1]  # nothing else of tmp is shown


def test_grading_refuses_to_run_without_a_sandbox_that_drops_privileges(monkeypatch, tmp_path):
    from course_utils.tools.grading import grade

    folder = folder_of(tmp_path)
    submit(folder, "99_any.ipynb")
    monkeypatch.setattr(grade, "sandbox_problems", lambda: ("the sandbox keeps capabilities",))
    grade._tool.cache_clear()
    try:
        with pytest.raises(grade.SandboxUnavailable, match="keeps capabilities.*unsafe"):
            grade_submissions(folder, tmp_path / "out")
    finally:
        grade._tool.cache_clear()
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_reports_may_not_land_among_the_submissions(tmp_path):
    folder = folder_of(tmp_path)
    submit(folder, "99_any.ipynb")
    for out in (folder, folder / "grades"):
        with pytest.raises(ValueError, match="outside"):
            grade_submissions(folder, out)
