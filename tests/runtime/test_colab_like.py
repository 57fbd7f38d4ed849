"""Lessons 01 and 03 in a Colab-like kernel: the set-up cell installs the course, keeps the runtime.

The kernel runs in a venv that already holds older versions of what Colab preinstalls
(``colab_runtime.PREINSTALLED``), with Colab's marker set and ``COURSE_INSTALL_SOURCE``
pointing at a fresh copy of this repository. papermill (from the course's own environment)
runs the lessons through that kernel on small parameters. Run with ``make test-colab``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import colab_runtime as runtime
import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

pytestmark = pytest.mark.runtime

# Small parameters (as in tests/test_lesson_01.py and test_lesson_03.py): seconds, not minutes.
LESSONS = {"01": {"max_examples": 3000, "compare_examples": 300, "batch_size": 32, "seed": 1},
           "03": {"max_length": 64, "batch_size": 16, "seed": 1}}
KERNEL_ENV = {"TQDM_MININTERVAL": "60", "TOKENIZERS_PARALLELISM": "false"}


@dataclass
class LessonRun:
    """One lesson executed in the Colab-like kernel."""

    output: Path
    seconds: float
    error: str | None = None
    setup_seconds: float | None = None
    setup_text: str = ""


@dataclass
class ColabSession:
    """The Colab-like venv, its packages before and after the lessons, and the lesson runs."""

    venv: Path
    install_source: Path
    venv_seconds: float
    before: dict[str, str]
    after: dict[str, str] = field(default_factory=dict)
    runs: dict[str, LessonRun] = field(default_factory=dict)


def parameters_index(nb: nbformat.NotebookNode) -> int:
    """Return the index of the cell tagged ``parameters``."""
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        raise AssertionError("the notebook has no cell tagged `parameters`.")
    return tagged[0]


def setup_cell_index(nb: nbformat.NotebookNode) -> int:
    """Return the index of the set-up cell: the first code cell before the parameters cell."""
    before = [i for i, c in enumerate(nb.cells[:parameters_index(nb)]) if c.cell_type == "code"]
    if not before:
        raise AssertionError("no set-up cell (a code cell before the parameters cell): run "
                             "`python -m course_utils headers` to add it.")
    return before[0]


def cell_text(cell: nbformat.NotebookNode) -> str:
    """Return the text a code cell showed: streams, plain-text results and errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join([f"{out.ename}: {out.evalue}", *out.traceback]))
    return "".join(parts)


def execute(notebook: Path, output: Path, parameters: dict | None, cwd: Path) -> str | None:
    """Run ``notebook`` in the Colab-like kernel; return None, or the error it stopped with."""
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name=runtime.KERNEL_NAME, language="python",
                                   progress_bar=False, cwd=str(cwd), start_timeout=120)
    except PapermillExecutionError as err:
        return f"cell {err.cell_index}: {err.ename}: {err.evalue}"
    return None


def run_lesson(selector: str, output_dir: Path, cwd: Path) -> LessonRun:
    """Execute one lesson on its small parameters; time it and read its set-up cell."""
    notebook = runtime.lesson_notebook(selector)
    output = output_dir / notebook.name
    start = time.perf_counter()
    error = execute(notebook, output, LESSONS[selector], cwd)
    run = LessonRun(output, time.perf_counter() - start, error)
    executed = nbformat.read(str(output), as_version=4)
    setup = executed.cells[setup_cell_index(executed)]
    run.setup_seconds = setup.metadata.get("papermill", {}).get("duration")
    run.setup_text = cell_text(setup)
    return run


