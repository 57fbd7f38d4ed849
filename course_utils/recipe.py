"""The training recipe derived from the data: epochs, evaluation, ``max_length``, rare classes.

Lesson 05 fine-tunes with it and lesson 04 trains its head with it, so the two lessons compare
fairly on any CSV. A setting the learner leaves at 0 is derived; one they set is kept, and
``Recipe.reasons`` says where each value came from. The rules are general, not tuned to one
corpus: a fine-tune needs a minimum number of optimizer steps (small data gets more epochs,
which is cheap), validation runs twice an epoch with the best weights kept and a stop once it
stops improving, ``max_length`` covers 99% of the training texts up to the profile's ceiling
(128 tokens offline, which keeps a 2-core CPU fast; 512 full), a class with under 5% of the
training texts is flagged and (``class_weights="auto"``) weighted in the loss, and batches are
grouped by length unless length alone predicts the label (then a length-grouped batch would be
nearly one class, so batches are drawn at random). ``learning_rate_check`` reads short trial runs.

Example::

    >>> recipe = derive_recipe([12, 30, 18] * 100, [0, 1, 1] * 100, batch_size=16,
    ...                        base_epochs=1.5, learning_rate=1e-4, max_length_ceiling=128)
    >>> recipe.epochs, recipe.max_length, recipe.eval_every_steps
    (16, 32, 10)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

MIN_STEPS = 300           # optimizer steps a full fine-tune gets at least
MAX_EPOCHS = 20           # small data: more epochs, but never more than this
EVALS_PER_EPOCH = 2       # validation twice an epoch
PATIENCE = 3              # evaluations without a better validation accuracy before stopping
LENGTH_PERCENTILE = 99    # max_length covers this share of the training texts
MIN_MAX_LENGTH = 32
RARE_SHARE = 0.05         # a class with fewer training texts than this share is rare
HEAD_MIN_STEPS = 300      # lesson 04's head: the same rule, on cached features
HEAD_MAX_EPOCHS = 300
LENGTH_ALPHA = 0.05       # length "predicts the label" when McNemar's p is below this
LENGTH_FOLDS = 5          # cross-validation folds of the length-only classifier
DIVERGE_RISE = 0.10       # a trial run diverges when its loss ends > 10% above its start
STALL_DROP = 0.02         # ... stalls when it falls by less than 2%
FALL_DROP = 0.10          # ... and a neighbour "falls" when its loss drops by more than 10%


@dataclass(frozen=True)
class Recipe:
    """The settings of one training run, and why each was chosen."""

    epochs: float
    learning_rate: float
    max_length: int
    steps_per_epoch: int
    total_steps: int
    eval_every_steps: int
    patience: int
    rare_classes: tuple[int, ...] = ()
    reasons: tuple[str, ...] = field(default=(), compare=False)
    batching: Literal["length-grouped", "random"] = "length-grouped"
    class_weights: tuple[float, ...] | None = None     # per class, for the loss; None: unweighted

    def explain(self) -> str:
        """Return the reasons, one per line."""
        return "\n".join(f"- {reason}" for reason in self.reasons)


@dataclass(frozen=True)
class LengthCheck:
    """How well token length alone predicts the label, against the majority class."""

    length_accuracy: float
    majority_accuracy: float
    p_value: float
    predicts: bool

    @property
    def batching(self) -> Literal["length-grouped", "random"]:
        """Return "random" when length predicts the label, else "length-grouped"."""
        return "random" if self.predicts else "length-grouped"

    def explain(self) -> str:
        """Return the accuracies, McNemar's p and why batches are drawn as they are."""
        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        if self.predicts:
            return (f"batching random: length alone classifies {self.length_accuracy:.0%} of the "
                    f"training texts (majority class {self.majority_accuracy:.0%}, McNemar {p}), "
                    "so length-grouped batches would each lean towards one class; batches are "
                    "drawn at random")
        return (f"batching length-grouped: length alone classifies {self.length_accuracy:.0%} of "
                f"the training texts, not beyond the noise of the majority class "
                f"({self.majority_accuracy:.0%}, McNemar {p}), so grouping texts of similar "
                "length still mixes the classes, and it saves padding")


