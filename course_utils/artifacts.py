"""Where the course keeps what lessons produce: checkpoints, feature caches, saved models.

``artifacts_dir()`` is ``$COURSE_ARTIFACTS``, or ``artifacts/`` in the course's folder on
Google Drive when Drive is mounted (each Colab notebook has its own machine), or
``artifacts/`` inside the asset cache,
so lessons find each other's outputs (lesson 05 reuses lesson 02's adapted encoder)
wherever the notebook runs from, and tests can point it at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .assets import cache_dir

ARTIFACTS_ENV = "COURSE_ARTIFACTS"
REPO_ROOT = Path(__file__).resolve().parents[1]


def artifacts_root() -> Path:
    """Return ``$COURSE_ARTIFACTS``, else ``artifacts/`` on a mounted Drive or in the cache."""
    from .colab import drive_folder

    override = os.environ.get(ARTIFACTS_ENV)
    if override:
        return Path(override).expanduser()
    drive = drive_folder()
    return (drive if drive is not None else cache_dir()) / "artifacts"


def artifacts_dir(*parts: str) -> Path:
    """Return (and create) a folder for lesson outputs, optionally a named subfolder."""
    root = artifacts_root()
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def adapted_checkpoint_dir(model_name: str = "minilm") -> Path:
    """Return where lesson 02 saves, and lesson 05 looks for, the domain-adapted encoder."""
    safe = model_name.replace("/", "--")
    return artifacts_dir("checkpoints") / f"mlm-adapted-{safe}"


def missing_artifact_message(what: str, lesson: str, skipped: str) -> str:
    """Return what a lesson skips without an earlier lesson's artifact, and how to make it."""
    from .session import in_colab

    if in_colab():
        how = ("in Colab, mount Google Drive (from google.colab import drive; "
               f"drive.mount('/content/drive')), run lesson {lesson} there from the top, then "
               "mount Drive here too and run this cell again")
    else:
        how = (f"run lesson {lesson} first (`python -m course_utils run --only {lesson}` in the "
               "course's folder, or its notebook from the top), then run this cell again")
    return f"Not found: {what}. Skipped: {skipped}. To add it, {how}."


def size_on_disk(path: str | Path) -> int:
    """Return the bytes of a file, or of every file below a folder (what a saved model costs)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        raise FileNotFoundError(f"Nothing at {path}: save the model there first.")
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
