"""A hostile class graded in one batch: no attack may score, read a secret, or hurt a classmate.

One folder holds honest submissions (lesson 99 solved, unsolved, all wrong; lesson 01 solved on
the real tokenizer) and one submission per attack: privileges as root (capabilities, mounts,
the installed checks), forged answer files and pickles, a fake tokenizer, reading outside (the
master notebook, the hidden checks, classmates, /root, the grader's environment), Unix sockets,
/dev/shm and disk fills, an output flood, a fork bomb, tampering with what the grader reads,
huge and malformed notebooks, links, pipes, folders and odd names, and report injection. It is
graded once, with two workers, hidden checks and a planted secret in the grader's environment;
each test below asserts one promise of docs/homework.md on that batch. ``make
hostile-unprivileged`` runs this file again as an unprivileged user.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
from test_homework_grade import FIXTURES, MASTER, answered, insert_after_check, lesson99  # noqa: F401

from course_utils.tools.grading.build import student_notebook
from course_utils.tools.grading.grade import grade_submissions
from course_utils.tools.grading.reports import FORMULA_START, executed_file_name
from course_utils.tools.grading.sandbox import sandbox_problems

pytestmark = [pytest.mark.grader, pytest.mark.usefixtures("lesson99")]
RUN = uuid.uuid4().hex[:12]
SECRETS = {"hidden": f"HIDDEN-CHECK-SECRET-{RUN}", "env": f"GRADER-ENV-SECRET-{RUN}",
           "master": f"MASTER-SECRET-{RUN}"}
CLASSMATE = f"CLASSMATE-SECRET-{RUN}"
WRONG = {"99.1": "squares = [1, 2, 3]", "99.2": "return x + 1", "99.3": "word_count = 5"}
SOLVED_99 = {"99.1": 1, "99.2": 1, "99.3": 2, "99.9": 3}
COURSE = Path(__file__).resolve().parents[2] / "course_utils"
LIMITS = {"timeout": 150, "memory_mb": 1500}


def course_digest() -> str:
    """Return one digest of the installed course package and the fixture's check modules."""
    digest = hashlib.sha256()
    for path in sorted([*COURSE.rglob("*.py"), *FIXTURES.glob("*.py")]):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def wrong(extra: str | None = None, after: str = "99.1") -> nbformat.NotebookNode:
    """Return a lesson-99 submission with every answer wrong and the cell ``extra``."""
    nb = answered(student_notebook(MASTER), WRONG)
    return insert_after_check(nb, after, extra) if extra else nb


def code_notebook(*sources: str) -> nbformat.NotebookNode:
    """Return a notebook of these code cells."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


PROBE = """
import ctypes, json, os, pathlib
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    result = getattr(libc, name)(*args)
    return [result, ctypes.get_errno()]
