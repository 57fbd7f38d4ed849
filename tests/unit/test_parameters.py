"""Freezing, counting, snapshots and change by layer, on MiniLM and a tiny random BERT."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from course_utils.parameters import (
    ParameterCount,
    changed_parameters,
    count_parameters,
    freeze,
    layer_name,
    relative_change_by_layer,
    snapshot_parameters,
)

MINILM_PARAMETERS = 22_713_216


def tiny_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32, num_labels=2))


def test_freeze_moves_every_parameter_to_frozen(minilm_dir):
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(minilm_dir)
    assert count_parameters(encoder) == ParameterCount(trainable=MINILM_PARAMETERS, frozen=0)
    assert freeze(encoder) is encoder
    counts = count_parameters(encoder)
    assert (counts.trainable, counts.frozen, counts.total) == (0, MINILM_PARAMETERS,
                                                               MINILM_PARAMETERS)
    assert repr(counts) == f"ParameterCount(trainable=0, frozen={MINILM_PARAMETERS})"


def test_count_parameters_adds_up_several_modules():
    head, frozen = nn.Linear(4, 2), freeze(nn.Linear(3, 1))
    assert count_parameters(head, frozen) == ParameterCount(trainable=10, frozen=4)
    assert count_parameters() == ParameterCount(0, 0)


def test_snapshot_is_a_detached_cpu_copy_that_training_does_not_change():
    model = nn.Linear(3, 2)
    snapshot = snapshot_parameters(model)
    assert set(snapshot) == {"weight", "bias"}
    assert all(t.device.type == "cpu" and not t.requires_grad for t in snapshot.values())
    assert changed_parameters(model, snapshot) == []
    with torch.no_grad():
        model.bias += 1.0
    assert changed_parameters(model, snapshot) == ["bias"]
    assert snapshot["bias"].tolist() != model.bias.tolist()


def test_layer_changes_are_zero_for_frozen_embeddings_and_positive_elsewhere():
    model = tiny_bert()
    for p in model.bert.embeddings.parameters():
        p.requires_grad = False
    before = snapshot_parameters(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    ids = torch.randint(5, 50, (4, 6), generator=torch.Generator().manual_seed(1))
    model(input_ids=ids, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    optimizer.step()
    changes = relative_change_by_layer(before, model)
    assert list(changes) == ["embeddings", "layer 0", "layer 1", "pooler", "classifier"]
    assert changes["embeddings"] == 0.0
    assert all(changes[name] > 0 for name in changes if name != "embeddings")


def test_change_by_layer_is_the_norm_of_the_update_over_the_norm_before():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 4.0]]))
    before = snapshot_parameters(model)
    with torch.no_grad():
        model.weight += torch.tensor([[0.0, 0.5]])
    assert relative_change_by_layer(before, model) == {"weight": pytest.approx(0.1)}
    assert relative_change_by_layer({}, model) == {}


def test_layer_name_reads_the_layer_of_bert_and_distilbert_parameters():
    assert layer_name("distilbert.transformer.layer.5.ffn.lin1.weight") == "layer 5"
    assert layer_name("bert.encoder.layer.11.output.dense.bias") == "layer 11"
    assert layer_name("bert.embeddings.word_embeddings.weight") == "embeddings"
    assert layer_name("bert.pooler.dense.weight") == "pooler"
    assert layer_name("pre_classifier.weight") == "pre_classifier"
    assert layer_name("classifier.bias") == "classifier"


def test_a_deep_copy_shares_no_snapshot_state():
    model = nn.Linear(2, 2)
    twin = copy.deepcopy(model)
    assert changed_parameters(twin, snapshot_parameters(model)) == []
