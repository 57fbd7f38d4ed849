"""The student build: stubs without hints, no solution left, nudging hints, bad markers refused."""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_utils.homework import EXERCISES
from course_utils.homework.core import (
    EXTRA_MODULES_ENV,
    get_exercise,
    lesson_exercises,
    load_lesson_checks,
)
from course_utils.tools.cli import main
from course_utils.tools.grading.build import (
    HomeworkBuildError,
    answer_stub,
    build_student_notebooks,
    strip_solutions,
    student_notebook,
)
from course_utils.tools.grading.markers import BEGIN, END
from course_utils.tools.lessons import lesson_notebooks

FIXTURES = Path(__file__).parents[1] / "fixtures" / "homework"
MASTER = FIXTURES / "99_fixture.ipynb"


@pytest.fixture
def lesson99(monkeypatch):
    """Register the test-only lesson 99 for one test, and forget it afterwards."""
    monkeypatch.setenv(EXTRA_MODULES_ENV, str(FIXTURES / "lesson99_checks.py"))
    load_lesson_checks()
    yield
    for exercise_id in [i for i in EXERCISES if i.startswith("99.")]:
        del EXERCISES[exercise_id]
    for name in [n for n in sys.modules if n.startswith("course_extra_checks_")]:
        del sys.modules[name]


def solution_blocks(nb) -> dict[str, list[str]]:
    """Return each exercise's solution lines in a master notebook."""
    blocks, current = {}, None
    for cell in nb.cells:
        for line in cell.source.split("\n"):
            if BEGIN.match(line):
                current = BEGIN.match(line).group("id").strip()
                blocks[current] = []
            elif END.match(line):
                current = None
            elif current:
                blocks[current].append(line)
    return blocks


