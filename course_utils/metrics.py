"""Judge classifiers: accuracy, the most confident mistakes, and one table of results.

Built on ``sklearn.metrics``. Label names always come from the data's ``id2label``.

Example::

    >>> accuracy([0, 1, 1], [0, 1, 0])                                       # doctest: +SKIP
    0.6667
    >>> accuracy_interval([0, 1] * 50, [0, 1] * 40 + [1, 0] * 10)           # doctest: +SKIP
    (0.7111..., 0.8666...)
    >>> compare(0.805, 0.795, n=1276)                                       # doctest: +SKIP
    'tie'
    >>> most_confident_mistakes(texts, y_true, probs, id2label, k=5)         # doctest: +SKIP
    >>> results_table([{"approach": "TF-IDF + logreg", "test_accuracy": 0.775}])   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Return the fraction of predictions equal to the true labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions: pass both "
                         "for the same texts.")
    return float(accuracy_score(y_true, y_pred))


def accuracy_interval(y_true: Sequence[int], y_pred: Sequence[int],
                      confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson confidence interval of the accuracy on these examples.

    A test split is a sample: with n examples the accuracy is uncertain by roughly
    ``1 / sqrt(n)``, so two runs whose intervals overlap widely are not told apart.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"{len(y_true)} true labels and {len(y_pred)} predictions: pass both, "
                         "for the same (at least one) texts.")
    interval = binomtest(int((y_true == y_pred).sum()), int(y_true.size)).proportion_ci(
        confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)



def wilson_interval(value: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson interval of an accuracy ``value`` measured on ``n`` examples."""
    found = binomtest(int(round(value * n)), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson")
    return float(found.low), float(found.high)


VERDICTS = ("better", "worse", "tie")


def compare(a: float, b: float, n: int, confidence: float = 0.95) -> str:
    """Return "better", "worse" or "tie": accuracy ``a`` against ``b``, each measured on n examples.

    A tie when either accuracy lies inside the other's Wilson interval: n examples cannot tell
    the two apart, and another seed or another sample of texts could swap them.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n is the number of examples each accuracy was measured on (an integer "
                         f">= 1), got {n!r}.")
    for name, value in (("a", a), ("b", b)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is an accuracy in [0, 1], got {value!r}: pass fractions, "
                             "not percentages.")

    a_low, a_high = wilson_interval(a, n, confidence)
    b_low, b_high = wilson_interval(b, n, confidence)
    if a_low <= b <= a_high or b_low <= a <= b_high:
        return "tie"
    return "better" if a > b else "worse"


def most_confident_mistakes(texts: Sequence[str], y_true: Sequence[int], probs: np.ndarray,
                            id2label: dict[int, str], k: int = 10) -> pd.DataFrame:
    """Return the ``k`` wrong predictions the model was surest of, with label names."""
    probs = np.asarray(probs)
    y_true = np.asarray(y_true)
    texts = list(texts)
    if probs.ndim != 2 or len(probs) != len(y_true) or len(texts) != len(y_true):
        raise ValueError(f"Expected probs of shape (n_texts, n_labels) for {len(texts)} texts "
                         f"and {len(y_true)} labels, got {probs.shape}.")
    if probs.shape[1] != len(id2label):
        raise ValueError(f"probs has {probs.shape[1]} columns but id2label names "
                         f"{len(id2label)} labels.")
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probs[wrong, predicted[wrong]]
    chosen = wrong[np.argsort(-confidence, kind="stable")[:k]]
    return pd.DataFrame({
        "text": [texts[i] for i in chosen],
        "true": [id2label[int(y_true[i])] for i in chosen],
        "predicted": [id2label[int(predicted[i])] for i in chosen],
        "confidence": probs[chosen, predicted[chosen]].round(3),
    })


def results_table(rows: Sequence[dict[str, Any]],
                  sort_by: str | None = "test_accuracy") -> pd.DataFrame:
    """Return result rows (one dict per approach) as a table, best first, indexed by approach."""
    table = pd.DataFrame(list(rows))
    if "approach" not in table.columns:
        raise ValueError("Each result row needs an 'approach' entry naming what was measured.")
    if sort_by and sort_by in table.columns:
        table = table.sort_values(sort_by, ascending=False, kind="stable")
    return table.set_index("approach")
