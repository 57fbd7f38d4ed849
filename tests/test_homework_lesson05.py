"""Lesson 05's exercise checks: the reference answers pass, typical wrong answers get specific feedback."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification

from course_utils.homework import evaluate


def tiny_bert():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2))


def reference_groups(model, is_no_decay=lambda n: n.endswith("bias") or "LayerNorm" in n):
    decay = [p for n, p in model.named_parameters() if not is_no_decay(n)]
    no_decay = [p for n, p in model.named_parameters() if is_no_decay(n)]
    return [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]


def test_05_1_reference_groups_pass():
    model = tiny_bert()
    assert evaluate("05.1", {"my_groups": reference_groups(model), "model": model}).passed


def test_05_1_layernorm_weights_with_decay_fail_with_the_reason():
    model = tiny_bert()
    groups = reference_groups(model, is_no_decay=lambda n: n.endswith("bias"))
    verdict = evaluate("05.1", {"my_groups": groups, "model": model})
    assert not verdict.passed and "LayerNorm weights" in verdict.message


def test_05_1_one_group_for_everything_fails():
    model = tiny_bert()
    verdict = evaluate("05.1", {"my_groups": [{"params": list(model.parameters()), "weight_decay": 0.01}],
                                "model": model})
    assert not verdict.passed and "make two" in verdict.message


def test_05_1_forgotten_parameters_and_wrong_types_fail():
    model = tiny_bert()
    groups = reference_groups(model)
    groups[0]["params"] = groups[0]["params"][1:]
    verdict = evaluate("05.1", {"my_groups": groups, "model": model})
    assert not verdict.passed and "in no group" in verdict.message
    verdict = evaluate("05.1", {"my_groups": "decay", "model": model})
    assert not verdict.passed and "list of dicts" in verdict.message


def test_05_2_weighted_accuracy_passes_and_per_batch_mean_fails():
    accuracies, sizes = [0.9, 0.8, 0.5], [100, 100, 2]
    right = (90 + 80 + 1) / 202
    assert evaluate("05.2", {"epoch_accuracy": right, "batch_accuracies": accuracies,
                             "batch_sizes": sizes}).passed
    verdict = evaluate("05.2", {"epoch_accuracy": sum(accuracies) / 3, "batch_accuracies": accuracies,
                                "batch_sizes": sizes})
    assert not verdict.passed and "mean of the batch accuracies" in verdict.message
    verdict = evaluate("05.2", {"epoch_accuracy": 100 * right, "batch_accuracies": accuracies,
                                "batch_sizes": sizes})
    assert not verdict.passed and "percentage" in verdict.message
    verdict = evaluate("05.2", {"epoch_accuracy": "high", "batch_accuracies": accuracies,
                                "batch_sizes": sizes})
    assert not verdict.passed and "should be a number" in verdict.message


def reference_warmup_linear(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def test_05_3_reference_schedule_passes():
    assert evaluate("05.3", {"warmup_linear": reference_warmup_linear}).passed


def test_05_3_schedule_without_warmup_fails_with_the_reason():
    verdict = evaluate("05.3", {"warmup_linear": lambda s, w, t: max(0.0, (t - s) / t)})
    assert not verdict.passed and "no warmup" in verdict.message


def test_05_3_schedule_without_decay_fails_with_the_reason():
    verdict = evaluate("05.3", {"warmup_linear": lambda s, w, t: min(1.0, s / max(1, w))})
    assert not verdict.passed and "fall linearly to 0" in verdict.message


def test_05_3_negative_after_the_end_fails():
    verdict = evaluate("05.3", {"warmup_linear": lambda s, w, t: s / max(1, w) if s < w else (t - s) / (t - w)})
    assert not verdict.passed and "must not become negative" in verdict.message