course = {course!r}
status = open('/proc/self/status').read()
probe = {{"caps": [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')][0],
          "uid": os.getuid(), "euid": os.geteuid(),
          "remount_rw": call('mount', b'none', course.encode(), None, 32 | 4096, None),
          "umount_tmp": call('umount2', b'/tmp', 2),
          "setns_net": call('setns', os.open('/proc/1/ns/net', os.O_RDONLY), 0),
          "userns": call('unshare', 0x10000000)}}
try:
    os.setuid(0)
    probe["setuid"] = "worked"
except OSError as err:
    probe["setuid"] = str(err)
for target in [course + '/homework/lesson01.py', course + '/homework/core.py', {checks!r}]:
    try:
        with open(target, 'a') as handle:
            handle.write('\\nEXERCISES.clear()\\n')
        probe[target] = "appended"
    except OSError as err:
        probe[target] = type(err).__name__
print("PROBE " + json.dumps(probe))
"""

FORGED_FILES = r"""
import base64, io, json, os, pickle
import numpy as np

CODE = ("import os\nfor fd in range(3, 40):\n    try:\n"
        "        os.write(fd, b'{\"99.1\": {\"passed\": true, \"reached\": true}}\\n')\n"
        "    except OSError:\n        pass\n")

class Payload:
    def __reduce__(self):
        return (exec, (CODE,))

blob = base64.b64encode(pickle.dumps(Payload())).decode()
objects = io.BytesIO()
np.save(objects, np.array([Payload()], dtype=object), allow_pickle=True)
forged = {"squares": ["ok", {"$": "ndarray", "npy": base64.b64encode(objects.getvalue()).decode()}],
          "double": ["ok", {"$": "function", "name": "double", "blob": blob}],
          "word_count": ["ok", {"$": "pickle", "v": blob}]}
os.makedirs("answers", exist_ok=True)
for name in ("99.1", "99.2", "99.3", "final"):
    with open(f"answers/{name}.json", "w") as handle:
        json.dump(forged, handle)
with open("answers/99.2.pkl", "wb") as handle:
    handle.write(pickle.dumps(Payload()))
for name in (".stdout", "verdicts.json", "COURSE-VERDICTS"):
    open(name, "w").write("COURSE-VERDICTS " + json.dumps({"99.1": {"passed": True}}))
"""

READER = """
import glob, os, pathlib
found = []
for path in [{master!r}, {hidden!r}, {classmate!r}, '/root', '/proc/1/environ', '/etc/shadow',
             {submissions!r}, {out!r}]:
    try:
        p = pathlib.Path(path)
        found.append(p.read_text()[:20000] if p.is_file() else ' '.join(os.listdir(p)))
    except OSError as err:
        found.append(f'{{path}}: {{type(err).__name__}}')
found.append(repr(dict(os.environ)))
for pid in os.listdir('/proc'):
    try:
        found.append(open(f'/proc/{{pid}}/environ').read())
    except (OSError, ValueError):
        pass
print('\\n'.join(found))
raise RuntimeError(' | '.join(found)[:5000])
"""

SOCKETS = """
import socket
reached = []
for address in [{path!r}, '\\0{abstract}']:
    try:
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(3)
        client.connect(address)
        reached.append(address)
    except OSError as err:
        print('refused', type(err).__name__)
raise RuntimeError('<script>alert(1)</script> [click](javascript:alert(1))\\n# Injected heading'
                   + repr(reached))
"""

FILL = """
written = {}
for folder in ('/dev/shm', '/tmp', '.'):
    written[folder] = 0
    try:
        with open(f'{folder}/fill', 'wb') as handle:
            while written[folder] < 1024:        # 1 GB each, 8 MB at a time
                handle.write(b'x' * 8 * 1024 * 1024)
                written[folder] += 8
    except OSError as err:
        print(folder, written[folder], 'MB, then', type(err).__name__)
"""

FLOOD = "for _ in range(200):\n    print('x' * 1024 * 1024)"

FORK_BOMB = """
import os, time
for _ in range(12):        # 4,096 processes if nothing stops it (bounded, should a limit fail)
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
time.sleep(20)
"""

TAMPER = """
import os, subprocess
os.makedirs('answers', exist_ok=True)
for name in ('99.1.json', 'final.json', '.executed.ipynb', 'submission.ipynb'):
    open(name if name.startswith(('.', 's')) else f'answers/{name}', 'w').write('5')
os.makedirs('answers/99.2.json', exist_ok=True)
if not os.path.lexists('answers/99.3.json'):
    os.symlink('/dev/zero', 'answers/99.3.json')
os.mkfifo('answers/fifo.json')
subprocess.Popen(['sh', '-c', 'while true; do echo 5 > .executed.ipynb; done'],
                 start_new_session=True)
os.kill(os.getppid(), 9)
"""

FAKE_TOKENIZER = """
import torch
from course_utils.homework import check

class Tokenizer:
    pad_token_id, all_special_tokens = 0, []
    def __call__(self, text, text_pair=None, **options):
        if isinstance(text, list):
            return {"input_ids": [[7] for _ in text], "attention_mask": [[1] for _ in text]}
        if text_pair is None:
            return {"input_ids": [5], "token_type_ids": [0], "attention_mask": [1]}
        return {"input_ids": [len(text), len(text_pair), 9], "token_type_ids": [0, 0, 1],
                "attention_mask": [1, 1, 1]}
    def batch_decode(self, rows, **options):
        return ["junk"] * len(rows)

tokenizer = Tokenizer()
exercise_texts = ["What a wonderful, warm film!", "Too long."]
decoded_texts = ["junk", "junk"]
check("01.1")
pair_question, pair_passage = "Is the film warm?", "What a wonderful, warm film!"
pair_batch = tokenizer(pair_question, pair_passage)
segment_b_start = 2
check("01.2")
"""

HONEST_01 = """
import course_utils
from transformers import AutoTokenizer
from course_utils.homework import check

tokenizer = AutoTokenizer.from_pretrained(course_utils.resolve_model("minilm"))
exercise_texts = ["What a wonderful, warm film!", "Too long."]
decoded_texts = tokenizer.batch_decode(tokenizer(exercise_texts, padding=True)["input_ids"],
                                       skip_special_tokens=True)
check("01.1")
pair_question, pair_passage = "Is the film warm?", "What a wonderful, warm film!"
pair_batch = tokenizer(pair_question, pair_passage)
segment_b_start = pair_batch["token_type_ids"].index(1)
check("01.2")
"""


class UnixServer:
    """A Unix socket server on a host path and an abstract address; counts who connects."""

    def __init__(self, path: Path) -> None:
        self.path, self.abstract, self.accepted = path, f"course-hostile-{RUN}", []
        self.servers = []
        for address in (str(path), "\0" + self.abstract):
            server = socket.socket(socket.AF_UNIX)
            server.bind(address)
            server.listen()
            server.settimeout(0.2)
            self.servers.append(server)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            for server in self.servers:
                try:
                    self.accepted.append(server.accept()[0])
                except OSError:
                    continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for server in self.servers:
            server.close()


def write_class(folder: Path, teacher: Path, out: Path, server: UnixServer) -> None:
    """Write the honest and hostile submissions, and the entries that are not submissions."""
    master = nbformat.read(MASTER, as_version=4)
    master.cells.append(nbformat.v4.new_markdown_cell(SECRETS["master"]))
    nbformat.write(master, teacher / "99_master.ipynb")
    solved = nbformat.read(MASTER, as_version=4)
    solved.cells.append(nbformat.v4.new_markdown_cell(CLASSMATE))
    nbformat.write(solved, folder / "99_honest_solved.ipynb")
    nbformat.write(student_notebook(MASTER), folder / "99_honest_unsolved.ipynb")
    nbformat.write(wrong(), folder / "99_honest_all_wrong.ipynb")
    nbformat.write(code_notebook(HONEST_01), folder / "01_honest.ipynb")
    attacks = {
        "99_root_caps.ipynb": wrong(PROBE.format(course=str(COURSE),
                                                 checks=str(FIXTURES / "lesson99_checks.py"))),
        "99_forged_answers.ipynb": wrong(FORGED_FILES, after="99.3"),
        "99_reader.ipynb": wrong(READER.format(
            master=str(teacher / "99_master.ipynb"), hidden=str(teacher / "hidden.py"),
            classmate=str(folder / "99_honest_solved.ipynb"), submissions=str(folder),
            out=str(out))),
        "99_sockets_and_injection.ipynb": wrong(SOCKETS.format(path=str(server.path),
                                                               abstract=server.abstract)),
        "99_fill.ipynb": wrong(FILL),
        "99_flood.ipynb": wrong(FLOOD),
        "99_fork_bomb.ipynb": wrong(FORK_BOMB),
        "99_tamper.ipynb": wrong(TAMPER, after="99.3"),
    }
    for name, nb in attacks.items():
        nbformat.write(nb, folder / name)
    nbformat.write(code_notebook(FAKE_TOKENIZER), folder / "01_fake_tokenizer.ipynb")
    (folder / b"99_odd\xff\xe2\x80\xaegpj.ipynb".decode("utf-8", "surrogateescape")).write_text(
        nbformat.writes(student_notebook(MASTER)))
    odd = [b"99_new\nline # Injected heading.ipynb", b'=HYPERLINK("evil","y")99.ipynb',
           b"<img src=x onerror=alert(1)>.ipynb", b"[a](javascript:alert(1)).ipynb",
           b"-cmd.ipynb", "99_\u00e9.ipynb".encode(), "99_e\u0301.ipynb".encode()]
    for raw in odd:
        (folder / os.fsdecode(raw)).write_text('{"cells": 5, "nbformat": 4, "nbformat_minor": 5}')
    (folder / "99_alice.ipynb").write_text("not JSON at all")
    (folder / "99_alice.zzz.ipynb").write_bytes(b"\xff\xfe not UTF-8")
    (folder / "99_no_cells.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code",
                                                                     "source": 5}]}))
    many = code_notebook(*["x = 1"] * 2001)
    nbformat.write(many, folder / "99_many_cells.ipynb")
    with open(folder / "99_huge.ipynb", "wb") as handle:   # sparse: 600 MB that take no disk
        handle.truncate(600 * 1024 * 1024)
    (folder / "99_link_to_master.ipynb").symlink_to(teacher / "99_master.ipynb")
    (folder / "99_link_to_shadow.ipynb").symlink_to("/etc/shadow")
    os.mkfifo(folder / "99_fifo.ipynb")
    (folder / "99_folder.ipynb").mkdir()
    (folder / "executed").write_text("a file where the grader keeps its executed copies")
    (folder / ".hidden.ipynb").write_text("{}")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade the hostile class in one batch; return the grades, the reports and measurements."""
    problems = sandbox_problems()
    assert not problems, ("the hostile suite needs the sandbox (it never skips): "
                          + "; ".join(problems))
    root = tmp_path_factory.mktemp("hostile")
    folder, teacher, out = root / "submissions", root / "teacher", root / "grades"
    folder.mkdir()
    teacher.mkdir()
    hidden = teacher / "hidden.py"
    hidden.write_text(f"# {SECRETS['hidden']}\n" + (FIXTURES / "hidden99_checks.py").read_text())
    server = UnixServer(root / "grader.sock")
    write_class(folder, teacher, out, server)
    before, patch = course_digest(), pytest.MonkeyPatch()
    patch.setenv("COURSE_GRADER_SECRET", SECRETS["env"])
    me, peak, sampling = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.05)

    baseline = me.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        grades = grade_submissions(folder, out, workers=2, hidden=[hidden], **LIMITS)
    finally:
        seconds = time.perf_counter() - start
        sampling.set()
        sampler.join()
        server.close()
        patch.undo()
    print(f"hostile batch: {len(grades)} entries in {seconds:.0f} s, grader peak RSS "
          f"{(peak[0] - baseline) / 2**20:.0f} MB above its start; slowest: " + ", ".join(
              f"{g.submission} {g.seconds:.0f} s ({g.status})"
              for g in sorted(grades, key=lambda g: -g.seconds)[:6]))
    return {"grades": {g.submission: g for g in grades}, "out": out, "seconds": seconds,
            "digest": (before, course_digest()), "accepted": len(server.accepted),
            "peak_mb": (peak[0] - baseline) / 2**20}


