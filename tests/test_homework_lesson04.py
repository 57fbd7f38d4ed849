"""Lesson 04's exercise checks: the reference answers pass, typical wrong answers get specific feedback."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils.homework import evaluate


def reference_mean_pool(last_hidden_state, attention_mask):
    mask = attention_mask.unsqueeze(-1).float()
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def test_04_1_reference_mean_pool_passes():
    assert evaluate("04.1", {"my_mean_pool": reference_mean_pool}).passed


def test_04_1_mean_over_padding_fails_with_the_reason():
    verdict = evaluate("04.1", {"my_mean_pool": lambda h, m: h.mean(1)})
    assert not verdict.passed and "padding included" in verdict.message


def test_04_1_dividing_by_padded_length_fails_with_the_reason():
    verdict = evaluate("04.1", {"my_mean_pool": lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1]})
    assert not verdict.passed and "divide by the padded length" in verdict.message


def test_04_1_cls_vector_and_non_function_fail():
    assert "CLS pooling" in evaluate("04.1", {"my_mean_pool": lambda h, m: h[:, 0]}).message
    assert "should be a function" in evaluate("04.1", {"my_mean_pool": 3}).message


class GoodHead(nn.Module):
    def __init__(self, size, labels):
        super().__init__()
        self.hidden = nn.Linear(size, 32)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(32, labels)

    def forward(self, x):
        return self.out(self.dropout(torch.relu(self.hidden(x))))


def test_04_2_reference_head_passes():
    assert evaluate("04.2", {"my_head": GoodHead(384, 2), "head_input_size": 384,
                             "num_labels": 2}).passed


def test_04_2_head_without_hidden_layer_or_dropout_fails():
    single = evaluate("04.2", {"my_head": nn.Linear(384, 2), "head_input_size": 384, "num_labels": 2})
    assert not single.passed and "a hidden layer needs two" in single.message
    no_dropout = nn.Sequential(nn.Linear(384, 32), nn.ReLU(), nn.Linear(32, 2))
    verdict = evaluate("04.2", {"my_head": no_dropout, "head_input_size": 384, "num_labels": 2})
    assert not verdict.passed and "no dropout" in verdict.message


def test_04_2_wrong_sizes_and_unused_dropout_fail():
    wrong_labels = evaluate("04.2", {"my_head": GoodHead(384, 3), "head_input_size": 384,
                                     "num_labels": 2})
    assert not wrong_labels.passed and "(16, 2)" in wrong_labels.message
    wrong_input = evaluate("04.2", {"my_head": GoodHead(768, 2), "head_input_size": 384,
                                    "num_labels": 2})
    assert not wrong_input.passed and "cannot take a batch" in wrong_input.message

    class UnusedDropout(GoodHead):
        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    unused = evaluate("04.2", {"my_head": UnusedDropout(384, 2), "head_input_size": 384,
                               "num_labels": 2})
    assert not unused.passed and "dropout changes nothing" in unused.message
    assert "parentheses" in evaluate("04.2", {"my_head": GoodHead, "head_input_size": 384,
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
    namespace = {"my_mistakes": _reference_mistakes(probs, labels), "test_probs": probs,
                 "test_labels": labels}
    assert evaluate("04.3", namespace).passed


def test_04_3_most_confident_predictions_including_right_ones_fail():
    probs, labels = _probs_and_labels()
    surest = np.argsort(-probs.max(1))[:5].tolist()
    verdict = evaluate("04.3", {"my_mistakes": surest, "test_probs": probs, "test_labels": labels})
    assert not verdict.passed and "predicted correctly" in verdict.message


def test_04_3_reversed_order_and_wrong_count_fail():
    probs, labels = _probs_and_labels()
    answer = _reference_mistakes(probs, labels)
    reversed_ = evaluate("04.3", {"my_mistakes": answer[::-1], "test_probs": probs,
                                  "test_labels": labels})
    assert not reversed_.passed and "wrong order" in reversed_.message
    short = evaluate("04.3", {"my_mistakes": answer[:3], "test_probs": probs, "test_labels": labels})
    assert not short.passed and "exactly 5" in short.message
