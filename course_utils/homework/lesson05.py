"""Checks for lesson 05 (full fine-tuning): frozen lower layers, an epoch's accuracy, a schedule.

Each check recomputes the right answer from the learner's own objects and says what differs.
Example::

    >>> assess("05.2", {"batch_accuracies": [1.0, 0.0], "batch_sizes": [3, 1],
    ...                   "epoch_accuracy": 0.75}).passed                        # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
import re
from typing import Any

from torch import nn

from .core import Feedback, exercise
from .modules import ParameterTable

LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def _should_freeze(name: str, n_frozen: int) -> bool | None:
    """Return whether parameter ``name`` is below layer ``n_frozen``; None when in no layer."""
    if ".embeddings." in f".{name}":
        return True
    match = LAYER.search(name)
    return None if match is None else int(match.group(1)) < n_frozen


@exercise("05.1", lesson="05", names=["layered_model", "n_frozen", "predicted_trainable_share",
                                      "trainable_share"], parameter_tables=("layered_model",),
          hint="The section 'Which parameters moved?' froze the embeddings through the "
               "requires_grad flag of their parameters; the transformer layers are numbered in "
               "the parameter names (print a few). Count weights (numel), not tensors.")
def lower_layers_frozen(layered_model, n_frozen, predicted_trainable_share, trainable_share):
    """Freeze the embeddings and the lower layers; predict, then measure what still trains."""
    if not isinstance(layered_model, (nn.Module, ParameterTable)):
        return Feedback.wrong(f"`layered_model` should be the copied model, not a "
                              f"{type(layered_model).__name__}.")
    named = list(layered_model.named_parameters())
    layers = {int(m.group(1)) for name, _ in named if (m := LAYER.search(name))}
    if not layers:
        return Feedback.wrong("`layered_model` has no numbered transformer layers: copy the "
                              "fine-tuned `model`.")
    if isinstance(n_frozen, bool) or not isinstance(n_frozen, int) \
            or not 0 < n_frozen < len(layers):
        return Feedback.wrong(f"n_frozen should stay an int between 1 and {len(layers) - 1}.")
    for name, parameter in named:
        freeze = _should_freeze(name, n_frozen)
        if freeze is True and parameter.requires_grad:
            where = "the embeddings" if ".embeddings." in f".{name}" else "a lower layer"
            return Feedback.wrong(f"{name} ({where}) still trains: freeze the embeddings and "
                                  f"layers 0 to {n_frozen - 1}.")
        if freeze is False and not parameter.requires_grad:
            return Feedback.wrong(f"{name} is frozen, but only the embeddings and layers 0 to "
                                  f"{n_frozen - 1} should be; the upper layers keep training.")
        if freeze is None and not parameter.requires_grad:
            return Feedback.wrong(f"{name} is frozen: the head (and anything above the layers) "
                                  "must keep training, it is new.")
    total = sum(p.numel() for _, p in named)
    trainable = sum(p.numel() for _, p in named if p.requires_grad)
    expected = trainable / total
    values = {}
    for label, value in [("predicted_trainable_share", predicted_trainable_share),
                         ("trainable_share", trainable_share)]:
        try:
            values[label] = float(value)
        except (TypeError, ValueError):
            return Feedback.wrong(f"`{label}` should be a number, not a {type(value).__name__}.")
        if not 0 <= values[label] <= 1:
            return Feedback.wrong(f"`{label}` = {values[label]:g} is not a share in [0, 1] (a "
                                  "percentage? a count?).")
    share = values["trainable_share"]
    if abs(share - expected) > 1e-6:
        tensors = sum(p.requires_grad for _, p in named) / len(named)
        if abs(share - tensors) <= 1e-6:
            return Feedback.wrong("trainable_share counts parameter tensors; count the numbers "
                                  "they hold: a bias and a weight matrix are not the same size.")
        if abs(share - (1 - expected)) <= 1e-6:
            return Feedback.wrong("trainable_share is the frozen share; give the trainable one.")
        return Feedback.wrong(f"trainable_share = {share:.4f} is not the share of layered_model's "
                              "parameters (numbers of weights) that still train.")
    predicted = values["predicted_trainable_share"]
    points_off = 100 * abs(predicted - expected)
    return Feedback.right(f"{trainable:,} of {total:,} weights still train ({expected:.1%}); you "
                          f"predicted {predicted:.1%}, off by {points_off:.1f} percentage points. "
                          "The embeddings are a large block of a small model: freezing them "
                          "saves more than a layer does.")


ACCURACY_CASES = [([1.0, 0.5, 0.0], [4, 4, 2]), ([0.75, 1.0], [8, 1]),
                  ([0.9, 0.8, 0.3, 0.6], [10, 10, 10, 3])]


def _epoch_accuracy_number(value: Any, accuracies: list[float], sizes: list[int]) -> Feedback:
    """Judge one epoch accuracy against the given batches."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`epoch_accuracy` should be a number, not a "
                              f"{type(value).__name__}.")
    expected = sum(a * n for a, n in zip(accuracies, sizes)) / sum(sizes)
    per_batch_mean = sum(accuracies) / len(accuracies)
    if math.isclose(value, expected, abs_tol=1e-9):
        return Feedback.right(f"{value:.4f}: every example counts once, whatever its batch size "
                              f"(the mean of the batch accuracies would be {per_batch_mean:.4f}).")
    if math.isclose(value, per_batch_mean, abs_tol=1e-9):
        return Feedback.wrong("That is the mean of the batch accuracies: the smaller last batch "
                              "counts as much as a full one.")
    if math.isclose(value, 100 * expected, abs_tol=1e-7):
        return Feedback.wrong("That is a percentage: give the accuracy as a fraction in [0, 1].")
    side = "too high" if value > expected else "too low"
    return Feedback.wrong(f"{value:g} is {side} for the accuracy over all {sum(sizes)} examples.")


