r"""Learning from a few labels (lesson 08): the labelled budget, LoRA's targets, the learning curve.

``split_labelled`` draws N texts per class from a training split with a seed (the rest is the
"unlabelled" pool); a smaller budget drawn with the same seed is a subset of a larger one, so
the points of a learning curve add texts and never swap them. ``lora_targets`` names the
attention projections LoRA adapts in BERT, DistilBERT and most decoders, and ``new_modules``
the modules a checkpoint lacked (the new head, trained in full and saved with the adapter).
The learning curve over seeds and budgets is a seed sweep of the runner's grid, committed with
the package (``course_utils/seed_sweeps/08_few_labels.json``): ``load_learning_curve`` reads
it, and ``curve_rows``, ``curve_summary``, ``curve_verdicts`` and ``plot_learning_curve`` turn
it into a table, sentences and one plot. Making it (about 30 minutes on two quiet cores: two
points at a time, one thread each)::

    COURSE_THREADS=1 python -m course_utils run --only 08 --grid seed=0,1,2 \
        --grid labels_per_class=8,32,128,512 --workers 2 --publish 08_few_labels

Example::

    >>> labelled, unlabelled = split_labelled(splits.train, per_class=32, seed=0)  # doctest: +SKIP
    >>> lora_targets(model), new_modules(loading_info["missing_keys"])           # doctest: +SKIP
    (['query', 'value'], ['classifier'])
    >>> rows = curve_rows(load_learning_curve())                                  # doctest: +SKIP
    >>> curve_summary(rows).loc[(32, "lora")]                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import size_on_disk  # noqa: F401  (lesson 08 imports it from here)
from .seeds import SweepError, committed_sweep

LESSON = "08_few_labels"
METHODS = ("tfidf", "frozen", "finetune", "lora", "setfit")
METHOD_NAMES = {"tfidf": "TF-IDF + logistic regression",
                "frozen": "frozen encoder + logistic regression",
                "finetune": "full fine-tuning", "lora": "LoRA", "setfit": "SetFit"}
CURVE_SWEEP = "08_few_labels"                  # course_utils/seed_sweeps/08_few_labels.json
GRID_KEYS = ("seed", "labels_per_class")       # what the grid varies; every other setting is fixed
# The lesson's other parameters: it records them, and the curve is valid for these values only.
RUN_PARAMETERS = ("profile", "model_name", "data_path", "dataset", "text_column", "label_column",
                  "valid_per_class", "max_length", "batch_size", "max_steps", "early_stopping",
                  "lora_rank", "lora_alpha", "lora_learning_rate", "setfit_iterations",
                  "setfit_max_steps", "eval_batch_size")
# Attention projections LoRA usually adapts, by architecture: BERT, DistilBERT, most decoders.
PROJECTION_PAIRS = (("query", "value"), ("q_lin", "v_lin"), ("q_proj", "v_proj"))


# ---------------------------------------------------------------- the labelled budget
def draw_per_class(frame: pd.DataFrame, per_class: int, seed: int = 0,
                   label_column: str = "label_id") -> pd.DataFrame:
    """Return up to ``per_class`` rows of every class, drawn with ``seed``, in the frame's order.

    Each class is shuffled once (in the order of its label), and the first ``per_class`` rows of
    that shuffle are kept: with the same seed, a smaller budget is a subset of a larger one.
    A class with fewer rows gives all of them.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) \
            or per_class < 1:
        raise ValueError(f"per_class is the number of texts to draw from each class (an integer "
                         f">= 1), got {per_class!r}.")
    if label_column not in frame.columns or frame.empty:
        raise ValueError(f"Need a non-empty frame with a {label_column!r} column (the encoded "
                         "labels); got columns " + ", ".join(map(str, frame.columns)) + ".")
    rng = np.random.default_rng(seed)
    labels = frame[label_column].to_numpy()
    chosen: list[int] = []
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        chosen.extend(rows[rng.permutation(len(rows))[:per_class]].tolist())
    return frame.iloc[sorted(chosen)]


def split_labelled(train: pd.DataFrame, per_class: int, seed: int = 0,
                   label_column: str = "label_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (labelled, unlabelled): ``per_class`` texts per class, and the rest of ``train``."""
    labelled = draw_per_class(train, per_class, seed, label_column)
    unlabelled = train.drop(index=labelled.index)
    return labelled.reset_index(drop=True), unlabelled.reset_index(drop=True)


def shortfall(labelled: pd.DataFrame, per_class: int, id2label: dict[int, str],
              label_column: str = "label_id") -> dict[str, int]:
    """Return the classes that got fewer than ``per_class`` texts, with how many they got."""
    counts = labelled[label_column].value_counts()
    return {id2label[i]: int(counts.get(i, 0)) for i in sorted(id2label)
            if counts.get(i, 0) < per_class}


# ---------------------------------------------------------------- what LoRA adapts
def lora_targets(model) -> list[str]:
    """Return the names of the attention's query and value projections of ``model``."""
    from torch import nn

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
             if isinstance(module, nn.Linear)}
    for pair in PROJECTION_PAIRS:
        if set(pair) <= names:
            return list(pair)
    raise ValueError(f"No query/value projections named {PROJECTION_PAIRS} in "
                     f"{type(model).__name__}: print(model) and pass target_modules by hand.")


