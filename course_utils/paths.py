"""Where the course keeps what lessons produce: checkpoints, feature caches, saved models.

``artifacts_dir()`` is ``$COURSE_ARTIFACTS`` or ``artifacts/`` inside the asset cache,
so lessons find each other's outputs (lesson 05 reuses lesson 02's adapted encoder)
wherever the notebook runs from, and tests can point it at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .assets import cache_dir

ARTIFACTS_ENV = "COURSE_ARTIFACTS"
REPO_ROOT = Path(__file__).resolve().parents[1]


def artifacts_dir(*parts: str) -> Path:
    """Return (and create) a folder for lesson outputs, optionally a named subfolder."""
    override = os.environ.get(ARTIFACTS_ENV)
    root = Path(override).expanduser() if override else cache_dir() / "artifacts"
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def adapted_checkpoint_dir(model_name: str = "minilm") -> Path:
    """Return where lesson 02 saves, and lesson 05 looks for, the domain-adapted encoder."""
    safe = model_name.replace("/", "--")
    return artifacts_dir("checkpoints") / f"mlm-adapted-{safe}"