def suggested_max_length(lengths: Sequence[int], ceiling: int,
                         percentile: float = LENGTH_PERCENTILE) -> int:
    """Return the next power of two above the ``percentile`` of ``lengths`` (tokens per text).

    Never below 32 and never above ``ceiling`` (the model's limit, or the profile's if lower).
    """
    if len(lengths) == 0:
        raise ValueError("No training texts to measure: the training split is empty.")
    longest_kept = float(np.percentile(np.asarray(lengths), percentile))
    power = 2 ** math.ceil(math.log2(max(longest_kept, 1.0)))
    return int(min(max(power, MIN_MAX_LENGTH), ceiling))


def rare_classes(label_ids: Sequence[int], num_labels: int,
                 share: float = RARE_SHARE) -> tuple[int, ...]:
    """Return the ids of the classes with fewer than ``share`` of the training texts."""
    counts = np.bincount(np.asarray(label_ids, dtype=int), minlength=num_labels)
    return tuple(int(i) for i in np.flatnonzero(counts < share * counts.sum()))


def length_predicts_label(train_lengths: Sequence[int], train_label_ids: Sequence[int],
                          num_labels: int, *, seed: int = 0,
                          alpha: float = LENGTH_ALPHA) -> LengthCheck:
    """Return whether a depth-2 tree on length alone beats the majority class beyond the noise.

    The tree is scored by stratified cross-validation; both rules are compared on the same texts
    with McNemar's exact test (two-sided binomial test on the texts where exactly one is right).

    >>> length_predicts_label([10] * 50 + [90] * 50, [0] * 50 + [1] * 50, 2).batching
    'random'
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier

    from .metrics import mcnemar_verdict

    lengths = np.asarray(train_lengths, dtype=float)
    labels = _checked_label_ids(train_label_ids, num_labels)
    if lengths.ndim != 1 or len(lengths) != len(labels):
        raise ValueError(f"Got {lengths.size} lengths for {len(labels)} labels: pass one token "
                         "count per training text, in the same order as the labels.")
    if len(labels) < 2 or not np.all(np.isfinite(lengths)) or np.any(lengths < 0):
        raise ValueError("Need at least 2 training texts with finite, non-negative token counts "
                         "(untruncated tokenizer lengths).")
    counts = np.bincount(labels, minlength=num_labels)
    folds = max(2, min(LENGTH_FOLDS, int(counts[counts > 0].min())))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    tree = DecisionTreeClassifier(max_depth=2, random_state=seed)
    with warnings.catch_warnings():    # a class with fewer texts than folds: sklearn warns only
        warnings.simplefilter("ignore", UserWarning)
        by_length = cross_val_predict(tree, lengths[:, None], labels, cv=splitter)
    length_right = by_length == labels
    majority_right = labels == int(np.argmax(counts))
    verdict, p_value = mcnemar_verdict(int(np.sum(length_right & ~majority_right)),
                                       int(np.sum(~length_right & majority_right)), 1 - alpha)
    return LengthCheck(length_accuracy=float(length_right.mean()),
                       majority_accuracy=float(majority_right.mean()), p_value=p_value,
                       predicts=verdict == "better")


def _checked_label_ids(label_ids: Sequence[int], num_labels: int) -> np.ndarray:
    """Return ``label_ids`` as an int array, or raise if one falls outside 0..num_labels-1."""
    labels = np.asarray(label_ids)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError("No training labels: pass one label id per training text.")
    integers = np.issubdtype(labels.dtype, np.integer)
    if not integers or labels.min() < 0 or labels.max() >= num_labels:
        found = [int(labels.min()), int(labels.max())] if integers else labels[:3].tolist()
        raise ValueError(f"Label ids must be integers in 0..{num_labels - 1} (num_labels="
                         f"{num_labels}), got {found}: encode the labels first (the label_id "
                         "column), or pass the right num_labels.")
    return labels.astype(int)


def derive_epochs(n_train: int, batch_size: int, base_epochs: float,
                  min_steps: int = MIN_STEPS, max_epochs: int = MAX_EPOCHS) -> tuple[float, str]:
    """Return the epochs that give at least ``min_steps`` optimizer steps, and why."""
    if n_train < 1 or batch_size < 1:
        raise ValueError(f"Need at least one training text and a batch size >= 1, got "
                         f"{n_train} texts and batch_size={batch_size}.")
    steps_per_epoch = math.ceil(n_train / batch_size)
    if base_epochs * steps_per_epoch >= min_steps:
        return base_epochs, (f"epochs {base_epochs:g}: the profile's choice already gives "
                             f"{math.ceil(base_epochs * steps_per_epoch)} optimizer steps "
                             f"(at least {min_steps} needed)")
    epochs = min(max_epochs, math.ceil(min_steps / steps_per_epoch))
    return epochs, (f"epochs {epochs}: {n_train} training texts make only {steps_per_epoch} "
                    f"steps per epoch, so {base_epochs:g} epoch{'' if base_epochs == 1 else 's'} "
                    "would be "
                    f"{math.ceil(base_epochs * steps_per_epoch)} steps; at least {min_steps} "
                    f"are needed (capped at {max_epochs} epochs), and early stopping ends "
                    "the run sooner once validation stops improving")


def derive_recipe(train_lengths: Sequence[int], train_label_ids: Sequence[int], *, batch_size: int,
                  base_epochs: float, learning_rate: float, max_length_ceiling: int,
                  epochs: float = 0, max_length: int = 0, num_labels: int | None = None,
                  learning_rate_source: str = "the profile's choice",
                  id2label: Mapping[int, str] | None = None,
                  class_weights: bool | str = "auto", seed: int = 0) -> Recipe:
    """Return the recipe for this training split; settings given (non-zero) are kept as they are.

    ``train_lengths``: tokens per training text, untruncated; ``base_epochs`` and
    ``learning_rate``: the profile's; ``max_length_ceiling``: the smaller of the model's position
    limit and the profile's ``max_length`` (a CPU profile keeps it low); ``id2label`` names the
    rare classes in the reasons; ``class_weights``: "auto", True or False (see
    ``derive_class_weights``); ``seed``: the folds of the length check (``length_predicts_label``).
    """
    n_train = len(train_lengths)
    reasons = []
    if epochs:
        reasons.append(f"epochs {epochs:g}: your setting (0 derives it from the data)")
    else:
        epochs, reason = derive_epochs(n_train, batch_size, base_epochs)
        reasons.append(reason)
    if max_length:
        reasons.append(f"max_length {max_length}: your setting (0 derives it from the lengths)")
    else:
        max_length = suggested_max_length(train_lengths, max_length_ceiling)
        reasons.append(f"max_length {max_length}: the next power of two above the "
                       f"{LENGTH_PERCENTILE}th percentile of the training texts' lengths "
                       f"({np.percentile(train_lengths, LENGTH_PERCENTILE):.0f} tokens), within "
                       f"[{MIN_MAX_LENGTH}, {max_length_ceiling}] (the model's limit and the "
                       "profile's ceiling)")
    reasons.append(f"learning rate {learning_rate:g}: {learning_rate_source}")
    steps_per_epoch = math.ceil(n_train / batch_size)
    total_steps = math.ceil(steps_per_epoch * epochs)
    eval_every = max(1, math.ceil(steps_per_epoch / EVALS_PER_EPOCH))
    reasons.append(f"validation every {eval_every} steps ({EVALS_PER_EPOCH} per epoch); the best "
                   f"weights are kept, and training stops after {PATIENCE} evaluations without "
                   "a better validation accuracy")
    num_labels = num_labels or int(max(train_label_ids)) + 1
    length_check = length_predicts_label(train_lengths, train_label_ids, num_labels, seed=seed)
    reasons.append(length_check.explain())
    rare = rare_classes(train_label_ids, num_labels)
    if rare:
        reasons.append(f"rare classes (under {RARE_SHARE:.0%} of the training texts): "
                       f"{_class_names(rare, id2label)}; watch their recall")
    weights, reason = derive_class_weights(train_label_ids, num_labels, class_weights,
                                           id2label=id2label)
    reasons.append(reason)
    return Recipe(epochs=epochs, learning_rate=learning_rate, max_length=int(max_length),
                  steps_per_epoch=steps_per_epoch, total_steps=total_steps,
                  eval_every_steps=eval_every, patience=PATIENCE, rare_classes=rare,
                  reasons=tuple(reasons), batching=length_check.batching,
                  class_weights=None if weights is None else tuple(float(w) for w in weights))


def _class_names(ids: Sequence[int], id2label: Mapping[int, str] | None) -> list:
    """Return the classes' names when ``id2label`` is given, else their ids."""
    return [id2label[i] if id2label else i for i in ids]


