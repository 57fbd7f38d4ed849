"""The training recipe derived from the data: epochs, evaluation, ``max_length``, rare classes.

Lesson 05 fine-tunes with it and lesson 04 trains its head with it, so the two lessons compare
fairly on any CSV. A setting the learner leaves at 0 is derived; one they set is kept, and
``Recipe.reasons`` says where each value came from. The rules are general, not tuned to one
corpus: a fine-tune needs a minimum number of optimizer steps (small data gets more epochs,
which is cheap), validation runs twice an epoch with the best weights kept and a stop once it
stops improving, ``max_length`` covers 99% of the training texts up to the profile's ceiling
(128 tokens offline, which keeps a 2-core CPU fast; 512 full), and a class with under 5% of the
training texts is flagged.

Example::

    >>> recipe = derive_recipe([12, 30, 18] * 100, [0, 1, 1] * 100, batch_size=16,
    ...                        base_epochs=1.5, learning_rate=1e-4, max_length_ceiling=128)
    >>> recipe.epochs, recipe.max_length, recipe.eval_every_steps
    (16, 32, 10)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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

    def explain(self) -> str:
        """Return the reasons, one per line."""
        return "\n".join(f"- {reason}" for reason in self.reasons)


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
                  id2label: Mapping[int, str] | None = None) -> Recipe:
    """Return the recipe for this training split; settings given (non-zero) are kept as they are.

    ``train_lengths``: tokens per training text, untruncated; ``base_epochs`` and
    ``learning_rate``: the profile's; ``max_length_ceiling``: the smaller of the model's position
    limit and the profile's ``max_length`` (a CPU profile keeps it low); ``id2label`` names the
    rare classes in the reasons.
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
    rare = rare_classes(train_label_ids, num_labels)
    if rare:
        names = [id2label[i] if id2label else i for i in rare]
        reasons.append(f"rare classes (under {RARE_SHARE:.0%} of the training texts): "
                       f"{names}; watch their recall, and consider class_weights = True")
    return Recipe(epochs=epochs, learning_rate=learning_rate, max_length=int(max_length),
                  steps_per_epoch=steps_per_epoch, total_steps=total_steps,
                  eval_every_steps=eval_every, patience=PATIENCE, rare_classes=rare,
                  reasons=tuple(reasons))


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
