"""Checks for lesson 04 (frozen backbone + head): mean pooling, a head with dropout, confident mistakes.

Each check builds its own test inputs or recomputes the answer from the learner's data, and says
what differs. Example::

    >>> evaluate("04.1", {"my_mean_pool": my_mean_pool})                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .core import Feedback, exercise


def _padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Return token vectors with large junk values on padded positions, and their mask."""
    generator = torch.Generator().manual_seed(4)
    hidden = torch.randn(3, 5, 4, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    hidden[mask == 0] = 50.0
    return hidden, mask


@exercise("04.1", lesson="04", names=["my_mean_pool"],
          hint="Multiply the token vectors by attention_mask.unsqueeze(-1), sum over the token "
               "dimension (dim=1), and divide by the number of real tokens, attention_mask.sum(1).")
def mean_pool_over_real_tokens(my_mean_pool):
    """Average token vectors over the positions the attention mask keeps."""
    if not callable(my_mean_pool):
        return Feedback.wrong(f"`my_mean_pool` should be a function, not a "
                              f"{type(my_mean_pool).__name__}.")
    hidden, mask = _padded_batch()
    result = my_mean_pool(hidden.clone(), mask.clone())
    if not isinstance(result, torch.Tensor):
        return Feedback.wrong(f"my_mean_pool returned a {type(result).__name__}; return a tensor.")
    if tuple(result.shape) != (3, 4):
        return Feedback.wrong(f"For 3 texts of 5 tokens with 4 numbers each, the result should "
                              f"have shape (3, 4) (one vector per text), not {tuple(result.shape)}.")
    m = mask.unsqueeze(-1).float()
    expected = (hidden * m).sum(1) / m.sum(1)
    result = result.detach().float()
    if torch.allclose(result, expected, atol=1e-5):
        return Feedback.right("Padding no longer changes a text's vector: the mean runs over "
                              "real tokens only.")
    if torch.allclose(result, hidden.mean(1), atol=1e-5):
        return Feedback.wrong("You average over every position, padding included: the padded "
                              "texts' vectors are pulled towards the padding's values.")
    if torch.allclose(result, (hidden * m).sum(1) / hidden.shape[1], atol=1e-5):
        return Feedback.wrong("You zero the padding but still divide by the padded length (5): "
                              "divide by the number of real tokens instead.")
    if torch.allclose(result, hidden[:, 0], atol=1e-5):
        return Feedback.wrong("That is the first token's vector (CLS pooling), not a mean.")
    if torch.allclose(result[0], expected[0], atol=1e-5):
        return Feedback.wrong("Right for the text without padding, wrong for the padded ones: "
                              "check how you use the mask.")
    return Feedback.wrong("The vectors differ from the mean over real tokens.")


@exercise("04.2", lesson="04", names=["my_head", "head_input_size", "num_labels"],
          hint="Subclass nn.Module: in __init__ build nn.Linear(head_input_size, hidden), an "
               "activation, nn.Dropout(p) and nn.Linear(hidden, num_labels); forward applies them "
               "in order and returns the logits.")
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
          hint="Predicted class: probs.argmax(1). Keep the rows where it differs from the label, "
               "then sort them by the probability of the predicted class, highest first "
               "(np.argsort(-confidence)), and keep five.")
def five_most_confident_mistakes(my_mistakes: Any, test_probs, test_labels):
    """The five test rows the head got wrong with the highest confidence."""
    probs, labels = np.asarray(test_probs), np.asarray(test_labels)
    try:
        chosen = [int(i) for i in np.asarray(my_mistakes).reshape(-1)]
    except (TypeError, ValueError):
        return Feedback.wrong("`my_mistakes` should be a list of 5 row indices into the test set.")
    if len(chosen) != 5:
        return Feedback.wrong(f"`my_mistakes` has {len(chosen)} entries; give exactly 5 row indices.")
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
        return Feedback.wrong(f"These mistakes have confidence {np.round(got, 3).tolist()}; the five "
                              f"most confident have {np.round(expected, 3).tolist()}.")
    return Feedback.right("These are the mistakes the head was surest of: read them, they often "
                          "show sarcasm, mixed verdicts or labels that look wrong.")
