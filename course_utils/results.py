"""Share result tables between lessons, tied to the exact data split they were measured on.

Lesson 04 saves its rows (TF-IDF, frozen head, ...); lesson 05 loads them to compare
with fine-tuning in one table, but only when they come from the same test split
(same texts, same labels), so a table never mixes numbers from different data.

Example::

    >>> signature = split_signature(splits.test)                          # doctest: +SKIP
    >>> save_results("04_frozen_backbone_head", rows, signature)          # doctest: +SKIP
    >>> load_results("04_frozen_backbone_head", signature)                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .artifacts import artifacts_dir
from .atomic import write_text_atomically


def split_signature(test: pd.DataFrame) -> str:
    """Return a short hash of a split's texts and label ids, whatever their order."""
    digest = hashlib.sha256()
    for line in sorted(f"{label}\t{text}\n" for text, label in zip(test["text"], test["label_id"])):
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()[:16]


def _results_file(name: str) -> Path:
    return artifacts_dir("results") / f"{name}.json"


def save_results(name: str, rows: list[dict[str, Any]], signature: str) -> Path:
    """Save a lesson's result rows with the split signature they belong to (atomically)."""
    return write_text_atomically(_results_file(name),
                                 json.dumps({"signature": signature, "rows": rows}, indent=2))


def load_results(name: str, signature: str) -> list[dict[str, Any]] | None:
    """Return the rows saved under ``name`` for this split, or None if absent or from other data."""
    path = _results_file(name)
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return None
    return saved["rows"] if saved.get("signature") == signature else None