def new_modules(missing_keys: Iterable[str]) -> list[str]:
    """Return the modules whose weights the checkpoint lacked (the new head)."""
    return sorted({key.rsplit(".", 1)[0] for key in missing_keys if "." in key})


def format_bytes(n: int) -> str:
    """Return a size in bytes as "512 B", "3.1 kB", "87.3 MB"."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


# ---------------------------------------------------------------- the learning curve
def load_learning_curve(name: str = CURVE_SWEEP) -> dict[str, Any] | None:
    """Return the committed learning curve (the seed sweep ``name``), or None with a message.

    It ships with the package (``course_utils/seed_sweeps``), so Colab has it too; None only
    before its grid has ever been published (the command is in this module's docstring).
    """
    try:
        return committed_sweep(name)
    except SweepError as err:
        print(f"{err} Make it with the command in course_utils/few_labels.py.")
        return None


def curve_rows(curve: dict[str, Any]) -> pd.DataFrame:
    """Return one row per point and method: labels_per_class, seed, method, accuracy, tie."""
    rows = []
    for point in curve["points"]:
        if point["status"] != "ok" or point.get("notebook", LESSON) != LESSON:
            continue
        accuracies = point["metrics"].get("accuracy", {})
        tied = point["metrics"].get("tied_with_best", {})
        for method in METHODS:
            if method in accuracies:
                rows.append({"labels_per_class": point["parameters"]["labels_per_class"],
                             "seed": point["parameters"]["seed"], "method": method,
                             "accuracy": accuracies[method],
                             "tied_with_best": bool(tied.get(method, False))})
    if not rows:
        raise ValueError("The learning curve has no finished point with accuracies.")
    return pd.DataFrame(rows)


def curve_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Return per budget and method: seeds, mean, min, max, and seeds it was best or tied."""
    summary = rows.groupby(["labels_per_class", "method"], sort=True).agg(
        seeds=("seed", "nunique"), mean=("accuracy", "mean"), min=("accuracy", "min"),
        max=("accuracy", "max"), best_or_tied=("tied_with_best", "sum"))
    summary["best_or_tied"] = summary["best_or_tied"].astype(int)
    order = {method: i for i, method in enumerate(METHODS)}
    return summary.sort_index(key=lambda level: level.map(order) if level.name == "method"
                              else level)


def _names(methods: Sequence[str]) -> str:
    names = [METHOD_NAMES[m] for m in methods]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def curve_verdicts(summary: pd.DataFrame) -> list[str]:
    """Return one sentence per budget: who leads on average, and who cannot be told from it.

    A method "cannot be told from the best" at a budget when, in every seed, the paired test
    found no difference between it and that seed's best method (or it was the best).
    """
    sentences = []
    for budget, part in summary.groupby(level="labels_per_class"):
        part = part.droplevel("labels_per_class")
        leader = part["mean"].idxmax()
        every_seed = part[part["best_or_tied"] == part["seeds"]].index.tolist()
        others = [m for m in every_seed if m != leader]
        seeds = int(part["seeds"].max())
        line = (f"{budget} labels per class: {METHOD_NAMES[leader]} leads on average "
                f"({part.loc[leader, 'mean']:.3f}, seeds {part.loc[leader, 'min']:.3f} to "
                f"{part.loc[leader, 'max']:.3f})")
        if leader not in every_seed:
            line += (f", but in some of the {seeds} seeds another method was better beyond the "
                     "noise")
        if others:
            line += f"; {_names(others)} cannot be told from the best in any of the {seeds} seeds"
        else:
            line += "; every other method was behind beyond the noise in at least one seed"
        sentences.append(line + ".")
    return sentences


def curve_spread(summary: pd.DataFrame) -> dict[str, Any]:
    """Return the seeds' spread (max - min, in accuracy points): its median and its largest."""
    spread = 100 * (summary["max"] - summary["min"])
    budget, method = spread.idxmax()
    return {"median": float(spread.median()), "largest": float(spread.max()),
            "where": f"{METHOD_NAMES[method]} at {budget} labels per class"}


def plot_learning_curve(rows: pd.DataFrame, ax=None, title: str = "accuracy against labels"):
    """Plot each method's mean accuracy against labels per class, each seed as a dot."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    budgets = sorted(rows["labels_per_class"].unique())
    for i, method in enumerate(m for m in METHODS if m in set(rows["method"])):
        part = rows[rows["method"] == method]
        means = part.groupby("labels_per_class")["accuracy"].mean().reindex(budgets)
        color = f"C{i}"
        ax.plot(budgets, means.to_numpy(), marker="o", color=color, label=METHOD_NAMES[method])
        jitter = 1 + 0.04 * (i - 2)         # side by side, so the dots of methods do not hide
        ax.scatter(part["labels_per_class"] * jitter, part["accuracy"], color=color, s=12,
                   alpha=0.5)
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set(xlabel="labelled texts per class (log scale)", ylabel="test accuracy", title=title)
    ax.legend(fontsize="small")
    return ax