def prepare_kernel(root: Path, install_source: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy a Colab-like venv to ``root``, register its kernel, set the environment; return it."""
    venv = runtime.colab_like_venv(root / "venv")
    jupyter_path = runtime.register_kernel(venv, root / "kernel")
    (root / "content").mkdir()  # the kernel's working folder, like Colab's /content
    variables = runtime.kernel_environment(venv, jupyter_path, install_source, root / "artifacts")
    for name, value in {**variables, **KERNEL_ENV}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return venv


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> ColabSession:
    """Run lessons 01 then 03 in one Colab-like kernel environment; keep what happened."""
    root = tmp_path_factory.mktemp("colab")
    _, venv_seconds = runtime.cached_venv()
    source = runtime.copy_working_tree(root / "course")
    with pytest.MonkeyPatch.context() as monkeypatch:
        venv = prepare_kernel(root, str(source), monkeypatch)
        session = ColabSession(venv, source, venv_seconds, runtime.installed_versions(venv))
        for selector in LESSONS:
            session.runs[selector] = run_lesson(selector, root, root / "content")
    session.after = runtime.installed_versions(venv)
    return session


def test_lessons_01_and_03_pass_in_the_colab_like_kernel(colab, capsys):
    with capsys.disabled():
        print(f"\nColab-like venv: built in {colab.venv_seconds:.0f} s"
              if colab.venv_seconds else "\nColab-like venv: reused from the cache")
        for selector, run in colab.runs.items():
            print(f"lesson {selector}: {run.seconds:.1f} s end to end, set-up cell "
                  f"{run.setup_seconds or 0:.1f} s ({run.output})")
    failed = {s: r.error for s, r in colab.runs.items() if r.error}
    assert not failed, f"lessons failed in the Colab-like kernel: {failed}"


def test_the_set_up_cell_installs_the_course_then_does_nothing(colab):
    first, second = colab.runs["01"], colab.runs["03"]
    assert f"Installing the course from {colab.install_source}" in first.setup_text, first
    assert "The course is installed." in first.setup_text, first
    assert second.setup_text == "", f"lesson 03's set-up cell is not silent: {second.setup_text!r}"
    assert first.setup_seconds and second.setup_seconds is not None, "no cell timings recorded"
    assert first.setup_seconds > second.setup_seconds


def test_the_course_is_installed_in_the_runtime_not_editable(colab):
    assert "course-utils" in colab.after and "course-utils" not in colab.before
    probe = runtime.run_checked([str(runtime.venv_python(colab.venv)), "-c",
                                 "import course_utils; print(course_utils.__file__)"], cwd="/")
    location = Path(probe.stdout.strip())
    assert location.is_relative_to(colab.venv), f"course_utils imported from {location}"
    show = runtime.run_checked([str(runtime.venv_python(colab.venv)), "-m", "pip", "show", "-f",
                                "course-utils"])
    assert "Editable project location" not in show.stdout, show.stdout
    assert "course_utils/manifest.json" in show.stdout, "the package data was not installed"


def test_no_preinstalled_package_changed_version(colab):
    assert colab.before["numpy"] == "2.0.2" and colab.before["pandas"] == "2.2.2"
    changed = runtime.changed_versions(colab.before, colab.after)
    assert not changed, f"the set-up cell changed the runtime's own packages: {changed}"


def test_the_set_up_cell_time_is_measured(colab, capsys):
    seconds = colab.runs["01"].setup_seconds
    assert seconds is not None and 0 < seconds < 600, f"set-up cell took {seconds} s"
    with capsys.disabled():
        print(f"\nset-up cell (installing the course into the Colab-like runtime): {seconds:.1f} s")


# ---- bad input: only the set-up cell runs --------------------------------------------------

def setup_cell_notebook(target: Path, first: str = "") -> Path:
    """Write a notebook of lesson 01's set-up cell (after the code ``first``, if any); return it."""
    notebook = runtime.lesson_notebook("01")
    lesson = nbformat.read(str(notebook), as_version=4)
    cells = [nbformat.v4.new_code_cell(first)] if first else []
    cells.append(lesson.cells[setup_cell_index(lesson)])
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=lesson.metadata), str(target))
    return target


@pytest.fixture
def bare_kernel(tmp_path, monkeypatch):
    """Return a Colab-like kernel environment without the course (its venv path)."""
    venv = prepare_kernel(tmp_path, str(tmp_path / "unset"), monkeypatch)
    return venv


def run_setup_cell(tmp_path: Path, first: str = "") -> tuple[str | None, str]:
    """Run the set-up cell (after ``first``); return its error and the text it showed."""
    output = tmp_path / "setup-only.out.ipynb"
    error = execute(setup_cell_notebook(tmp_path / "setup-only.ipynb", first), output, None,
                    tmp_path / "content")
    executed = nbformat.read(str(output), as_version=4)  # papermill may add an error banner
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    return error, cell_text(code[-1])


def test_a_missing_install_source_shows_pips_error_and_what_to_do(tmp_path, bare_kernel,
                                                                   monkeypatch):
    missing = tmp_path / "no-such-course"
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", str(missing))
    before = runtime.installed_versions(bare_kernel)
    error, shown = run_setup_cell(tmp_path)
    assert error and "SetupStopped" in error, f"the set-up cell did not stop: {error!r}\n{shown}"
    assert f"pip could not install {missing}" in error and "COURSE_INSTALL_SOURCE" in error
    assert "ERROR:" in shown and str(missing) in shown, f"pip's own error is not shown: {shown}"
    assert runtime.installed_versions(bare_kernel) == before


def test_no_network_says_so(tmp_path, bare_kernel, monkeypatch):
    # No pip configuration, no local wheels and an index nobody listens on: as pip sees a runtime
    # without network (one retry, so pip prints the connection error as it does offline).
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", "course-utils-not-on-any-index==1.0")
    for name, value in {"PIP_CONFIG_FILE": os.devnull, "PIP_RETRIES": "1", "PIP_TIMEOUT": "5",
                        "PIP_INDEX_URL": "https://127.0.0.1:9/simple"}.items():
        monkeypatch.setenv(name, value)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    error, shown = run_setup_cell(tmp_path)
    assert error and "SetupStopped" in error, f"the set-up cell did not stop: {error!r}\n{shown}"
    assert "no network" in error, error
    assert "pip says:" in shown, shown


def test_outside_colab_without_a_source_it_says_how_to_install(tmp_path, bare_kernel, monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    monkeypatch.delenv("COURSE_INSTALL_SOURCE")
    before = runtime.installed_versions(bare_kernel)
    error, shown = run_setup_cell(tmp_path)
    assert error and "SetupStopped" in error, f"the set-up cell did not stop: {error!r}\n{shown}"
    assert "pip install -e ." in error, error
    assert runtime.installed_versions(bare_kernel) == before


def test_changing_an_imported_package_asks_for_a_restart(tmp_path, bare_kernel, monkeypatch):
    # The runtime has imported a tqdm older than the course allows: installing must replace it.
    runtime.run_checked([str(runtime.venv_python(bare_kernel)), "-m", "pip", "install", "-q",
                         "tqdm==4.66.2"])
    source = runtime.copy_working_tree(tmp_path / "course")
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", str(source))
    error, shown = run_setup_cell(tmp_path, first="import tqdm")
    assert runtime.installed_versions(bare_kernel)["tqdm"] != "4.66.2", "tqdm was not replaced"
    assert error and "SetupStopped" in error, f"the set-up cell did not stop: {error!r}\n{shown}"
    assert "tqdm 4.66.2 -> " in error and "Restart" in error, error
