"""The Colab badge and set-up cell come from the one address in pyproject.toml; the cell works."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course_utils.artifacts import REPO_ROOT
from course_utils.tools import headers

URL = "https://github.com/transfer-course/transformers-course"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils", "headers", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def _managed(nb: dict, role: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get(headers.ROLE_KEY) == role)


def test_the_address_is_read_from_pyproject():
    assert headers.repository_url() == URL


def test_committed_notebooks_agree_with_the_address():
    # in the fast loop: a managed cell edited by hand fails here, before any CI job
    assert headers.disagreeing_notebooks() == []


@pytest.mark.kernel
def test_the_check_command_passes_on_the_committed_notebooks():
    result = _cli("--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.kernel
def test_check_names_each_tampered_notebook_and_the_command_repairs_only_managed_cells(tmp_path):
    for path in headers.lesson_notebooks():
        shutil.copy(path, tmp_path / path.name)
    first, second, third = sorted(tmp_path.glob("*.ipynb"))[:3]
    originals = {p.name: json.loads(p.read_text()) for p in (first, second, third)}
    nb = json.loads(first.read_text())
    badge = _managed(nb, headers.BADGE)
    badge["source"] = ["".join(badge["source"]).replace("transfer-course/", "someone/")]
    first.write_text(json.dumps(nb))
    nb = json.loads(second.read_text())
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get(headers.ROLE_KEY) != headers.INSTALL]
    second.write_text(json.dumps(nb))
    nb = json.loads(third.read_text())
    nb["cells"].insert(0, nb["cells"].pop(2))   # the set-up cell moved above the title
    third.write_text(json.dumps(nb))

    result = _cli("--check", "--notebooks", str(tmp_path))
    assert result.returncode == 1
    named = {Path(line.split(":")[0]).name for line in result.stderr.splitlines()
             if line.startswith(str(tmp_path))}
    assert named == {first.name, second.name, third.name}

    assert _cli("--notebooks", str(tmp_path)).returncode == 0
    assert _cli("--check", "--notebooks", str(tmp_path)).returncode == 0
    for path in (first, second, third):
        repaired = json.loads(path.read_text())
        # the lesson's own cells keep outputs and counts; a re-created managed cell is new
        assert _as_written(repaired["cells"]) == _as_written(originals[path.name]["cells"])


def _as_written(cells: list[dict]) -> list[dict]:
    """Return ``cells`` with the run fields (count, id) of the managed cells left out."""
    return [{k: v for k, v in c.items() if k not in ("execution_count", "id")}
            if c["metadata"].get(headers.ROLE_KEY) else c for c in cells]


def test_a_fork_changes_one_line_and_gets_its_own_badge_and_source(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[project.urls]\n'
                         'Repository = "https://github.com/a-fork/course"\n')
    notebook = headers.lesson_notebooks()[0]
    assert headers.disagreeing_notebooks([notebook], pyproject) == [notebook]
    nb = headers.with_headers(json.loads(notebook.read_text()), notebook.name,
                              headers.repository_url(pyproject))
    assert ("https://colab.research.google.com/github/a-fork/course/blob/main/notebooks/"
            f"{notebook.name}") in "".join(_managed(nb, headers.BADGE)["source"])
    install = "".join(_managed(nb, headers.INSTALL)["source"])
    assert '"git+https://github.com/a-fork/course.git"' in install
    assert "transfer-course" not in install


def test_regeneration_is_idempotent_and_keeps_an_executed_set_up_cell():
    notebook = headers.lesson_notebooks()[2]
    nb = headers.with_headers(json.loads(notebook.read_text()), notebook.name, URL)
    install = _managed(nb, headers.INSTALL)
    install["execution_count"], install["outputs"] = 7, [{"output_type": "stream", "name": "stdout",
                                                          "text": ["x\n"]}]
    again = headers.with_headers(nb, notebook.name, URL)
    assert again == nb and headers.agrees(nb, notebook.name, URL)


def test_lessons_without_a_csv_get_no_colab_data_cells():
    for notebook in headers.lesson_notebooks():
        cells = json.loads(notebook.read_text())["cells"]
        roles = [c["metadata"].get(headers.ROLE_KEY) for c in cells]
        has_data = headers.DATA_CELL in roles and headers.DATA_NOTE in roles
        assert has_data == (notebook.name[:2] in headers.CSV_LESSONS), notebook.name


@pytest.mark.parametrize("content, words", [
    ('[project]\nname = "x"\n', "must be the course's GitHub address"),
    ('[project.urls]\nRepository = "https://github.com/OWNER"\n', "https://github.com/OWNER/REPO"),
    ("[project.urls\n", "cannot read"),
])
def test_a_bad_address_is_explained(tmp_path, content, words):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(content)
    with pytest.raises(headers.HeaderError, match=words.replace("/", ".").replace("'", ".")):
        headers.repository_url(pyproject)


def test_python_without_tomllib_gets_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tomllib", None)
    with pytest.raises(headers.HeaderError, match="Python 3.11"):
        headers.repository_url()


# The set-up cell, run as a script in a fresh interpreter. `python -S` hides site-packages, so
# course_utils is not importable there; a fake `pip` package on PYTHONPATH stands in for pip in
# the `python -m pip` the cell starts, and a fake distribution `fakepkg` plays an already
# imported package of the runtime.
FAKE_PIP = '''
import os, pathlib, sys
pathlib.Path(os.environ["FAKE_PIP_ARGS"]).write_text("\\n".join(sys.argv[1:]))
mode = os.environ["FAKE_PIP"]
if mode == "fail":
    sys.exit("ERROR: No matching distribution found for course-utils")
if mode == "offline":
    sys.exit("fatal: unable to access 'https://github.com/x/': Could not resolve host: github.com")
if mode == "upgrade":
    site = pathlib.Path(__file__).resolve().parents[1]
    old = site / "fakepkg-1.0.dist-info"
    (old / "METADATA").write_text("Metadata-Version: 2.1\\nName: fakepkg\\nVersion: 2.0\\n")
    old.rename(site / "fakepkg-2.0.dist-info")
'''

HARNESS = '''
import os, sys
if os.environ.get("FAKE_PYTHON"):
    sys.version_info = tuple(int(x) for x in os.environ["FAKE_PYTHON"].split(".")) + ("final", 0)
import fakepkg  # noqa: F401  (already imported by the runtime)
exec(compile(open(sys.argv[1]).read(), "set-up cell", "exec"))
'''


@pytest.fixture
def fake_runtime(tmp_path):
    site = tmp_path / "site"
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__init__.py").write_text("")
    (site / "pip" / "__main__.py").write_text(FAKE_PIP)
    (site / "fakepkg").mkdir()
    (site / "fakepkg" / "__init__.py").write_text("")
    info = site / "fakepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("fakepkg\n")
    cell = tmp_path / "cell.py"
    cell.write_text(headers.install_source(URL))
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    work = tmp_path / "work"
    work.mkdir()

    def run(pip: str = "ok", python: str = "", real_pip: bool = False, **env: str):
        clean = {k: v for k, v in os.environ.items()
                 if k not in {"COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE",
                              "COURSE_INSTALL_SOURCE", "PYTHONPATH"}}
        clean.update(FAKE_PIP=pip, FAKE_PIP_ARGS=str(tmp_path / "pip-args"), FAKE_PYTHON=python,
                     PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **env)
        if not real_pip:
            clean["PYTHONPATH"] = str(site)
        command = [sys.executable, "-S", str(harness), str(cell)]
        if real_pip:   # fakepkg still importable for the harness, pip the real one
            command = [sys.executable, "-S", "-c",
                       f"import sys; sys.path.insert(0, {str(site)!r}); sys.argv[1:] = "
                       f"[{str(cell)!r}]; exec(open({str(harness)!r}).read())"]
            (site / "pip").rename(site / "not-pip")
        return subprocess.run(command, cwd=work, env=clean, capture_output=True, text=True,
                              timeout=120)

    run.pip_args = tmp_path / "pip-args"
    return run


def test_set_up_cell_does_nothing_and_prints_nothing_where_the_course_is_installed(tmp_path):
    cell = tmp_path / "cell.py"
    cell.write_text(headers.install_source(URL))
    env = {**os.environ, "COLAB_RELEASE_TAG": "x", "COURSE_INSTALL_SOURCE": "/nowhere"}
    result = subprocess.run([sys.executable, str(cell)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_set_up_cell_elsewhere_says_how_to_install(fake_runtime):
    result = fake_runtime()
    assert result.returncode != 0 and not fake_runtime.pip_args.exists()
    assert "course_utils is not installed" in result.stderr and "pip install -e ." in result.stderr


def test_set_up_cell_refuses_an_old_python_first(fake_runtime):
    result = fake_runtime(python="3.9.18", COLAB_RELEASE_TAG="1")
    assert "needs Python 3.10 or newer; this runtime has Python 3.9" in result.stderr
    assert "Runtime > Change runtime type" in result.stderr and not fake_runtime.pip_args.exists()


@pytest.mark.parametrize("marker", [{"COLAB_RELEASE_TAG": "1"},
                                    {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"},
                                    {"COURSE_INSTALL_SOURCE": "/srv/course"}])
def test_set_up_cell_installs_runtime_dependencies_only_without_upgrading(fake_runtime, marker):
    result = fake_runtime(**marker)
    assert result.returncode == 0, result.stderr
    assert "The course is installed." in result.stdout
    args = fake_runtime.pip_args.read_text().split("\n")
    source = marker.get("COURSE_INSTALL_SOURCE", f"git+{URL}.git")
    assert args[0] == "install" and args[-1] == source
    assert not {"-U", "--upgrade", "-e"} & set(args) and "[" not in source


def test_set_up_cell_shows_pips_error_and_stops(fake_runtime):
    result = fake_runtime(pip="fail", COLAB_RELEASE_TAG="1")
    assert result.returncode != 0
    assert "No matching distribution found for course-utils" in result.stdout
    assert "pip could not install" in result.stderr
    assert "The course is installed" not in result.stdout


def test_set_up_cell_without_network_says_to_check_the_connection(fake_runtime):
    result = fake_runtime(pip="offline", KAGGLE_KERNEL_RUN_TYPE="Interactive")
    assert "Could not resolve host" in result.stdout
    assert "no network: check the internet connection" in result.stderr
    assert "Kaggle: Settings > Internet on" in result.stderr


def test_set_up_cell_with_a_missing_local_source_shows_real_pips_error(fake_runtime, tmp_path):
    missing = tmp_path / "no-such-clone"
    result = fake_runtime(real_pip=True, COURSE_INSTALL_SOURCE=str(missing))
    assert result.returncode != 0
    assert "pip says:" in result.stdout and "no-such-clone" in result.stdout
    assert f"pip could not install {missing}" in result.stderr


def test_set_up_cell_asks_for_a_restart_when_an_imported_package_changed(fake_runtime):
    result = fake_runtime(pip="upgrade", COLAB_RELEASE_TAG="1")
    assert result.returncode != 0
    assert "fakepkg 1.0 -> 2.0" in result.stderr
    assert "Runtime > Restart session" in result.stderr
    assert "Run > Restart & clear cell outputs" in result.stderr


def test_set_up_cell_renders_as_one_line_in_jupyter(tmp_path):
    """IPython shows `_render_traceback_` instead of a traceback: the learner reads one line."""
    source = headers.install_source(URL)
    start = source.index("    class SetupStopped")
    block = textwrap.dedent(source[start:source.index("    def imported_versions")])
    namespace: dict = {}
    exec(block, namespace)
    error = namespace["SetupStopped"]("the reason")
    assert error._render_traceback_() == ["Set-up stopped: the reason"]