def code_of(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


def squeezed(text: str) -> str:
    """Return ``text`` without any whitespace, to compare code however it is wrapped."""
    return re.sub(r"\s+", "", text)


def solution_statements(lines: list[str]) -> list[str]:
    """Return every statement of a solution block (compound ones whole, and their parts)."""
    source = textwrap.dedent("\n".join(lines))
    return [squeezed(ast.get_source_segment(source, node))
            for node in ast.walk(ast.parse(source)) if isinstance(node, ast.stmt)]


def test_student_version_has_stubs_with_hints_and_no_solution(lesson99, tmp_path):
    (written,) = build_student_notebooks(tmp_path, [MASTER])
    student, master = nbformat.read(written, as_version=4), nbformat.read(MASTER, as_version=4)
    code = code_of(student)
    for lines in solution_blocks(master).values():
        for line in filter(str.strip, lines):
            assert line not in code
    assert "SOLUTION" not in code
    stub = ("raise NotImplementedError('Exercise 99.1: write your answer here; it must define "
            "`squares`. Then run check(\"99.1\") below.')")
    assert stub in code
    assert "list comprehension" not in code and "Return 2 * x" not in code  # no hint shown
    # the indentation of a block inside a function is kept, and so is the code around it
    assert ("def double(x):\n    \"\"\"Return twice x.\"\"\"\n"
            "    # YOUR ANSWER 99.2: replace the next line with your code\n"
            "    raise NotImplementedError('Exercise 99.2: write your answer here; it must define "
            "`double`. Then run check(\"99.2\") below.')") in code
    assert "print(squares)" in code and 'sentence = "the quick brown fox"' in code
    assert len(student.cells) == len(master.cells)
    assert student.metadata.kernelspec.name == "python3"
    assert all(c.outputs == [] and c.execution_count is None
               for c in student.cells if c.cell_type == "code")
    assert [p.name for p in tmp_path.iterdir()] == ["99_fixture.ipynb"]  # no temporary left


def test_outputs_of_an_executed_master_are_cleared(lesson99, tmp_path):
    master = nbformat.read(MASTER, as_version=4)
    master.cells[4].outputs = [nbformat.v4.new_output("stream", text="[0, 1, 4, 9, 16]\n")]
    master.cells[4].execution_count = 3
    master.cells[4].metadata["execution"] = {"iopub.status.idle": "2026-12-01T10:00:00"}
    master.cells[3].metadata["papermill"] = {"duration": 0.5}
    master.metadata["papermill"] = {"start_time": "2026-12-01T10:00:00"}
    path = tmp_path / "99_fixture.ipynb"
    nbformat.write(master, path)
    student = student_notebook(path)
    assert student.cells[4].outputs == [] and student.cells[4].execution_count is None
    assert "[0, 1, 4, 9, 16]" not in nbformat.writes(student)
    assert "papermill" not in nbformat.writes(student) and "iopub" not in nbformat.writes(student)
    assert student.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("source, words", [
    ("# BEGIN SOLUTION 99.1\nsquares = []", "never closed"),
    ("squares = []\n# END SOLUTION", "END SOLUTION without a BEGIN"),
    ("# BEGIN SOLUTION 99.1\n# BEGIN SOLUTION 99.2\n# END SOLUTION", "a second BEGIN SOLUTION"),
    ("# BEGIN SOLUTION 99.7\nx = 1\n# END SOLUTION", "no exercise '99.7'"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", "needs an exercise id"),
    ("# BEGIN SOLUTION 01.1\nx = 1\n# END SOLUTION", "belongs to lesson 01, not to lesson 99"),
])
def test_bad_markers_are_refused_with_the_line(lesson99, source, words):
    with pytest.raises(HomeworkBuildError, match=words):
        strip_solutions(source, lesson="99", where="99_x.ipynb, cell 3")


def test_a_refused_notebook_writes_nothing(lesson99, tmp_path):
    broken = nbformat.read(MASTER, as_version=4)
    broken.cells[10].source = broken.cells[10].source.replace("# END SOLUTION", "")
    path = tmp_path / "masters" / "99_fixture.ipynb"
    path.parent.mkdir()
    nbformat.write(broken, path)
    with pytest.raises(HomeworkBuildError, match=r"99_fixture.ipynb, cell 10, line 2"):
        build_student_notebooks(tmp_path / "student", [MASTER, path])
    assert not (tmp_path / "student").exists()


def test_every_lesson_notebook_builds_without_its_solutions(tmp_path):
    masters = lesson_notebooks()
    assert masters, "no lesson notebooks found"
    for written, master_path in zip(build_student_notebooks(tmp_path, masters), masters):
        master, student = nbformat.read(master_path, 4), nbformat.read(written, 4)
        lesson = master_path.name[:2]
        blocks = solution_blocks(master)
        registered = [ex.id for ex in lesson_exercises(lesson)]
        assert sorted(blocks) == registered, f"{master_path.name}: blocks vs registered checks"
        code, master = squeezed(code_of(student)), squeezed(code_of(master))
        for exercise_id, lines in blocks.items():
            assert f"#YOURANSWER{exercise_id}" in code
            assert f'check("{exercise_id}")' in code, (
                f"{master_path.name} never checks {exercise_id}")
            in_blocks = [s for block in blocks.values() for s in solution_statements(block)]
            for statement in solution_statements(lines):
                elsewhere = master.count(statement) > in_blocks.count(statement)
                assert elsewhere or len(statement) < 10 or statement not in code, (
                    f"{master_path.name}: the student version still holds {exercise_id}'s "
                    f"solution {statement!r} (in a hint?)")


def test_command_line_builds_one_lesson(tmp_path, capsys):
    assert main(["homework", "build", "--out", str(tmp_path), "--only", "01"]) == 0
    assert (tmp_path / "01_tokenization.ipynb").exists()
    assert "wrote" in capsys.readouterr().out


def solution_calls(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Return (callee name, squeezed keyword arguments) of each call with arguments in a block."""
    calls = []
    for node in ast.walk(ast.parse(textwrap.dedent("\n".join(lines)))):
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keywords = [squeezed(f"{k.arg}={ast.unparse(k.value)}") for k in node.keywords
                        if k.arg]
            calls.append((name, keywords))
    return calls


def giveaways(hint: str, lines: list[str]) -> list[str]:
    """Return what of a solution block a hint spells out: statements, or calls with their args."""
    text = squeezed(hint).replace("'", '"')
    source = textwrap.dedent("\n".join(lines))
    values = [squeezed(ast.get_source_segment(source, node.value))
              for node in ast.walk(ast.parse(source))
              if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return)) and node.value]
    found = [s for s in solution_statements(lines) + values
             if len(s) >= 10 and s.replace("'", '"') in text]
    for name, keywords in solution_calls(lines):
        if name and re.search(rf"\b{re.escape(name)}\(", hint):  # the call written out
            found.append(f"{name}(...)")
        elif name and keywords and name in text and all(k.replace("'", '"') in text
                                                        for k in keywords):
            found.append(f"{name} with {', '.join(keywords)}")
    return found


def test_the_giveaway_detector_catches_hints_that_are_solutions():
    block = ['review_batch = tokenizer(two_reviews, padding=True, return_tensors="pt")']
    found = giveaways('Call the tokenizer on the list with padding=True and return_tensors="pt".',
                      block)
    assert [f.replace("'", '"') for f in found] == ['tokenizer with padding=True, '
                                                    'return_tensors="pt"']
    block = ["mask = attention_mask.unsqueeze(-1).float()",
             "pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)"]
    assert giveaways("Multiply by attention_mask.unsqueeze(-1) and sum over dim=1.", block)
    assert giveaways("Write pooled=(hidden*mask).sum(dim=1)/mask.sum(dim=1).", block)
    assert giveaways("Average over the real tokens only (section 3).", block) == []
    block = ["my_groups = [{'params': decay, 'weight_decay': 0.01}, {'params': no_decay}]"]
    assert giveaways("Return [{'params': decay, 'weight_decay': 0.01}, {'params': no_decay}].",
                     block)


def test_no_hint_gives_away_its_solution():
    for master_path in lesson_notebooks():
        blocks = solution_blocks(nbformat.read(master_path, 4))
        for exercise_id, lines in blocks.items():
            hint = EXERCISES[exercise_id].hint
            assert not giveaways(hint, lines), (
                f"{master_path.name}: the hint of {exercise_id} spells out its solution: "
                f"{giveaways(hint, lines)}; a hint names the concept, the section or the docs "
                "page, not the code.")


def test_stubs_name_the_answer_variables_and_never_the_hint(lesson99):
    stub = "\n".join(answer_stub(get_exercise("99.1"), "  ", ["squares"]))
    assert "it must define `squares`" in stub and 'check("99.1")' in stub
    assert get_exercise("99.1").hint not in stub
    source, _ = strip_solutions("# BEGIN SOLUTION 99.3\nn = 4\nword_count = n\n# END SOLUTION",
                                lesson="99")
    assert "it must define `word_count`." in source  # the answer, not the helper variable n