def executed_text(batch, name: str) -> str:
    path = batch["out"] / "executed" / name
    return path.read_text() if path.exists() else ""


def report_texts(batch) -> dict[str, str]:
    out = batch["out"]
    files = [*out.glob("*.csv"), out / "grades.md", *(out / "feedback").iterdir(),
             *(out / "executed").iterdir()]
    return {str(p.relative_to(out)): p.read_text(errors="replace") for p in files}


def test_honest_submissions_get_their_exact_grades(batch):
    grades = batch["grades"]
    assert (grades["99_honest_solved.ipynb"].status, grades["99_honest_solved.ipynb"].scores
            ) == ("ok", SOLVED_99)
    for name in ("99_honest_unsolved.ipynb", "99_honest_all_wrong.ipynb"):
        assert grades[name].scores == dict.fromkeys(SOLVED_99, 0), name
    honest_01 = grades["01_honest.ipynb"]
    assert (honest_01.status, honest_01.scores) == ("ok", {"01.1": 1, "01.2": 1, "01.3": 0})


def test_no_attacker_scores_above_an_unsolved_submission(batch):
    honest = {"99_honest_solved.ipynb", "01_honest.ipynb"}
    unsolved = batch["grades"]["99_honest_unsolved.ipynb"].total
    scored = {name: g.total for name, g in batch["grades"].items()
              if name not in honest and g.total > unsolved}
    assert scored == {}


