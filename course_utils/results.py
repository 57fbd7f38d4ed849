"""Share result tables between lessons, tied to the exact data split they were measured on.

Lesson 04 saves its rows (TF-IDF, frozen head, ...) and each approach's predicted label for
every test text; lesson 05 loads them to compare with fine-tuning in one table and, text by
text, with a paired test, but only when they come from the same test split (same texts, same
labels), so a table never mixes numbers from different data. The predictions are stored in the
split's own canonical order (the order ``split_signature`` reads it), so lesson 05 gets them back
in whatever row order its split has.

Example::

    >>> signature = split_signature(splits.test)                          # doctest: +SKIP
    >>> save_results("04_frozen_backbone_head", rows, signature,
    ...              test=splits.test, predictions={"TF-IDF": tfidf_pred})  # doctest: +SKIP
    >>> load_results("04_frozen_backbone_head", signature)                # doctest: +SKIP
    >>> load_predictions("04_frozen_backbone_head", splits.test)["TF-IDF"]  # doctest: +SKIP
    array([0, 1, 1, ...])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import artifacts_dir
from .atomic import write_text_atomically


def _keys(test: pd.DataFrame) -> list[str]:
    """Return one "label<TAB>text" line per row of a split, in its row order."""
    return [f"{label}\t{text}\n" for text, label in zip(test["text"], test["label_id"])]


def canonical_order(test: pd.DataFrame) -> np.ndarray:
    """Return the row positions of a split in the order ``split_signature`` reads it."""
    keys = _keys(test)
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=int)


def split_signature(test: pd.DataFrame) -> str:
    """Return a short hash of a split's texts and label ids, whatever their order."""
    digest = hashlib.sha256()
    for line in sorted(_keys(test)):
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()[:16]


def _results_file(name: str) -> Path:
    return artifacts_dir("results") / f"{name}.json"


def save_results(name: str, rows: list[dict[str, Any]], signature: str, *,
                 test: pd.DataFrame | None = None,
                 predictions: Mapping[str, Sequence[int]] | None = None) -> Path:
    """Save a lesson's result rows with the split signature they belong to (atomically).

    ``predictions`` (optional, with the ``test`` split they were made on): each approach's
    predicted label id per test text, in ``test``'s row order, for ``load_predictions``.
    """
    saved: dict[str, Any] = {"signature": signature, "rows": rows}
    if predictions is not None:
        if test is None:
            raise ValueError("Pass test= (the split the predictions were made on) with "
                             "predictions=, so they can be matched to its texts later.")
        if split_signature(test) != signature:
            raise ValueError("signature is not the signature of test=: pass "
                             "split_signature(test) for the split the predictions belong to.")
        order = canonical_order(test)
        saved["predictions"] = {}
        for approach, labels in predictions.items():
            labels = np.asarray(labels)
            if labels.shape != (len(test),):
                raise ValueError(f"{approach!r}: {labels.shape} predictions for {len(test)} test "
                                 "texts; pass one label id per text, in the split's row order.")
            saved["predictions"][approach] = [int(label) for label in labels[order]]
    return write_text_atomically(_results_file(name), json.dumps(saved, indent=2))


def _load(name: str) -> dict[str, Any] | None:
    path = _results_file(name)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def load_results(name: str, signature: str) -> list[dict[str, Any]] | None:
    """Return the rows saved under ``name`` for this split, or None if absent or from other data."""
    saved = _load(name)
    return saved["rows"] if saved and saved.get("signature") == signature else None


def load_predictions(name: str, test: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Return each saved approach's predictions in ``test``'s row order.

    None when nothing was saved under ``name``, when it came from another split, or when it was
    saved without predictions (an older run: run the saving lesson again).
    """
    saved = _load(name)
    if not saved or saved.get("signature") != split_signature(test) or "predictions" not in saved:
        return None
    order = canonical_order(test)
    found = {}
    for approach, labels in saved["predictions"].items():
        in_row_order = np.empty(len(test), dtype=int)
        in_row_order[order] = labels
        found[approach] = in_row_order
    return found