def derive_head_epochs(n_train: int, batch_size: int, base_epochs: int) -> tuple[int, str]:
    """Return the epochs of a head on cached features: the same minimum-steps rule, and why."""
    epochs, reason = derive_epochs(n_train, batch_size, base_epochs, min_steps=HEAD_MIN_STEPS,
                                   max_epochs=HEAD_MAX_EPOCHS)
    return int(math.ceil(epochs)), reason


def balanced_class_weights(label_ids: Sequence[int], num_labels: int) -> np.ndarray:
    """Return n / (K * count) per class (sklearn's "balanced" weights) for the loss."""
    from sklearn.utils.class_weight import compute_class_weight

    ids = np.asarray(label_ids, dtype=int)
    present = np.unique(ids)
    if len(present) < num_labels:
        missing = sorted(set(range(num_labels)) - set(present.tolist()))
        raise ValueError(f"Classes {missing} have no training text, so they cannot be weighted: "
                         "give every class some training texts.")
    return compute_class_weight("balanced", classes=np.arange(num_labels), y=ids)


def derive_class_weights(label_ids: Sequence[int], num_labels: int, setting: bool | str = "auto",
                         *, id2label: Mapping[int, str] | None = None,
                         ) -> tuple[np.ndarray | None, str]:
    """Return the loss's class weights (None: unweighted) for ``setting``, and why.

    "auto" weighs the classes ("balanced") only when one is rare; True and False force it.

    >>> derive_class_weights([0] * 97 + [1] * 3, 2)[0].round(2)
    array([ 0.52, 16.67])
    """
    auto = isinstance(setting, str) and setting == "auto"
    if not auto and not isinstance(setting, bool | np.bool_):
        raise ValueError(f"class_weights must be \"auto\", True or False, got {setting!r}: "
                         "\"auto\" weighs the loss only when a class is rare.")
    labels = _checked_label_ids(label_ids, num_labels)
    rare = rare_classes(labels, num_labels)
    empty = np.flatnonzero(np.bincount(labels, minlength=num_labels) == 0).tolist()
    if auto and not rare:
        return None, (f"no class weights (auto): every class has at least {RARE_SHARE:.0%} of "
                      "the training texts")
    if auto and empty:
        return None, (f"no class weights (auto): classes {_class_names(empty, id2label)} have no "
                      "training text, so they cannot be weighted")
    if not auto and not setting:
        names = _class_names(rare, id2label)
        watch = f" (rare classes {names}: watch their recall)" if rare else ""
        return None, f"no class weights: your setting{watch}"
    weights = balanced_class_weights(labels, num_labels)
    names = _class_names(range(num_labels), id2label)
    shown = {name: round(float(w), 2) for name, w in zip(names, weights, strict=True)}
    why = (f"auto: classes {_class_names(rare, id2label)} have under {RARE_SHARE:.0%} of the "
           "training texts" if auto else "your setting")
    return weights, (f"class weights {shown} ({why}): each text's loss is multiplied by "
                     "n / (K x count) of its class, so every class weighs the same in total")