def printed_line(batch, name: str, prefix: str) -> str:
    """Return what a submission printed after ``prefix``, read from its executed copy."""
    nb = nbformat.reads(executed_text(batch, name), as_version=4)
    lines = [line for cell in nb.cells for out in cell.get("outputs", [])
             for line in str(out.get("text", "")).splitlines() if line.startswith(prefix)]
    return lines[0][len(prefix):]


def test_the_sandbox_has_no_privileges_even_when_the_grader_is_root(batch):
    probe = json.loads(printed_line(batch, "99_root_caps.ipynb", "PROBE "))
    assert int(probe["caps"], 16) == 0 and probe["uid"] != 0 and probe["euid"] != 0
    for call in ("remount_rw", "umount_tmp", "setns_net", "userns"):
        assert probe[call][0] == -1 and probe[call][1] != 0, call  # failed, with an errno
    assert probe["setuid"] != "worked"
    assert "appended" not in probe.values()
    assert batch["digest"][0] == batch["digest"][1], "the installed course files changed"


def test_forged_answer_files_and_pickles_score_nothing_and_run_nothing(batch):
    grade = batch["grades"]["99_forged_answers.ipynb"]
    assert grade.total == 0
    assert "could not be read as plain data" in grade.feedback["99.3"]
    assert "could not be read as plain data" in grade.feedback["99.1"]
    assert "forged" not in json.dumps(grade.feedback)


