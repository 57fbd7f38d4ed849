"""Encoders and the classifier head with its training loop, on the real MiniLM."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from course_utils.features import sentence_vectors
from course_utils.models import (
    ClassifierHead,
    LabelCountError,
    predict_proba,
    train_head,
)
from course_utils.parameters import (
    changed_parameters,
    count_parameters,
    freeze,
    snapshot_parameters,
)
from course_utils.training import History


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from transformers import AutoModel, AutoTokenizer

    return (AutoTokenizer.from_pretrained(minilm_dir),
            AutoModel.from_pretrained(minilm_dir).eval())


def separable(n=400, dim=8, classes=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    centres = torch.randn(classes, dim, generator=generator) * 3
    return centres[labels] + torch.randn(n, dim, generator=generator), labels


def test_head_is_sized_from_the_encoder_config(minilm):
    head = ClassifierHead.for_encoder(minilm[1].config, num_labels=3, n_features=2, hidden_size=16)
    assert head(torch.zeros(5, 768)).shape == (5, 3)
    assert count_parameters(head).trainable == 768 * 16 + 16 + 16 * 3 + 3
    linear = ClassifierHead(384, 2, hidden_size=0)
    assert count_parameters(linear).trainable == 384 * 2 + 2


def test_head_explains_a_feature_size_mismatch():
    with pytest.raises(ValueError, match="expects 384 features per text, got 768"):
        ClassifierHead(384, 2)(torch.zeros(1, 768))


def test_head_and_data_label_counts_must_agree():
    head = ClassifierHead(8, 2, hidden_size=4)
    x, y = separable(classes=3)
    with pytest.raises(LabelCountError, match="ids run from 0 to 2 but the head has 2 outputs"):
        train_head(head, x, y, epochs=1)
    with pytest.raises(LabelCountError, match="data has 3 classes but the head has 2"):
        head.check_labels([0, 1], num_labels=3)
    with pytest.raises(LabelCountError, match="num_labels >= 2"):
        ClassifierHead(8, 1)


def test_train_head_learns_and_reports_a_meaningful_loss():
    x, y = separable()
    head = ClassifierHead(8, 3, hidden_size=16, dropout=0.1)
    history = train_head(head, x, y, epochs=15, lr=1e-2, valid=(x, y))
    assert len(history.train_loss) == len(history.valid_accuracy) == 15
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.valid_accuracy[-1] >= 0.95
    assert isinstance(history, History) and history.best_epoch is None
    assert len(history.epoch_seconds) == len(history.train_seconds) == 15
    assert history.seconds >= history.training_seconds > 0
    probs = predict_proba(head, x)
    assert probs.shape == (400, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_features_from_a_function_train_exactly_like_a_tensor():
    x, y = separable()
    start = ClassifierHead(8, 3, hidden_size=16)
    a, b = copy.deepcopy(start), copy.deepcopy(start)
    history_a = train_head(a, x, y, epochs=3, seed=1)
    history_b = train_head(b, lambda batch: x[batch], y, epochs=3, seed=1)
    assert history_a.train_loss == history_b.train_loss
    assert changed_parameters(a, snapshot_parameters(b)) == []


def test_frozen_encoder_does_not_move_while_the_head_trains_through_it(minilm):
    tokenizer, encoder = minilm
    freeze(encoder)
    texts = ["great fun", "a bore", "lovely", "awful mess", "charming", "tedious"]
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    before = snapshot_parameters(encoder)
    head = ClassifierHead.for_encoder(encoder.config, num_labels=2, hidden_size=8)
    head_before = snapshot_parameters(head)
    train_head(head, lambda batch: sentence_vectors([texts[i] for i in batch], tokenizer, encoder),
               labels, epochs=2, batch_size=3)
    assert changed_parameters(encoder, before) == []
    assert all(p.grad is None for p in encoder.parameters())
    assert changed_parameters(head, head_before) != []


def test_keep_best_ends_with_the_best_validation_epoch():
    x, y = separable(n=300, dim=8, classes=3, seed=2)
    valid_x, valid_y = separable(n=150, dim=8, classes=3, seed=3)
    head = ClassifierHead(8, 3, hidden_size=64, dropout=0.0)
    history = train_head(head, x, y, epochs=12, lr=3e-2, valid=(valid_x, valid_y), keep_best=True)
    final = float((predict_proba(head, valid_x).argmax(1) == valid_y.numpy()).mean())
    assert history.best_epoch == int(np.argmax(history.valid_accuracy)) + 1
    assert final == max(history.valid_accuracy)
    assert history.best_valid_accuracy == final
    with pytest.raises(ValueError, match="keep_best=True needs valid"):
        train_head(head, x, y, epochs=1, keep_best=True)
