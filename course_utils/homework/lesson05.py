"""Checks for lesson 05 (full fine-tuning): no-decay groups, an epoch's accuracy, a warmup schedule.

Each check recomputes the right answer from the learner's own objects and says what differs.
Example::

    >>> evaluate("05.2", {"batch_accuracies": [1.0, 0.0], "batch_sizes": [3, 1],
    ...                   "epoch_accuracy": 0.75}).passed                        # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from .core import Feedback, exercise


def _is_no_decay(name: str, parameter, layer_norm_ids: set[int]) -> bool:
    return name.endswith("bias") or id(parameter) in layer_norm_ids


@exercise("05.1", lesson="05", names=["my_groups", "model"],
          hint="Loop over model.named_parameters(); put a parameter in the no-decay list when its "
               "name ends with 'bias' or contains 'LayerNorm', else in the decay list; return "
               "[{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}].")
def no_decay_groups(my_groups: Any, model: nn.Module):
    """Two AdamW groups: decay on weight matrices, none on biases and LayerNorm weights."""
    if not isinstance(my_groups, (list, tuple)) or not all(isinstance(g, dict) for g in my_groups):
        return Feedback.wrong("`my_groups` should be a list of dicts, each with 'params' and "
                              "'weight_decay'.")
    if len(my_groups) != 2:
        return Feedback.wrong(f"`my_groups` has {len(my_groups)} group(s): make two, one with "
                              "weight decay and one without.")
    if any("params" not in g or "weight_decay" not in g for g in my_groups):
        return Feedback.wrong("Each group needs both a 'params' list and a 'weight_decay' value.")
    layer_norm_ids = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm)
                      for p in m.parameters(recurse=False)}
    names = {id(p): n for n, p in model.named_parameters()}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    seen: list[int] = []
    for group in my_groups:
        seen.extend(id(p) for p in group["params"])
    foreign = [i for i in seen if i not in names]
    if foreign:
        return Feedback.wrong(f"{len(foreign)} entries are not parameters of `model` (use "
                              "model.named_parameters(), not copies or names).")
    if len(seen) != len(set(seen)):
        return Feedback.wrong("Some parameters appear twice: each must be in exactly one group.")
    missing = trainable - set(seen)
    if missing:
        example = sorted(names[i] for i in missing)[0]
        return Feedback.wrong(f"{len(missing)} trainable parameters are in no group, e.g. "
                              f"{example}: the optimizer would never update them.")
    by_decay = sorted(my_groups, key=lambda g: float(g["weight_decay"]))
    zero, positive = by_decay
    if float(zero["weight_decay"]) != 0.0 or float(positive["weight_decay"]) <= 0.0:
        return Feedback.wrong("One group needs weight_decay 0.0 and the other a positive value "
                              f"(got {[g['weight_decay'] for g in my_groups]}).")
    in_zero = {id(p) for p in zero["params"]}
    decayed_wrongly = [names[i] for i in names if i in trainable and i not in in_zero
                       and _is_no_decay(names[i], _param(model, names[i]), layer_norm_ids)]
    spared_wrongly = [names[i] for i in in_zero
                      if not _is_no_decay(names[i], _param(model, names[i]), layer_norm_ids)]
    if decayed_wrongly:
        kinds = "LayerNorm weights" if any(not n.endswith("bias") for n in decayed_wrongly) else "biases"
        return Feedback.wrong(f"{len(decayed_wrongly)} parameters get weight decay but should not "
                              f"({kinds}, e.g. {decayed_wrongly[0]}).")
    if spared_wrongly:
        return Feedback.wrong(f"{len(spared_wrongly)} weight matrices get no decay but should, "
                              f"e.g. {spared_wrongly[0]}.")
    return Feedback.right(f"{len(positive['params'])} weight tensors decay, {len(in_zero)} biases "
                          "and LayerNorm weights do not.")


def _param(model: nn.Module, name: str):
    return dict(model.named_parameters())[name]


@exercise("05.2", lesson="05", names=["epoch_accuracy", "batch_accuracies", "batch_sizes"],
          hint="Turn each batch's accuracy back into a count of correct examples (accuracy × size), "
               "add the counts, and divide by the total number of examples.")
def epoch_accuracy_weighted_by_batch_size(epoch_accuracy: Any, batch_accuracies, batch_sizes):
    """An epoch's accuracy over examples, not the mean of per-batch accuracies."""
    try:
        value = float(epoch_accuracy)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`epoch_accuracy` should be a number, not a "
                              f"{type(epoch_accuracy).__name__}.")
    accuracies, sizes = [float(a) for a in batch_accuracies], [int(n) for n in batch_sizes]
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
    return Feedback.wrong(f"{value} is not the accuracy over all {sum(sizes)} examples.")


def _reference_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Return transformers' linear-with-warmup factor (get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


@exercise("05.3", lesson="05", names=["warmup_linear"],
          hint="Two straight lines: during warmup the factor grows in proportion to step (0 at "
               "step 0, 1 at warmup_steps); after it, it shrinks in proportion to the steps left "
               "until total_steps and never goes below 0. Mind warmup_steps = 0.")
def linear_schedule_with_warmup(warmup_linear: Any):
    """A learning-rate factor rising from 0 to 1, then falling linearly to 0."""
    if not callable(warmup_linear):
        return Feedback.wrong(f"`warmup_linear` should be a function, not a "
                              f"{type(warmup_linear).__name__}.")
    for warmup_steps, total_steps in [(10, 100), (3, 7), (0, 20)]:
        for step in range(total_steps + 3):
            expected = _reference_factor(step, warmup_steps, total_steps)
            try:
                got = float(warmup_linear(step, warmup_steps, total_steps))
            except (TypeError, ValueError):
                return Feedback.wrong("warmup_linear(step, warmup_steps, total_steps) must return a number.")
            if math.isclose(got, expected, abs_tol=1e-6):
                continue
            where = f"warmup_linear({step}, {warmup_steps}, {total_steps}) = {got:.4f}, expected {expected:.4f}"
            if step < warmup_steps:
                if step == 0 and math.isclose(got, 1.0):
                    return Feedback.wrong(f"{where}: there is no warmup; the factor must start at 0.")
                return Feedback.wrong(f"{where}: during warmup the factor rises as step / warmup_steps.")
            if step > total_steps:
                return Feedback.wrong(f"{where}: after the last step the factor stays at 0, it must "
                                      "not become negative.")
            if math.isclose(got, 1.0):
                return Feedback.wrong(f"{where}: after warmup the factor must fall linearly to 0 "
                                      "at total_steps.")
            return Feedback.wrong(f"{where}: after warmup it falls as (total_steps - step) / "
                                  "(total_steps - warmup_steps).")
    return Feedback.right("Your schedule matches get_linear_schedule_with_warmup at every step.")
