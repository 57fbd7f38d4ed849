"""The test session leaves the learner's files alone, and its band tests read nbval's own run.

Each test runs a small pytest session (in a subprocess, under the repository's root conftest.py)
whose learner's cache is a temporary folder, so the guard's verdict can be checked from outside.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat
import pytest

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.kernel  # every test runs pytest with nbval's kernels
ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"
INI = """[pytest]
addopts = --strict-markers --nbval-lax -p no:cacheprovider
markers =
    notebook: runs a notebook
    runtime: Colab-like and browser tests
    more: runs a lesson again
"""
# The probe lesson writes through artifacts_dir(), as the lessons do, and records where it wrote.
PROBE_CELLS = [
    "from course_utils.artifacts import artifacts_dir\n"
    "from course_utils.record import record\n"
    "folder = artifacts_dir('checkpoints')\n"
    "(folder / 'model.txt').write_text('weights')\n"
    "record('artifacts', str(folder.parent))",
    "record('answer', 42)",
]
PROBE_TEST = """
def test_probe_bands(default_run, nbval_artifacts_dir, tmp_path_factory):
    metrics = default_run("01")
    assert metrics == {"artifacts": str(nbval_artifacts_dir), "answer": 42}
    assert (nbval_artifacts_dir / "checkpoints" / "model.txt").read_text() == "weights"
    with open(SEEN, "w") as seen:
        seen.write(str(nbval_artifacts_dir))
"""


@pytest.fixture
def learner(pytester, monkeypatch) -> Path:
    """Return a learner's cache (with an artifact folder holding a checkpoint) for sub-sessions."""
    cache = pytester.path / "learner-cache"
    (cache / "artifacts" / "checkpoints").mkdir(parents=True)
    (cache / "artifacts" / "checkpoints" / "mine.bin").write_bytes(b"the learner's own model")
    monkeypatch.setenv("COURSE_CACHE", str(cache))
    monkeypatch.delenv("COURSE_ARTIFACTS", raising=False)
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makefile(".ini", pytest=INI)
    return cache


def write_probe_notebook(folder: Path) -> Path:
    """Write a two-cell lesson notebook ``01_probe.ipynb`` into ``folder / "notebooks"``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in PROBE_CELLS]
    path = folder / "notebooks" / "01_probe.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, str(path))
    return path


def test_nbval_kernels_write_into_a_temporary_folder_and_bands_read_their_metrics(pytester,
                                                                                 learner):
    write_probe_notebook(pytester.path)
    seen = pytester.path / "seen.txt"
    (pytester.path / "tests").mkdir()
    probe_test = PROBE_TEST.replace("SEEN", repr(str(seen)))
    (pytester.path / "tests" / "test_probe.py").write_text(probe_test)
    before = sorted(p.relative_to(learner) for p in learner.rglob("*"))
    # the band test is collected first; the session runs it after the notebook's cells
    result = pytester.runpytest_subprocess("tests", "notebooks", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*01_probe*Cell 0 PASSED*", "*01_probe*Cell 1 PASSED*",
                                 "*test_probe.py::test_probe_bands PASSED*"])
    nbval_folder = Path(seen.read_text())
    assert not nbval_folder.is_relative_to(learner)
    assert not nbval_folder.exists()                     # removed when the session ended
    assert sorted(p.relative_to(learner) for p in learner.rglob("*")) == before


def test_a_session_that_writes_into_the_learners_folder_fails(pytester, learner):
    pytester.makepyfile(test_leak="""
        from course_utils.assets import cache_dir

        def test_leaks():
            (cache_dir() / "artifacts" / "checkpoints" / "mine.bin").write_bytes(b"overwritten")
            (cache_dir() / "features.npy").write_bytes(b"new")
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED     # although the test itself passed
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*learner's files changed*",
                                 f"added {learner / 'features.npy'}",
                                 f"modified {learner / 'artifacts/checkpoints/mine.bin'}",
                                 "FAILED: this test session wrote into the learner's folders*"])


def test_band_tests_fail_without_their_notebook_and_runtime_tests_wait_for_their_marker(
        pytester, learner):
    write_probe_notebook(pytester.path)
    pytester.makepyfile(test_bands="""
        import pytest

        def test_band(default_run):
            default_run("01")

        @pytest.mark.runtime
        def test_in_colab():
            pass
    """)
    result = pytester.runpytest("test_bands.py")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*01_probe.ipynb did not run in this session*"
                                 "run `pytest notebooks/01_probe.ipynb test_bands.py`*"])
    assert pytester.runpytest("test_bands.py", "-m", "not notebook").parseoutcomes() \
        == {"failed": 1, "deselected": 1}
    pytester.runpytest("test_bands.py", "-m", "runtime").assert_outcomes(
        passed=1, deselected=1)


def test_a_lesson_rerun_without_the_more_marker_stops_the_collection(pytester, learner):
    """make test runs each lesson once (nbval); reruns belong to make test-more."""
    pytester.makepyfile(test_reruns="""
        import pytest

        @pytest.fixture
        def run_lesson():
            return lambda selector, **parameters: {}

        def test_unmarked(run_lesson):
            run_lesson("03", max_length=32)

        @pytest.mark.more
        def test_marked(run_lesson):
            run_lesson("03", max_length=32)
    """)
    result = pytester.runpytest("test_reruns.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_unmarked runs a lesson again (run_lesson) but is not "
                                 "marked `more`*"])
    (pytester.path / "test_reruns.py").write_text(
        (pytester.path / "test_reruns.py").read_text().replace("def test_unmarked", "def _unused"))
    pytester.runpytest("test_reruns.py", "-m", "more").assert_outcomes(passed=1)


def test_this_sessions_lesson_outputs_go_to_a_temporary_folder(nbval_artifacts_dir):
    from course_utils.artifacts import artifacts_dir
    from course_utils.assets import cache_dir

    for folder in (artifacts_dir(), nbval_artifacts_dir):
        assert folder.is_relative_to(tempfile.gettempdir())
        assert not folder.is_relative_to(cache_dir())
    assert artifacts_dir() != nbval_artifacts_dir      # papermill and unit tests: not nbval's


def test_a_learners_own_course_artifacts_is_replaced_and_watched(pytester, learner, monkeypatch):
    mine = pytester.path / "my-artifacts"
    (mine / "models").mkdir(parents=True)
    monkeypatch.setenv("COURSE_ARTIFACTS", str(mine))
    pytester.makepyfile(test_mine=f"""
        from pathlib import Path

        from course_utils.artifacts import artifacts_dir

        def test_outputs_go_elsewhere_then_leak():
            assert not artifacts_dir().is_relative_to({str(mine)!r})
            (Path({str(mine)!r}) / "models" / "leak.bin").write_bytes(b"x")
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"added {mine / 'models/leak.bin'}"])
