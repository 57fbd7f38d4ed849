"""Judge classifiers: accuracy, paired comparisons, the most confident mistakes, one table.

Two models scored on the same texts are compared with ``paired_comparison`` (McNemar's exact
test and a paired bootstrap), never by overlapping two separate intervals. Built on
``sklearn.metrics`` and ``scipy.stats``. Label names always come from the data's ``id2label``.

Example::

    >>> accuracy([0, 1, 1], [0, 1, 0])                                       # doctest: +SKIP
    0.6667
    >>> accuracy_interval([0, 1] * 50, [0, 1] * 40 + [1, 0] * 10)           # doctest: +SKIP
    (0.7111..., 0.8666...)
    >>> paired = paired_comparison(y_true, pred_finetuned, pred_tfidf)      # doctest: +SKIP
    >>> paired.verdict, paired.p_value                                        # doctest: +SKIP
    ('better', 0.0004...)
    >>> print(paired.sentence("fine-tuned", "TF-IDF"))                      # doctest: +SKIP
    fine-tuned 0.817 vs TF-IDF 0.785 on 2,551 texts: fine-tuned is better (McNemar p = 0.0004; ...
    >>> agreement(pred_int8, pred_fp32).at_least(0.99)                      # doctest: +SKIP
    True
    >>> mcnemar_verdict(only_a_right=253, only_b_right=171)                # doctest: +SKIP
    ('better', 7.9...e-05)
    >>> most_confident_mistakes(texts, y_true, probs, id2label, k=5)         # doctest: +SKIP
    >>> results_table([{"approach": "TF-IDF + logreg", "test_accuracy": 0.775}])   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PairedComparison:
    """Model A against model B on the same texts; build it with ``paired_comparison``."""

    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float                 # accuracy_a - accuracy_b
    interval: tuple[float, float]     # paired bootstrap interval of the difference
    only_a_right: int                 # texts A gets right and B wrong
    only_b_right: int
    p_value: float                    # McNemar's exact test on the discordant texts
    verdict: str                      # "better", "worse" or "tie" (A against B)
    confidence: float = 0.95

    def sentence(self, name_a: str = "A", name_b: str = "B", unit: str = "texts") -> str:
        """Return a one-line verdict with the numbers behind it (``unit``: what was scored)."""
        claim = {"better": f"{name_a} is better", "worse": f"{name_a} is worse than {name_b}",
                 "tie": "no real difference"}[self.verdict]
        low, high = self.interval
        return (f"{name_a} {self.accuracy_a:.3f} vs {name_b} {self.accuracy_b:.3f} on "
                f"{self.n:,} {unit}: {claim} (McNemar {_format_p(self.p_value)}; difference "
                f"{_points(self.difference)} points, {self.confidence:.0%} paired interval "
                f"{_points(low)} to {_points(high)}). {self.only_a_right:,} {unit} only "
                f"{name_a} gets right, {self.only_b_right:,} only {name_b}.")


def _points(fraction: float) -> str:
    """Return a difference of accuracies in signed percentage points ("+3.2")."""
    return f"{100 * fraction:+.1f}"


def _format_p(p: float) -> str:
    """Return "p = ..." with as many decimals as a small p needs."""
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.4f}" if p < 0.01 else f"p = {p:.2f}"


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence is a fraction in (0, 1) such as 0.95, got {confidence!r}.")


def _label_arrays(**named: Sequence[Any]) -> list[np.ndarray]:
    """Return the named predictions as 1-D arrays of one length, or say what to pass."""
    arrays = {name: np.asarray(values) for name, values in named.items()}
    for name, values in arrays.items():
        if values.ndim != 1:
            raise ValueError(f"{name} has shape {values.shape}: pass one predicted label per "
                             "text (for probabilities, probs.argmax(axis=1)).")
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        given = ", ".join(f"{length} {name}" for name, length in lengths.items())
        raise ValueError(f"Got {given}: pass one label per text for the same (at least one) "
                         "texts, in the same order.")
    return list(arrays.values())


def mcnemar_verdict(only_a_right: int, only_b_right: int,
                    confidence: float = 0.95) -> tuple[str, float]:
    """Return (verdict, p) for A against B from the texts only one of them gets right.

    McNemar's exact test: under "no difference" each such text is equally likely to favour A or
    B. The verdict is "better" or "worse" (A against B) when p < 1 - confidence, else "tie".
    """
    _check_confidence(confidence)
    discordant = only_a_right + only_b_right
    p_value = float(binomtest(only_a_right, discordant, 0.5).pvalue) if discordant else 1.0
    if p_value >= 1.0 - confidence:
        return "tie", p_value
    return ("better" if only_a_right > only_b_right else "worse"), p_value


def paired_comparison(y_true: Sequence[Any], pred_a: Sequence[Any], pred_b: Sequence[Any], *,
                      confidence: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> PairedComparison:
    """Return model A against model B, both scored on the same texts.

    McNemar's exact test decides the verdict: only the texts where exactly one model is right
    carry information, and under "no difference" each is equally likely to favour A or B. The
    interval resamples the texts (the same ones for both models) ``n_boot`` times.
    """
    _check_confidence(confidence)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot is the number of bootstrap resamples (an integer >= 1, "
                         f"2000 is plenty), got {n_boot!r}.")
    y_true, pred_a, pred_b = _label_arrays(y_true=y_true, pred_a=pred_a, pred_b=pred_b)
    right_a, right_b = pred_a == y_true, pred_b == y_true
    n = int(y_true.size)
    only_a_right = int((right_a & ~right_b).sum())
    only_b_right = int((right_b & ~right_a).sum())
    verdict, p_value = mcnemar_verdict(only_a_right, only_b_right, confidence)
    difference = (only_a_right - only_b_right) / n

    per_text = right_a.astype(np.int8) - right_b.astype(np.int8)
    rng = np.random.default_rng(seed)
    rows = max(1, 4_000_000 // n)             # resample in chunks of about 4M indices
    resampled = np.concatenate([
        per_text[rng.integers(0, n, size=(min(rows, n_boot - start), n))].mean(axis=1)
        for start in range(0, n_boot, rows)])
    alpha = 1.0 - confidence
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    return PairedComparison(
        n=n, accuracy_a=float(right_a.mean()), accuracy_b=float(right_b.mean()),
        difference=float(difference), interval=(float(low), float(high)),
        only_a_right=only_a_right, only_b_right=only_b_right, p_value=p_value,
        verdict=verdict, confidence=confidence)


@dataclass(frozen=True)
class Agreement:
    """How often two models give the same label; build it with ``agreement``."""

    n: int
    agreed: int
    rate: float
    interval: tuple[float, float]     # Wilson interval of the rate

    def at_least(self, threshold: float) -> bool:
        """Return whether the interval's lower bound reaches ``threshold`` (not just the rate)."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a rate in [0, 1] such as 0.99, got {threshold!r}: "
                             "pass fractions, not percentages.")
        return self.interval[0] >= threshold


def agreement(pred_a: Sequence[Any], pred_b: Sequence[Any], *,
              confidence: float = 0.95) -> Agreement:
    """Return the share of texts where two models predict the same label, with its interval."""
    _check_confidence(confidence)
    pred_a, pred_b = _label_arrays(pred_a=pred_a, pred_b=pred_b)
    n, agreed = int(pred_a.size), int((pred_a == pred_b).sum())
    found = binomtest(agreed, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Agreement(n=n, agreed=agreed, rate=agreed / n,
                     interval=(float(found.low), float(found.high)))


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
