"""Generate each lesson's "Open in Colab" badge and set-up cell from the one repository address.

The address is ``[project.urls] Repository`` in ``pyproject.toml``. ``write_headers()``
(``python -m course_utils headers``) rewrites, in every lesson notebook, the cells it
manages, tagged ``course-header`` (a fork changes that one line and runs that command):

- a markdown cell at the top with the badge that opens the lesson in Colab;
- the set-up cell, the first code cell: where ``course_utils`` is importable it does nothing
  and prints nothing; in Colab or Kaggle (or with ``COURSE_INSTALL_SOURCE`` set) it installs
  the course with pip, without ``-U`` and without extras, and stops with a message saying what
  to do when the Python is too old, pip fails or an already imported package changed;
- in lessons 03-05, right after the cell that calls ``course_utils.setup``, a markdown cell
  and a code cell that let a Colab learner upload a CSV or read one from Google Drive.

The set-up cell comes right after the title cell, so it is the first code cell.

Only managed cells change; every other cell, its outputs and counts stay as they are, and a
managed cell whose source already matches is not touched. ``headers --check`` lists the
notebooks that disagree.

Example::

    >>> repository_url()                                       # doctest: +SKIP
    'https://github.com/transfer-course/transformers-course'
    >>> write_headers()                                        # doctest: +SKIP
    [PosixPath('notebooks/01_tokenization.ipynb'), ...]
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from ..artifacts import REPO_ROOT
from ..atomic import write_text_atomically
from .lessons import CSV_LESSONS, lesson_notebooks

TAG = "course-header"
ROLE_KEY = "course_header"          # cell metadata: which managed cell this is
BADGE, INSTALL, DATA_NOTE, DATA_CELL = "badge", "install", "colab-data-note", "colab-data"
PYPROJECT = REPO_ROOT / "pyproject.toml"
GITHUB_URL = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

BADGE_TEMPLATE = """\
[![Open In Colab]({image})]({colab_url})

In Colab or Kaggle the first code cell below installs the course; where the course is already
installed (`pip install -e .` or `make lab` in a clone) it does nothing."""

INSTALL_TEMPLATE = '''\
# @title Set-up: install the course (Colab, Kaggle) { display-mode: "form" }
# Installs the course in Colab or Kaggle; where it is already installed, does nothing.
import importlib.util
import os
import sys

if importlib.util.find_spec("course_utils") is None:
    import importlib.metadata as metadata
    import re
    import subprocess

    class SetupStopped(Exception):
        def _render_traceback_(self):  # Jupyter shows this message, not a traceback
            return [f"Set-up stopped: {self}"]

    def imported_versions() -> dict:
        """Return {distribution: version} for the packages this runtime has imported."""
        owners = metadata.packages_distributions()
        names = {d for m in list(sys.modules) if "." not in m for d in owners.get(m, ())}
        versions = {}
        for name in names:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = "removed"
        return versions

    COLAB = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
    KAGGLE = "KAGGLE_KERNEL_RUN_TYPE" in os.environ
    SOURCE = (os.environ.get("COURSE_INSTALL_SOURCE")   # a local path or a pip requirement
              or "git+@ADDRESS@.git")
    if sys.version_info[:2] < (3, 10):
        raise SetupStopped(f"the course needs Python 3.10 or newer; this runtime has Python "
                           f"{sys.version_info[0]}.{sys.version_info[1]}. Choose a newer runtime "
                           "(Colab: Runtime > Change runtime type; Kaggle: Settings > Environment"
                           " > Always use latest environment) or install Python 3.10+ yourself.")
    if not (COLAB or KAGGLE or os.environ.get("COURSE_INSTALL_SOURCE")):
        raise SetupStopped("course_utils is not installed for this kernel. In a clone of the "
                           "course run `pip install -e .` (or `make lab`), then restart the "
                           "kernel.")
    before = imported_versions()
    print(f"Installing the course from {SOURCE} ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        log = (pip.stdout + pip.stderr).strip()
        print("pip says:", *log.splitlines()[-12:], sep="\\n")
        offline = re.search(r"resolve host|NewConnectionError|Network is unreachable|"
                            r"Temporary failure in name resolution|Failed to establish", log)
        raise SetupStopped(
            "no network: check the internet connection (Colab: Runtime > Disconnect and delete "
            "runtime, then run again; Kaggle: Settings > Internet on), then run this cell again."
            if offline else f"pip could not install {SOURCE} (its error is above). Fix what it "
            "names, or set COURSE_INSTALL_SOURCE to another source, then run this cell again.")
    after = imported_versions()
    changed = [f"{n} {v} -> {after.get(n)}" for n, v in sorted(before.items()) if after.get(n) != v]
    if changed:
        raise SetupStopped(
            "the install changed packages this runtime had already imported "
            f"({', '.join(changed)}). Restart, then run all cells again. Colab: Runtime > "
            "Restart session, then Runtime > Run all. Kaggle: Run > Restart & clear cell "
            "outputs, then Run All.")
    importlib.invalidate_caches()
    print("The course is installed.")
'''

DATA_NOTE_TEMPLATE = """\
### In Colab: your own CSV

To use a CSV file from your computer in Colab, set `upload_csv = True` in the cell below and run
it: it asks for the file and sets `data_path` to it (name its columns in `text_column` and
`label_column` in the parameters cell). For a CSV on Google Drive, set `data_path` to its path
under `/content/drive/MyDrive/`; the cell mounts Drive when it needs to. Outside Colab the cell
does nothing: set `data_path` in the parameters cell."""

DATA_CELL_TEMPLATE = """\
from course_utils.colab import chosen_data_path