@exercise("05.2", lesson="05", names=["epoch_accuracy", "batch_accuracies", "batch_sizes"],
          hint="An accuracy is correct examples / examples. What does a batch's accuracy tell "
               "you about its number of correct examples, given its size?")
def epoch_accuracy_weighted_by_batch_size(epoch_accuracy: Any, batch_accuracies, batch_sizes):
    """An epoch's accuracy over examples, not the mean of per-batch accuracies.

    ``epoch_accuracy`` is a function of (batch_accuracies, batch_sizes), judged on batches the
    check chooses, so that a copied accuracy cannot pass.
    """
    accuracies, sizes = [float(a) for a in batch_accuracies], [int(n) for n in batch_sizes]
    if not callable(epoch_accuracy):
        return Feedback.not_a_function("epoch_accuracy", epoch_accuracy,
                                       "(batch_accuracies, batch_sizes)")
    for case_accuracies, case_sizes in ACCURACY_CASES:
        verdict = _epoch_accuracy_number(epoch_accuracy(list(case_accuracies), list(case_sizes)),
                                         case_accuracies, case_sizes)
        if not verdict.passed:
            return Feedback.wrong(f"For batch accuracies {case_accuracies} and sizes "
                                  f"{case_sizes}: {verdict.message}")
    return _epoch_accuracy_number(epoch_accuracy(accuracies, sizes), accuracies, sizes)


def _reference_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Return transformers' linear-with-warmup factor (get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


@exercise("05.3", lesson="05", names=["warmup_linear"],
          hint="Plot the factor against the step, as the section 'Optimizer and learning-rate "
               "schedule' does: where is it 0, where 1, and what happens past total_steps? Mind "
               "warmup_steps = 0.")
def linear_schedule_with_warmup(warmup_linear: Any):
    """A learning-rate factor rising from 0 to 1, then falling linearly to 0."""
    if not callable(warmup_linear):
        return Feedback.not_a_function("warmup_linear", warmup_linear)
    for warmup_steps, total_steps in [(10, 100), (3, 7), (0, 20)]:
        for step in range(total_steps + 3):
            expected = _reference_factor(step, warmup_steps, total_steps)
            try:
                got = float(warmup_linear(step, warmup_steps, total_steps))
            except (TypeError, ValueError):
                return Feedback.wrong("warmup_linear(step, warmup_steps, total_steps) must "
                                      "return a number.")
            if math.isclose(got, expected, abs_tol=1e-6):
                continue
            where = (f"warmup_linear({step}, {warmup_steps}, {total_steps}) = {got:.4f}, "
                     f"expected {expected:.4f}")
            if step < warmup_steps:
                if step == 0 and math.isclose(got, 1.0):
                    return Feedback.wrong(f"{where}: there is no warmup; the factor must start "
                                          "at 0.")
                side = "too large" if got > expected else "too small"
                return Feedback.wrong(f"{where}: during warmup your factor is {side}; it should "
                                      "reach 1 exactly at warmup_steps.")
            if step > total_steps:
                return Feedback.wrong(f"{where}: after the last step the factor stays at 0, it "
                                      "must not become negative.")
            if math.isclose(got, 1.0):
                return Feedback.wrong(f"{where}: after warmup the factor must fall linearly to 0 "
                                      "at total_steps.")
            side = "too large" if got > expected else "too small"
            off = " (off by one step?)" if any(
                math.isclose(got, _reference_factor(step + d, warmup_steps, total_steps),
                             abs_tol=1e-6) for d in (-1, 1)) else ""
            return Feedback.wrong(f"{where}: after warmup your factor is {side}{off}; it should "
                                  "fall in a straight line from 1 at warmup_steps to 0 at "
                                  "total_steps.")
    return Feedback.right("Your schedule matches get_linear_schedule_with_warmup at every step.")


lower_layers_frozen.kind = "judgement"  # predict, then count; counted in the README