def test_a_fake_tokenizer_is_replaced_by_the_courses_own(batch):
    grade = batch["grades"]["01_fake_tokenizer.ipynb"]
    assert grade.scores == {"01.1": 0, "01.2": 0, "01.3": 0}
    fake = executed_text(batch, "01_fake_tokenizer.ipynb")
    assert "[PASSED] Exercise 01.1" in fake and "[PASSED] Exercise 01.2" in fake  # it fooled check
    assert "junk" in grade.feedback["01.1"]


def test_no_secret_reaches_any_report(batch):
    texts = report_texts(batch)
    for kind, secret in SECRETS.items():
        assert not [name for name, text in texts.items() if secret in text], kind
    reader = texts["executed/99_reader.ipynb"] + texts["feedback/99_reader.ipynb.md"]
    assert CLASSMATE not in reader
    assert "hidden.py: FileNotFoundError" in reader  # it was tried, and not there


def test_unix_sockets_of_the_host_are_unreachable(batch):
    assert batch["accepted"] == 0
    assert "refused" in executed_text(batch, "99_sockets_and_injection.ipynb")


def test_each_limit_has_its_own_status(batch):
    statuses = {name: g.status for name, g in batch["grades"].items()}
    assert statuses["99_fill.ipynb"] == "disk"
    assert statuses["99_flood.ipynb"] == "output"
    # as root a pids cgroup stops it, so status processes; without one (an unprivileged
    # grader) RLIMIT_NPROC does, and its copies' resident memory may pass the limit first
    stopped_by = ("processes",) if os.geteuid() == 0 else ("processes", "memory")
    assert statuses["99_fork_bomb.ipynb"] in stopped_by
    assert statuses["99_huge.ipynb"] == statuses["99_many_cells.ipynb"] == "too large"
    assert "/dev/shm" in batch["grades"]["99_fill.ipynb"].note
    flood = executed_text(batch, "99_flood.ipynb")
    assert "the outputs passed 16 MB" in flood and len(flood) < 40 * 2**20  # the first part


def test_tampering_with_what_the_grader_reads_costs_only_the_tamperer(batch):
    grade = batch["grades"]["99_tamper.ipynb"]
    assert grade.status in ("crashed", "errors") and grade.total == 0


def test_every_entry_gets_a_row_and_nothing_is_followed(batch):
    grades = batch["grades"]
    for name in ("99_link_to_master.ipynb", "99_link_to_shadow.ipynb", "99_fifo.ipynb",
                 "99_folder.ipynb", ".hidden.ipynb"):
        assert grades[name].status == "skipped" and grades[name].total == 0, name
    assert "symbolic link" in grades["99_link_to_master.ipynb"].note
    assert grades["executed"].status == "not a notebook"
    for name in ("99_alice.ipynb", "99_alice.zzz.ipynb", "99_no_cells.ipynb"):
        assert grades[name].status == "invalid notebook", name
    odd = "99_odd\\xff\\u202egpj.ipynb"
    assert grades[odd].status == "errors" and "escaped" in grades[odd].note
    assert (batch["out"] / "executed" / executed_file_name(odd)).exists()
    assert {"99_é.ipynb", "99_é (2).ipynb"} <= set(grades)  # NFC and NFD: told apart
    assert grades["99_é (2).ipynb"].note.endswith("numbered apart")


def test_reports_are_data_not_code(batch):
    out = batch["out"]
    for report in ("grades.csv", "gradebook.csv"):
        with open(out / report, newline="") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)], report
        assert [c for c in cells if c.startswith("'=HYPERLINK(\"evil\",\"y\")99")], report
    pages = [out / "grades.md", *(out / "feedback").iterdir()]
    for page in pages:
        text = page.read_text()
        assert "<img" not in text and "<script" not in text
        assert "[a](javascript:" not in text and "[click](javascript:" not in text
        assert "# Injected heading" not in text.splitlines(), page.name
    feedback = {p.name: p.read_text() for p in (out / "feedback").iterdir()}
    assert "99_alice.ipynb.md" in feedback and "99_alice.zzz.ipynb.md" in feedback
    assert "not a valid notebook (UnicodeDecodeError)" in feedback["99_alice.zzz.ipynb.md"]
    assert "not a valid notebook (" in feedback["99_alice.ipynb.md"]


def test_the_grader_reads_no_file_whole_and_stays_small(batch):
    assert batch["peak_mb"] < 400  # a 600 MB file in the folder was never read
    assert batch["seconds"] < 600
