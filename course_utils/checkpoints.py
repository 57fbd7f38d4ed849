"""Save models atomically: a folder is either the old checkpoint or the complete new one.

``save_pretrained_atomically`` writes into a temporary sibling folder and swaps it into
place only when every file is written, so an interrupted save (a full disk, a killed
kernel) never leaves a half-written model where a later lesson would load it.

Example::

    >>> save_pretrained_atomically("models/sentiment", model, tokenizer)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def save_pretrained_atomically(folder: str | Path, *objects: Any) -> Path:
    """Call ``save_pretrained`` of each object (model, tokenizer, ...) into ``folder`` atomically."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder: choose another path.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.saving-"))
    try:
        for obj in objects:
            obj.save_pretrained(staging)
        os.chmod(staging, 0o755)
        if folder.exists():
            trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
            os.replace(folder, trash / folder.name)
            os.replace(staging, folder)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
