"""Lesson 05's exercise checks: reference answers pass, typical mistakes get specific feedback."""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from course_utils.homework import assess


def tiny_bert(layers=3):
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=40, hidden_size=8, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2))


def freeze_lower(model, n_frozen, embeddings=True):
    for name, parameter in model.named_parameters():
        parts = name.split(".")
        lower = "layer" in parts and int(parts[parts.index("layer") + 1]) < n_frozen
        if (embeddings and "embeddings" in parts) or lower:
            parameter.requires_grad = False
    return model


def trainable_share_of(model):
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / total


def answer_051(model, n_frozen, share, predicted=0.5):
    return assess("05.1", {"layered_model": model, "n_frozen": n_frozen,
                             "predicted_trainable_share": predicted, "trainable_share": share})


def test_05_1_reference_passes_and_the_share_is_recounted_on_the_model():
    model = freeze_lower(tiny_bert(), 2)
    verdict = answer_051(model, 2, trainable_share_of(model), predicted=0.4)
    assert verdict.passed and "you predicted 40.0%" in verdict.message, verdict.message
    assert "percentage points" in verdict.message          # a difference of shares, not a ratio
    one = freeze_lower(tiny_bert(), 1)
    assert answer_051(one, 1, trainable_share_of(one)).passed
    assert not answer_051(one, 1, trainable_share_of(model)).passed


def test_05_1_wrong_layers_frozen_get_named():
    model = freeze_lower(tiny_bert(), 2, embeddings=False)
    verdict = answer_051(model, 2, trainable_share_of(model))
    assert not verdict.passed and "(the embeddings) still trains" in verdict.message
    model = freeze_lower(tiny_bert(), 1)
    verdict = answer_051(model, 2, trainable_share_of(model))
    assert not verdict.passed and "layer.1." in verdict.message and "lower layer" in verdict.message
    model = freeze_lower(tiny_bert(), 3)
    verdict = answer_051(model, 2, trainable_share_of(model))
    assert not verdict.passed and "the upper layers keep training" in verdict.message
    model = freeze_lower(tiny_bert(), 2)
    model.classifier.weight.requires_grad = False
    verdict = answer_051(model, 2, trainable_share_of(model))
    assert not verdict.passed and "classifier.weight is frozen" in verdict.message


def test_05_1_shares_with_the_usual_mistakes_get_specific_feedback():
    model = freeze_lower(tiny_bert(), 2)
    tensors = sum(p.requires_grad for p in model.parameters()) / len(list(model.parameters()))
    share = trainable_share_of(model)
    for wrong, words in [(tensors, "counts parameter tensors"), (1 - share, "the frozen share"),
                         (share + 0.01, "is not the share"), (100 * share, "not a share in"),
                         ("half", "should be a number")]:
        verdict = answer_051(model, 2, wrong)
        assert not verdict.passed and words in verdict.message, (words, verdict.message)
    verdict = answer_051(nn.Linear(3, 2), 2, 0.5)
    assert not verdict.passed and "no numbered transformer layers" in verdict.message


def test_05_2_weighted_accuracy_passes_and_per_batch_mean_fails():
    accuracies, sizes = [0.9, 0.8, 0.5], [100, 100, 2]
    space = {"batch_accuracies": accuracies, "batch_sizes": sizes}

    def weighted(a, n):
        return sum(x * k for x, k in zip(a, n)) / sum(n)

    assert assess("05.2", {**space, "epoch_accuracy": weighted}).passed
    verdict = assess("05.2", {**space, "epoch_accuracy": lambda a, n: sum(a) / len(a)})
    assert not verdict.passed and "mean of the batch accuracies" in verdict.message
    verdict = assess("05.2", {**space, "epoch_accuracy": lambda a, n: 100 * weighted(a, n)})
    assert not verdict.passed and "percentage" in verdict.message
    verdict = assess("05.2", {**space, "epoch_accuracy": lambda a, n: "high"})
    assert not verdict.passed and "should be a number" in verdict.message


def test_a_shortcut_submission_must_fail_052_a_copied_number():
    accuracies, sizes = [0.9, 0.8, 0.5], [100, 100, 2]
    right = (90 + 80 + 1) / 202                     # the right value, copied, not computed
    verdict = assess("05.2", {"epoch_accuracy": right, "batch_accuracies": accuracies,
                                "batch_sizes": sizes})
    assert not verdict.passed and "should be a function" in verdict.message


def reference_warmup_linear(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def test_05_3_reference_schedule_passes():
    assert assess("05.3", {"warmup_linear": reference_warmup_linear}).passed


def test_05_3_schedule_without_warmup_fails_with_the_reason():
    verdict = assess("05.3", {"warmup_linear": lambda s, w, t: max(0.0, (t - s) / t)})
    assert not verdict.passed and "no warmup" in verdict.message


def test_05_3_schedule_without_decay_fails_with_the_reason():
    verdict = assess("05.3", {"warmup_linear": lambda s, w, t: min(1.0, s / max(1, w))})
    assert not verdict.passed and "fall linearly to 0" in verdict.message


def test_05_3_negative_after_the_end_fails():
    verdict = assess("05.3", {"warmup_linear": lambda s, w, t: (s / max(1, w) if s < w
                                                                  else (t - s) / (t - w))})
    assert not verdict.passed and "must not become negative" in verdict.message


def test_a_shortcut_submission_must_fail_052_a_copied_accuracy_as_a_function():
    accuracies, sizes = [0.8, 0.9, 0.5], [100, 100, 37]
    finetune_accuracy = sum(a * n for a, n in zip(accuracies, sizes)) / sum(sizes)
    space = {"batch_accuracies": accuracies, "batch_sizes": sizes}
    verdict = assess("05.2", {**space, "epoch_accuracy": lambda a, n: finetune_accuracy})
    assert not verdict.passed and "For batch accuracies" in verdict.message
    weighted = assess("05.2", {**space, "epoch_accuracy": lambda a, n: sum(
        x * k for x, k in zip(a, n)) / sum(n)})
    assert weighted.passed, weighted.message
    mean = assess("05.2", {**space, "epoch_accuracy": lambda a, n: sum(a) / len(a)})
    assert not mean.passed and "mean of the batch accuracies" in mean.message


def test_053_feedback_describes_the_value_never_the_formula():
    def late(step, warmup_steps, total_steps):
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step + 1) / max(1, total_steps - warmup_steps))

    verdict = assess("05.3", {"warmup_linear": late})
    assert not verdict.passed and "too large" in verdict.message
    assert "(total_steps - step)" not in verdict.message


def test_05_1_judges_a_parameter_table_as_it_judges_the_model():
    from course_utils.homework.modules import ParameterTable

    model = freeze_lower(tiny_bert(), 2)
    table = ParameterTable.of(model)
    assert answer_051(table, 2, trainable_share_of(model)).message == \
        answer_051(model, 2, trainable_share_of(model)).message
    wrong = ParameterTable.of(freeze_lower(tiny_bert(), 2, embeddings=False))
    verdict = answer_051(wrong, 2, trainable_share_of(model))
    assert not verdict.passed and "(the embeddings) still trains" in verdict.message
