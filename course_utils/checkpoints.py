"""Save models atomically: a folder is either the old checkpoint or the complete new one.

``save_pretrained_atomically`` writes into a temporary sibling folder and swaps it into
place only when every file is written (``atomic.atomic_folder``), so an interrupted save
(a full disk, a killed kernel) never leaves a half-written model where a later lesson
would load it.

Example::

    >>> save_pretrained_atomically("models/sentiment", model, tokenizer)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .atomic import atomic_folder


def save_pretrained_atomically(folder: str | Path, *objects: Any) -> Path:
    """Call ``save_pretrained`` of each object into ``folder``, atomically."""
    with atomic_folder(folder) as staging:
        for obj in objects:
            obj.save_pretrained(staging)
    return Path(folder)
