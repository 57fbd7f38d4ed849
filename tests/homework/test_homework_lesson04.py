"""Lesson 04's exercise checks: reference answers pass, typical mistakes get specific feedback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.homework import assess


def epoch_loop(accumulate, finish, keep_graph=False):
    """Return a run_epoch function whose loss bookkeeping is given by two small functions."""
    def run_epoch(head, loader, optimizer):
        state = {"total": 0.0, "examples": 0, "batches": 0}
        for x, y in loader:
            loss = nn.functional.cross_entropy(head(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            accumulate(state, loss if keep_graph else loss.item(), len(y))
        return finish(state)
    return run_epoch


def add_weighted(state, loss, n):
    state["total"] += loss * n
    state["examples"] += n
    state["batches"] += 1


def add_plain(state, loss, n):
    state["total"] += loss
    state["examples"] += n
    state["batches"] += 1


def reset_each_batch(state, loss, n):
    state["total"] = loss
    state["batches"] += 1


def per_example(state):
    return state["total"] / state["examples"]


def per_batch(state):
    return state["total"] / state["batches"]


def test_04_1_reference_passes_and_the_loss_is_recomputed():
    verdict = assess("04.1", {"run_epoch": epoch_loop(add_weighted, per_example)})
    assert verdict.passed and "every example counted once" in verdict.message, verdict.message


@pytest.mark.parametrize("run_epoch, expected", [
    (epoch_loop(reset_each_batch, per_batch), "epoch_loss restarts at every batch"),
    (epoch_loop(reset_each_batch, lambda s: s["total"]), "the last batch's loss only"),
    (epoch_loop(add_plain, per_batch), "Weight each batch by its size"),
    (epoch_loop(add_weighted, lambda s: s["total"]), "a sum over the epoch"),
    (epoch_loop(add_weighted, lambda s: s["total"] / (s["examples"] + 1)), "is not the epoch's"),
    (epoch_loop(add_plain, per_batch, keep_graph=True), "still holds the graph"),
])
def test_04_1_the_source_bug_and_other_mistakes_get_specific_feedback(run_epoch, expected):
    verdict = assess("04.1", {"run_epoch": run_epoch})
    assert not verdict.passed and expected in verdict.message, verdict.message


def test_04_1_a_loop_that_no_longer_trains_or_is_not_a_function_is_refused():
    def no_training(head, loader, optimizer):
        losses = [(nn.functional.cross_entropy(head(x), y).item(), len(y)) for x, y in loader]
        return sum(loss * n for loss, n in losses) / sum(n for _, n in losses)

    verdict = assess("04.1", {"run_epoch": no_training})
    assert not verdict.passed and "keep its training steps" in verdict.message
    verdict = assess("04.1", {"run_epoch": 0.69})
    assert not verdict.passed and "should be a function" in verdict.message


class GoodHead(nn.Module):
    def __init__(self, size, labels):
        super().__init__()
        self.hidden = nn.Linear(size, 32)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(32, labels)

    def forward(self, x):
        return self.out(self.dropout(torch.relu(self.hidden(x))))


def test_04_2_reference_head_passes():
    assert assess("04.2", {"my_head": GoodHead(384, 2), "head_input_size": 384,
                             "num_labels": 2}).passed


def test_04_2_head_without_hidden_layer_or_dropout_fails():
    single = assess("04.2", {"my_head": nn.Linear(384, 2), "head_input_size": 384,
                               "num_labels": 2})
    assert not single.passed and "a hidden layer needs two" in single.message
    no_dropout = nn.Sequential(nn.Linear(384, 32), nn.ReLU(), nn.Linear(32, 2))
    verdict = assess("04.2", {"my_head": no_dropout, "head_input_size": 384, "num_labels": 2})
    assert not verdict.passed and "no dropout" in verdict.message


def test_04_2_wrong_sizes_and_unused_dropout_fail():
    wrong_labels = assess("04.2", {"my_head": GoodHead(384, 3), "head_input_size": 384,
                                     "num_labels": 2})
    assert not wrong_labels.passed and "(16, 2)" in wrong_labels.message
    wrong_input = assess("04.2", {"my_head": GoodHead(768, 2), "head_input_size": 384,
                                    "num_labels": 2})
    assert not wrong_input.passed and "cannot take a batch" in wrong_input.message

    class UnusedDropout(GoodHead):
        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    unused = assess("04.2", {"my_head": UnusedDropout(384, 2), "head_input_size": 384,
                               "num_labels": 2})
    assert not unused.passed and "dropout changes nothing" in unused.message
    assert "parentheses" in assess("04.2", {"my_head": GoodHead, "head_input_size": 384,
                                              "num_labels": 2}).message


def _probs_and_labels():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200)
    probs = np.stack([p, 1 - p], axis=1)
    labels = rng.integers(0, 2, size=200)
    return probs, labels


def _reference_mistakes(probs, labels):
    predicted = probs.argmax(1)
    confidence = probs.max(1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.argsort(-confidence[wrong], kind="stable")[:5]].tolist()


def test_04_3_reference_passes():
    probs, labels = _probs_and_labels()
    namespace = {"my_mistakes": _reference_mistakes, "test_probs": probs, "test_labels": labels}
    assert assess("04.3", namespace).passed


def test_a_shortcut_submission_must_fail_043_a_copied_list_of_rows():
    probs, labels = _probs_and_labels()
    copied = _reference_mistakes(probs, labels)       # the right rows, but no work to check
    verdict = assess("04.3", {"my_mistakes": copied, "test_probs": probs, "test_labels": labels})
    assert not verdict.passed and "should be a function" in verdict.message


def test_04_3_most_confident_predictions_including_right_ones_fail():
    probs, labels = _probs_and_labels()
    surest = lambda p, y: np.argsort(-p.max(1))[:5].tolist()  # noqa: E731
    verdict = assess("04.3", {"my_mistakes": surest, "test_probs": probs, "test_labels": labels})
    assert not verdict.passed and "predicted correctly" in verdict.message


def test_04_3_reversed_order_and_wrong_count_fail():
    probs, labels = _probs_and_labels()
    reversed_ = assess("04.3", {"my_mistakes": lambda p, y: _reference_mistakes(p, y)[::-1],
                                  "test_probs": probs, "test_labels": labels})
    assert not reversed_.passed and "wrong order" in reversed_.message
    short = assess("04.3", {"my_mistakes": lambda p, y: _reference_mistakes(p, y)[:3],
                              "test_probs": probs, "test_labels": labels})
    assert not short.passed and "exactly 5" in short.message


def test_a_shortcut_submission_must_fail_043_the_imported_most_confident_mistakes():
    import numpy as np

    from course_utils.metrics import most_confident_mistakes

    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=30)
    labels = np.random.default_rng(1).integers(0, 3, size=30)

    def borrowed(test_probs, test_labels):
        return most_confident_mistakes([""] * len(test_labels), test_labels, test_probs)

    verdict = assess("04.3", {"my_mistakes": borrowed, "test_probs": probs,
                                "test_labels": labels})
    assert not verdict.passed and "`most_confident_mistakes`" in verdict.message


def test_043_a_function_answer_is_judged_on_tables_the_check_chooses():
    import numpy as np
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=30)
    labels = np.random.default_rng(1).integers(0, 3, size=30)

    def mine(test_probs, test_labels):
        predicted = test_probs.argmax(axis=1)
        confidence = test_probs.max(axis=1)
        rows = np.flatnonzero(predicted != test_labels)
        return rows[np.argsort(-confidence[rows], kind="stable")[:5]].tolist()

    space = {"test_probs": probs, "test_labels": labels}
    assert assess("04.3", {**space, "my_mistakes": mine}).passed
    fixed = mine(probs, labels)
    verdict = assess("04.3", {**space, "my_mistakes": lambda probs_, labels_: fixed})
    assert not verdict.passed and "the check chose" in verdict.message
