"""Build a Colab-like Python environment: a venv that already holds a runtime's own packages.

The environment imitates what a Colab runtime preinstalls (older numpy 2.x, pandas 2.2, an
older transformers 5.x, ...; torch stays at this machine's local CPU wheel). A pristine copy is
cached under ``.venv-colab/<key>/`` (git-ignored; the key hashes the package list and the
Python version), and each test gets its own copy of it, hard-linked where the file system
allows, so a test may install into its copy without touching the cache.

Example::

    >>> venv = colab_like_venv(tmp_path / "venv")                      # doctest: +SKIP
    >>> register_kernel(venv, tmp_path / "jupyter")                    # doctest: +SKIP
    >>> installed_versions(venv)["numpy"]                              # doctest: +SKIP
    '2.0.2'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from course_utils.atomic import atomic_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO_ROOT / ".venv-colab"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "colab-like"
# What a Colab runtime preinstalls, at older versions than the course's locked set.
PREINSTALLED = ("numpy==2.0.2", "pandas==2.2.2", "transformers==5.6.2", "scikit-learn==1.6.1",
                "matplotlib==3.10.0", "ipykernel==6.29.5", "psutil==5.9.5", "tqdm==4.67.1",
                "torch==2.13.0")


class RuntimeBuildError(RuntimeError):
    """The Colab-like environment could not be built; the message holds the command's output."""


def run_checked(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``; raise ``RuntimeBuildError`` with its output when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeBuildError(f"`{' '.join(map(str, command))}` exited with {result.returncode}:"
                                f"\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def lesson_notebook(number: str, folder: Path = NOTEBOOK_DIR) -> Path:
    """Return the lesson notebook numbered ``number`` ("01") in ``folder``."""
    found = sorted(folder.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one notebook {number}_*.ipynb in {folder}: {found}")
    return found[0]


def cache_key(packages: tuple[str, ...] = PREINSTALLED) -> str:
    """Return a short hash of the package list and this Python's version."""
    text = "\n".join([f"python {sys.version_info[0]}.{sys.version_info[1]}", *sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def venv_python(venv: Path) -> Path:
    """Return the interpreter of ``venv``."""
    return venv / "bin" / "python"


def cached_venv(packages: tuple[str, ...] = PREINSTALLED) -> tuple[Path, float]:
    """Return the pristine cached venv holding ``packages`` and its build time (0.0 if cached)."""
    folder = CACHE_ROOT / cache_key(packages)
    if venv_python(folder).exists():
        return folder, 0.0
    start = time.perf_counter()
    with atomic_folder(folder) as staging:
        run_checked([sys.executable, "-m", "venv", str(staging)])
        run_checked([str(venv_python(staging)), "-m", "pip", "install", "-q",
                     "--disable-pip-version-check", *packages])
    return folder, time.perf_counter() - start


def copy_venv(source: Path, target: Path) -> Path:
    """Copy the venv ``source`` to ``target`` (hard links when possible); return ``target``."""
    linked = subprocess.run(["cp", "-al", str(source), str(target)], capture_output=True)
    if linked.returncode != 0:  # another file system: a real copy
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)
    return target


def colab_like_venv(target: Path) -> Path:
    """Return a fresh Colab-like venv at ``target``, copied from the cache (built if missing)."""
    source, _ = cached_venv()
    return copy_venv(source, target)


def installed_versions(venv: Path) -> dict[str, str]:
    """Return {normalised distribution name: version} of everything installed in ``venv``."""
    listing = run_checked([str(venv_python(venv)), "-m", "pip", "list", "--format=json",
                           "--disable-pip-version-check"])
    return {row["name"].lower().replace("_", "-"): row["version"]
            for row in json.loads(listing.stdout)}


def changed_versions(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Return "name old -> new" for each package of ``before`` whose version changed or vanished."""
    return [f"{name} {version} -> {after.get(name, 'removed')}"
            for name, version in sorted(before.items()) if after.get(name) != version]


def register_kernel(venv: Path, prefix: Path, name: str = KERNEL_NAME) -> Path:
    """Install ``venv``'s kernel spec under ``prefix``; return the folder for ``JUPYTER_PATH``."""
    run_checked([str(venv_python(venv)), "-m", "ipykernel", "install", "--prefix", str(prefix),
                 "--name", name, "--display-name", "Python 3 (Colab-like)"])
    jupyter_path = prefix / "share" / "jupyter"
    if not (jupyter_path / "kernels" / name / "kernel.json").is_file():
        raise RuntimeBuildError(f"ipykernel install wrote no kernel.json under {jupyter_path}.")
    return jupyter_path


def copy_working_tree(target: Path, root: Path = REPO_ROOT) -> Path:
    """Copy the repository's tracked and untracked, not ignored files to ``target``; return it.

    This is what a fresh clone would hold, plus work not yet committed.
    """
    listing = run_checked(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root)
    for relative in filter(None, listing.stdout.split("\0")):
        source = root / relative
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    if not (target / "pyproject.toml").is_file():
        raise RuntimeBuildError(f"the copy of {root} in {target} has no pyproject.toml.")
    return target


def kernel_environment(venv: Path, jupyter_path: Path, install_source: str,
                       artifacts: Path) -> dict[str, str | None]:
    """Return the variables to set (None: to remove) so a kernel behaves as in Colab."""
    return {"COLAB_RELEASE_TAG": "colab-like-test", "COURSE_INSTALL_SOURCE": install_source,
            "COURSE_ARTIFACTS": str(artifacts), "JUPYTER_PATH": str(jupyter_path),
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "COURSE_THREADS": "1", "PYTHONPATH": None, "VIRTUAL_ENV": None}