upload_csv = False   # Colab: True asks you for a CSV file, which becomes data_path
data_path = chosen_data_path(data_path, upload=upload_csv)"""


class HeaderError(ValueError):
    """The repository address or a notebook cannot be read; the message says how to fix it."""


def repository_url(pyproject: str | Path = PYPROJECT) -> str:
    """Return ``[project.urls] Repository`` from ``pyproject.toml``, checked."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise HeaderError("reading pyproject.toml needs tomllib (Python 3.11 or newer): run "
                          "`python -m course_utils headers` with Python 3.11+.") from None
    pyproject = Path(pyproject)
    try:
        config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise HeaderError(f"cannot read {pyproject}: {err}") from None
    url = str(config.get("project", {}).get("urls", {}).get("Repository", "")).rstrip("/")
    url = url.removesuffix(".git")
    if not GITHUB_URL.match(url):
        raise HeaderError(f"{pyproject}: [project.urls] Repository must be the course's GitHub "
                          f"address, like \"https://github.com/OWNER/REPO\"; found {url!r}.")
    return url


def colab_url(repo_url: str, notebook: str) -> str:
    """Return the Colab address of ``notebooks/<notebook>`` on ``repo_url``'s main branch."""
    owner_repo = repo_url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{notebook}"


def badge_source(repo_url: str, notebook: str) -> str:
    """Return the markdown of the badge cell for ``notebook`` (a file name)."""
    return BADGE_TEMPLATE.format(image=BADGE_IMAGE, colab_url=colab_url(repo_url, notebook))


def install_source(repo_url: str) -> str:
    """Return the source of the set-up cell that installs the course from ``repo_url``."""
    return INSTALL_TEMPLATE.replace("@ADDRESS@", repo_url)


def _cell(kind: str, role: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "id": f"course-{role}",
                            "metadata": {ROLE_KEY: role, "tags": [TAG]},
                            "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _role(cell: dict[str, Any]) -> str | None:
    return cell.get("metadata", {}).get(ROLE_KEY)


def _index(cells: list[dict], cell: dict) -> int:
    return next(i for i, c in enumerate(cells) if c is cell)


def with_headers(nb: dict[str, Any], notebook: str, repo_url: str) -> dict[str, Any]:
    """Return a copy of ``nb`` (a notebook as JSON) with its managed cells as they should be."""
    nb = copy.deepcopy(nb)
    old: dict[str, dict] = {}
    cells = []
    for cell in nb["cells"]:
        if _role(cell):
            old.setdefault(_role(cell), cell)
        else:
            cells.append(cell)

    def managed(role: str, kind: str, source: str) -> dict[str, Any]:
        cell = old.get(role)
        if cell is None or cell["cell_type"] != kind or _source(cell) != source:
            return _cell(kind, role, source)
        return cell  # unchanged: keep its outputs and count

    code = [c for c in cells if c["cell_type"] == "code"]
    if not code:
        raise HeaderError(f"{notebook} has no code cell: a lesson needs its parameters cell.")
    at = _index(cells, code[0])
    if cells[0]["cell_type"] == "markdown":
        at = 1  # right after the title, before the parameters' introduction
    cells.insert(at, managed(INSTALL, "code", install_source(repo_url)))
    cells.insert(0, managed(BADGE, "markdown", badge_source(repo_url, notebook)))
    if notebook[:2] in CSV_LESSONS:
        setup_cells = [c for c in cells if c["cell_type"] == "code" and not _role(c)
                       and "course_utils.setup(" in _source(c)]
        if not setup_cells:
            raise HeaderError(f"{notebook} has no cell calling course_utils.setup(...): the "
                              "Colab data cells go right after it.")
        at = _index(cells, setup_cells[0]) + 1
        cells[at:at] = [managed(DATA_NOTE, "markdown", DATA_NOTE_TEMPLATE),
                        managed(DATA_CELL, "code", DATA_CELL_TEMPLATE)]
    nb["cells"] = cells
    return nb


def _layout(nb: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(_role(c), c["cell_type"], _source(c) if _role(c) else "") for c in nb["cells"]]


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HeaderError(f"cannot read notebook {path}: {err}") from None


def agrees(nb: dict[str, Any], notebook: str, repo_url: str) -> bool:
    """Return True when ``nb``'s managed cells are exactly what the generator would write."""
    return _layout(with_headers(nb, notebook, repo_url)) == _layout(nb)


def disagreeing_notebooks(notebooks: list[Path] | None = None,
                          pyproject: str | Path = PYPROJECT) -> list[Path]:
    """Return the notebooks whose badge or managed cells differ from the configured address."""
    url = repository_url(pyproject)
    paths = lesson_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    return [p for p in paths if not agrees(_read(p), p.name, url)]


def write_headers(notebooks: list[Path] | None = None,
                  pyproject: str | Path = PYPROJECT) -> list[Path]:
    """Rewrite the managed cells of each notebook that disagrees; return the ones rewritten."""
    url = repository_url(pyproject)
    paths = lesson_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    written = []
    for path in paths:
        nb = _read(path)
        if agrees(nb, path.name, url):
            continue
        text = json.dumps(with_headers(nb, path.name, url), indent=1, ensure_ascii=False,
                          sort_keys=True)
        write_text_atomically(path, text + "\n")
        written.append(path)
    return written
