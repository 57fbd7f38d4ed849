"""Checks for lesson 04 (frozen backbone + head): the epoch loss, a dropout head, mistakes.

Each check builds its own test inputs or recomputes the answer from the learner's data, and says
what differs. Example::

    >>> assess("04.1", {"run_epoch": run_epoch})                                # doctest: +SKIP
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .core import Feedback, exercise
from .lesson03 import borrowed_helper


def _epoch_setup() -> tuple[nn.Module, DataLoader]:
    """Return a seeded 6-feature, 3-class linear head and a loader whose last batch is smaller."""
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(10, 6, generator=generator)
    y = torch.randint(0, 3, (10,), generator=generator)
    head = nn.Linear(6, 3)
    with torch.no_grad():
        head.weight.copy_(torch.randn(3, 6, generator=generator))
        head.bias.zero_()
    return head, DataLoader(TensorDataset(x, y), batch_size=4)


def reference_epoch(head: nn.Module, loader: DataLoader, optimizer) -> tuple[float, list]:
    """Train one epoch; return the mean loss per example and each batch's (mean loss, size)."""
    batches = []
    for x, y in loader:
        loss = nn.functional.cross_entropy(head(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batches.append((loss.item(), len(y)))
    return sum(loss * n for loss, n in batches) / sum(n for _, n in batches), batches


@exercise("04.1", lesson="04", names=["run_epoch"],
          hint="Where is epoch_loss set to 0, and how many times does that happen per epoch? "
               "Then ask what one batch's loss is an average over, and how many examples the "
               "last batch holds (05.2 meets the same question for accuracy).")
def epoch_loss_over_every_example(run_epoch):
    """Fix the source lesson's epoch loss: the mean loss per example over the whole epoch."""
    if not callable(run_epoch):
        return Feedback.not_a_function("run_epoch", run_epoch)
    head, loader = _epoch_setup()
    reference_head = copy.deepcopy(head)
    expected, batches = reference_epoch(reference_head, loader,
                                        torch.optim.SGD(reference_head.parameters(), lr=0.5))
    got = run_epoch(head, loader, torch.optim.SGD(head.parameters(), lr=0.5))
    if isinstance(got, torch.Tensor):
        if got.requires_grad:
            return Feedback.wrong("run_epoch returns a tensor that still holds the graph of every "
                                  "batch: add up plain numbers, each batch's loss as a float.")
        got = got.item() if got.numel() == 1 else got
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return Feedback.wrong(f"run_epoch should return one number, not a {type(got).__name__}.")
    if not torch.allclose(head.weight, reference_head.weight, atol=1e-5):
        return Feedback.wrong("After run_epoch the head's weights differ from one epoch of "
                              "training with the given loop: keep its training steps as they "
                              "are and fix only how the loss is added up.")
    if abs(got - expected) <= 1e-5:
        mean_of_batches = sum(loss for loss, _ in batches) / len(batches)
        return Feedback.right(f"The epoch loss is {expected:.4f}, every example counted once "
                              f"(the mean of the batch losses would say {mean_of_batches:.4f}, and "
                              f"the given loop says {batches[-1][0] / len(batches):.4f}).")
    last, n_batches = batches[-1][0], len(batches)
    if abs(got - last / n_batches) <= 1e-5:
        return Feedback.wrong("That is still the last batch's loss divided by the number of "
                              "batches: epoch_loss restarts at every batch.")
    if abs(got - last) <= 1e-5:
        return Feedback.wrong("That is the last batch's loss only.")
    if abs(got - sum(loss for loss, _ in batches) / n_batches) <= 1e-5:
        return Feedback.wrong("That is the mean of the batch losses: the last batch holds "
                              f"{batches[-1][1]} examples, not {batches[0][1]}, yet counts as "
                              "much as a full one. Weight each batch by its size.")
    if abs(got - sum(loss * n for loss, n in batches)) <= 1e-4 \
            or abs(got - sum(loss for loss, _ in batches)) <= 1e-5:
        return Feedback.wrong("That is a sum over the epoch; divide to get a mean per example.")
    return Feedback.wrong(f"run_epoch returned {got:.4f}, which is not the epoch's mean loss per "
                          "example on a small test (10 examples, batches of 4).")


@exercise("04.2", lesson="04", names=["my_head", "head_input_size", "num_labels"],
          hint="Section 5 builds a head as an nn.Module: parts that hold "
               "weights or behave differently in training and evaluation are created once, as "
               "modules, and applied in forward; which of them does eval() switch off?")
def head_with_hidden_layer_and_dropout(my_head, head_input_size, num_labels):
    """A head with a hidden layer, an activation and dropout."""
    if not isinstance(my_head, nn.Module):
        return Feedback.wrong(f"`my_head` should be an nn.Module instance, not a "
                              f"{type(my_head).__name__} (did you forget the parentheses?).")
    modules = list(my_head.modules())
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    dropouts = [m for m in modules if isinstance(m, nn.Dropout)]
    if len(linears) < 2:
        return Feedback.wrong(f"my_head has {len(linears)} nn.Linear layer(s): a hidden layer "
                              "needs two (features → hidden, hidden → labels).")
    if not dropouts or all(d.p == 0 for d in dropouts):
        return Feedback.wrong("my_head has no dropout (or p=0): add nn.Dropout with p > 0.")
    if not any(p.requires_grad for p in my_head.parameters()):
        return Feedback.wrong("Every parameter of my_head is frozen: the head is what we train.")
    inputs = torch.randn(16, int(head_input_size), generator=torch.Generator().manual_seed(0))
    my_head.eval()
    with torch.no_grad():
        try:
            out = my_head(inputs)
        except RuntimeError as err:
            return Feedback.wrong(f"my_head cannot take a batch of {head_input_size} features "
                                  f"per text ({err}). Size the first layer from the features.")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (16, int(num_labels)):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return Feedback.wrong(f"For 16 texts the head should return (16, {num_labels}) logits, "
                                  f"one per label; it returned {shape}.")
        again = my_head(inputs)
        my_head.train()
        noisy = my_head(inputs)
    my_head.eval()
    if not torch.allclose(out, again):
        return Feedback.wrong("In eval mode the head gives different outputs for the same input: "
                              "dropout must be an nn.Dropout module (it switches off in eval()).")
    if torch.allclose(out, noisy):
        return Feedback.wrong("In train mode dropout changes nothing: is nn.Dropout used in "
                              "forward()?")
    return Feedback.right(f"A head with {len(linears)} linear layers and dropout that is active in "
                          "training and off at evaluation.")


@exercise("04.3", lesson="04", names=["my_mistakes", "test_probs", "test_labels"],
          hint="Section 9 reads the head's most confident mistakes: what is a row's "
               "prediction, and how sure was the head of it? Mind the direction NumPy sorts in.")
def five_most_confident_mistakes(my_mistakes: Any, test_probs, test_labels):
    """The five test rows the head got wrong with the highest confidence.

    ``my_mistakes`` is a function of (probs, labels), judged on tables the check chooses, so that
    a copied list of rows cannot pass.
    """
    if not callable(my_mistakes):
        return Feedback.not_a_function("my_mistakes", my_mistakes, "(test_probs, test_labels)")
    return _judged_function(my_mistakes, test_probs, test_labels)


def _judged_function(my_mistakes, test_probs, test_labels) -> Feedback:
    """Judge the function ``my_mistakes`` on the check's tables, then on the test set."""
    helper = borrowed_helper(my_mistakes, ("most_confident_mistakes",))
    if helper:
        return Feedback.wrong(f"my_mistakes uses the course's `{helper}`: this exercise asks "
                              "you to do its work yourself.")
    generator = np.random.default_rng(43)
    for rows in (40, 12, 200):
        probs = generator.dirichlet(np.ones(3), size=rows)
        labels = generator.integers(0, 3, size=rows)
        verdict = _judged_rows(my_mistakes(probs, labels), probs, labels)
        if not verdict.passed:
            return Feedback.wrong(f"On a table of {rows} rows the check chose: "
                                  f"{verdict.message}")
    return _judged_rows(my_mistakes(np.asarray(test_probs), np.asarray(test_labels)),
                        test_probs, test_labels)


def _judged_rows(my_mistakes: Any, test_probs, test_labels) -> Feedback:
    """Judge a list of rows against the five most confident mistakes of ``test_probs``."""
    probs, labels = np.asarray(test_probs), np.asarray(test_labels)
    try:
        chosen = [int(i) for i in np.asarray(my_mistakes).reshape(-1)]
    except (TypeError, ValueError):
        return Feedback.wrong("`my_mistakes` should be a list of 5 row indices into the test set.")
    if len(chosen) != 5:
        return Feedback.wrong(f"`my_mistakes` has {len(chosen)} entries; give exactly 5 row "
                              "indices.")
    if any(not 0 <= i < len(labels) for i in chosen):
        return Feedback.wrong(f"Indices must be test rows 0..{len(labels) - 1}.")
    predicted = probs.argmax(1)
    right = [i for i in chosen if predicted[i] == labels[i]]
    if right:
        return Feedback.wrong(f"Row(s) {right} are predicted correctly: keep only mistakes.")
    confidence = probs[np.arange(len(labels)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    expected = confidence[wrong[np.argsort(-confidence[wrong], kind="stable")[:5]]]
    got = confidence[chosen]
    if np.allclose(got, expected[::-1]) and not np.allclose(got, expected):
        return Feedback.wrong("These are the right five, in the wrong order: most confident first.")
    if np.allclose(np.sort(got), np.sort(expected)) and not np.allclose(got, expected):
        return Feedback.wrong("These are the right five; order them by confidence, highest first.")
    if not np.allclose(got, expected):
        return Feedback.wrong(f"These mistakes have confidence {np.round(got, 3).tolist()}; the "
                              f"five most confident have {np.round(expected, 3).tolist()}.")
    return Feedback.right("These are the mistakes the head was surest of: read them, they often "
                          "show sarcasm, mixed verdicts or labels that look wrong.")


epoch_loss_over_every_example.kind = "judgement"  # a diagnosis; counted in the README
