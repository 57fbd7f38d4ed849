"""Plots the lessons share: learning curves, confusion matrices, length histograms.

Every function draws on a new (or given) matplotlib axes and returns it, so a lesson
can add a title or a line without knowing how the plot was built.

Example::

    >>> plot_curves({"train loss": [0.9, 0.5, 0.4]}, xlabel="epoch")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay


def _axes(ax=None, figsize=(6, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_curves(curves: dict[str, Sequence[float]], xlabel: str = "step", ylabel: str = "",
                title: str = "", x: Sequence[float] | None = None, ax=None):
    """Plot one line per named series (loss, accuracy, ...) against a shared x axis."""
    ax = _axes(ax)
    for name, values in curves.items():
        xs = x if x is not None else np.arange(1, len(values) + 1)
        ax.plot(xs[: len(values)], values, marker="o" if len(values) < 30 else None, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    return ax


def plot_confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                          id2label: dict[int, str], title: str = "", ax=None):
    """Plot the confusion matrix with label names on both axes."""
    ax = _axes(ax, figsize=(4, 4))
    ids = sorted(id2label)
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=ids, display_labels=[id2label[i] for i in ids],
        cmap="Blues", colorbar=False, ax=ax)
    ax.set_title(title)
    return ax


def plot_length_histogram(lengths: Sequence[int], marks: dict[str, float] | None = None,
                          xlabel: str = "tokens per text", bins: int = 50, ax=None):
    """Plot a histogram of sequence lengths with optional vertical marks (e.g. a max_length)."""
    ax = _axes(ax)
    ax.hist(lengths, bins=bins, color="tab:blue", alpha=0.8)
    for name, value in (marks or {}).items():
        ax.axvline(value, color="tab:red", linestyle="--")
        ax.annotate(name, (value, ax.get_ylim()[1] * 0.9), rotation=90, ha="right", fontsize=8)
    ax.set(xlabel=xlabel, ylabel="texts")
    return ax


def plot_class_balance(counts: dict[str, int], title: str = "examples per class", ax=None):
    """Plot a bar per class with its count written on it."""
    ax = _axes(ax, figsize=(5, 3))
    names, values = list(counts), list(counts.values())
    bars = ax.bar(names, values, color="tab:blue")
    ax.bar_label(bars)
    ax.set(title=title, ylabel="rows")
    return ax