def likely_causes(recipe: Recipe, *, steps_done: int, stopped_early: bool, best_at_last_eval: bool,
                  truncated_share: float, rare_recalls: dict[str, float]) -> list[str]:
    """Return the causes this run can see for a fine-tune that does not beat a frozen encoder."""
    causes = []
    if recipe.total_steps < MIN_STEPS:
        causes.append(f"too few optimizer steps: {recipe.total_steps} planned, under the "
                      f"{MIN_STEPS} the recipe asks for (set epochs = 0, or raise it)")
    elif steps_done < recipe.total_steps and not stopped_early:
        causes.append(f"training ended after {steps_done} of {recipe.total_steps} steps")
    if best_at_last_eval and not stopped_early:
        causes.append("validation accuracy was still rising at the last evaluation: more epochs "
                      "would probably help")
    if truncated_share > 0.5:
        causes.append(f"truncation cuts {truncated_share:.0%} of the training texts at max_length "
                      f"{recipe.max_length}: the end of most texts is never read")
    for name, recall in rare_recalls.items():
        if recall < 0.5:
            causes.append(f"the rare class {name!r} has a test recall of {recall:.0%}: try "
                          "class_weights = True")
    return causes


def learning_rate_check(losses_by_rate: Mapping[float, Sequence[float]],
                        base_rate: float) -> tuple[float, str]:
    """Return the learning rate to train with, read from short trial runs' losses, and why.

    The base rate is kept unless its run diverges (a non-finite loss, or a last-quarter mean
    more than 10% above the first quarter's), when the lower stable rate whose loss falls most is
    taken, or stalls (falls by under 2%) while another rate's loss falls by more than 10%.

    >>> learning_rate_check({1e-4: [1.0, 0.9, 0.8, 0.7], 3e-4: [1.0, 1.2, 1.5, 2.0]}, 3e-4)[0]
    0.0001
    """
    if base_rate not in losses_by_rate:
        raise ValueError(f"No trial run at the base rate {base_rate:g} (runs at "
                         f"{sorted(losses_by_rate)}): train a few dozen steps at it too.")
    changes = {}
    for rate, losses in losses_by_rate.items():
        if not rate > 0 or len(losses) < 4:
            raise ValueError(f"Rate {rate:g} has {len(losses)} losses: each rate must be "
                             "positive, with at least 4 losses (a few dozen steps is best).")
        changes[rate] = _loss_change(losses)

    def describe(rate: float) -> str:
        losses, change = losses_by_rate[rate], changes[rate]
        if not math.isfinite(change):
            return f"at {rate:g} the loss became non-finite within {len(losses)} steps"
        start, end = _quarter_means(losses)
        return (f"at {rate:g} the loss went from {start:.3g} to {end:.3g} over {len(losses)} "
                f"steps ({change:+.0%})")

    base_change = changes[base_rate]
    diverges = not math.isfinite(base_change) or base_change > DIVERGE_RISE
    stalls = not diverges and base_change > -STALL_DROP
    candidates = [rate for rate, change in changes.items() if rate != base_rate
                  and math.isfinite(change) and change <= (DIVERGE_RISE if diverges else -FALL_DROP)
                  and (rate < base_rate or not diverges)]
    if not (diverges or stalls):
        return base_rate, f"learning rate {base_rate:g} kept: {describe(base_rate)}"
    problem = (f"diverges (rises more than {DIVERGE_RISE:.0%})" if diverges
               else f"stalls (falls less than {STALL_DROP:.0%})")
    if not candidates:
        fix = ("try rates 3 and 10 times lower" if diverges
               else "no other rate tried falls by more than 10%, so the data or labels may be "
                    "the problem rather than the rate")
        return base_rate, (f"learning rate {base_rate:g} kept, but it {problem}: "
                           f"{describe(base_rate)}; {fix}")
    chosen = min(candidates, key=lambda rate: (changes[rate], abs(math.log(rate / base_rate))))
    return chosen, (f"learning rate {chosen:g} instead of {base_rate:g}, which {problem}: "
                    f"{describe(base_rate)}, while {describe(chosen)}")


def _quarter_means(losses: Sequence[float]) -> tuple[float, float]:
    """Return the mean loss of the first and of the last quarter of a run."""
    values = np.asarray(losses, dtype=float)
    quarter = max(1, len(values) // 4)
    return float(values[:quarter].mean()), float(values[-quarter:].mean())


def _loss_change(losses: Sequence[float]) -> float:
    """Return the relative change from the first quarter's mean loss to the last's (nan: inf)."""
    if not np.all(np.isfinite(np.asarray(losses, dtype=float))):
        return math.nan
    start, end = _quarter_means(losses)
    return (end - start) / max(abs(start), 1e-12)
