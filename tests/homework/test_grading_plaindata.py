"""Answers cross from a submission's kernel to the judge as plain data, never as code."""

from __future__ import annotations

import base64
import io
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils.tools.grading.plaindata import (
    FunctionAnswer,
    Malformed,
    Unsupported,
    decode,
    encode,
)


def round_trip(value):
    return decode(json.loads(json.dumps(encode(value))))


def test_numbers_text_containers_arrays_tensors_and_tables_round_trip():
    value = {"a": (1, 2.5, None, True), 3: ["x", {"y"}], "nan": float("nan")}
    back = round_trip(value)
    assert back["a"] == (1, 2.5, None, True) and back[3] == ["x", {"y"}]
    assert np.isnan(back["nan"])
    array = round_trip(np.arange(6, dtype=np.int64).reshape(2, 3))
    assert array.dtype == np.int64 and array.tolist() == [[0, 1, 2], [3, 4, 5]]
    tensor = round_trip(torch.tensor([[1, 2]]))
    assert isinstance(tensor, torch.Tensor) and tensor.tolist() == [[1, 2]]
    assert round_trip(np.float32(0.5)) == 0.5
    table = pd.DataFrame({"size_mb": [1.5, 2.0], "agreement": [0.9, 0.99]}, index=["a", "b"])
    assert round_trip(table).equals(table)


def test_a_table_of_texts_crosses_and_a_table_of_objects_does_not():
    texts = pd.DataFrame({"text": ["a review", "another", None], "label_id": [1, 0, 1]},
                         index=[5, 9, 2])
    back = round_trip(texts)
    assert back["text"].tolist()[:2] == ["a review", "another"] and pd.isna(back["text"].iloc[2])
    assert back["label_id"].tolist() == [1, 0, 1] and back.index.tolist() == [5, 9, 2]
    with pytest.raises(Unsupported, match="objects"):
        encode(pd.DataFrame({"model": [object(), object()]}))


def test_objects_are_refused_with_their_type():
    with pytest.raises(Unsupported, match="DataLoader"):
        encode(torch.utils.data.DataLoader([1, 2]))
    with pytest.raises(Unsupported, match="objects"):
        encode(np.array([object()], dtype=object))


def test_a_function_stays_opaque_bytes_for_the_host():
    def double(x):
        return 2 * x

    answer = round_trip(double)
    assert isinstance(answer, FunctionAnswer) and answer.name == "double"


class Payload:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle ran')",))


def test_pickles_and_unknown_tags_are_refused_without_running():
    objects = io.BytesIO()
    np.save(objects, np.array([Payload()], dtype=object), allow_pickle=True)
    forged = {"$": "ndarray", "npy": base64.b64encode(objects.getvalue()).decode()}
    with pytest.raises(Malformed):
        decode(forged)
    with pytest.raises(Malformed):
        decode({"$": "pickle", "v": base64.b64encode(pickle.dumps(Payload())).decode()})
    with pytest.raises(Malformed):
        decode({"not": "tagged"})
    with pytest.raises(Malformed):
        decode({"$": "list", "v": [{"$": "list", "v": []}] * 2 + [[1]]})


def test_a_module_crosses_as_its_parameter_table_never_its_code_or_values():
    class Secret(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 2)
            self.layer.bias.requires_grad = False

        def forward(self, x):                      # never sent: a table has no code to run
            raise SystemExit("ran")

    data = encode(Secret())
    assert "npy" not in json.dumps(data) and "blob" not in json.dumps(data)   # no values, no code
    table = decode(json.loads(json.dumps(data)))
    assert [(name, row.shape, row.requires_grad) for name, row in table.named_parameters()] == [
        ("layer.weight", (2, 3), True), ("layer.bias", (2,), False)]
    assert sum(row.numel() for row in table.parameters()) == 8
    assert not callable(table)


@pytest.mark.parametrize("rows", [
    [["w", [2, -1], True]],                 # a negative size
    [["w", [2, 3], "yes"]],                 # requires_grad not a bool
    [["w", [2.5], True]],                   # a size that is not an int
    [["w", [2] * 9, True]],                 # more dimensions than any module has
    [[{"$": "list", "v": []}, [2], True]],  # a name that is not text
    [["w", [2]]],                           # a short row
])
def test_a_forged_parameter_table_is_refused(rows):
    with pytest.raises(Malformed, match="parameter row"):
        decode({"$": "module", "class": "Linear", "parameters": rows})


def test_the_judge_grades_a_parameter_table_only_where_the_check_reads_nothing_else():
    from transformers import BertConfig, BertForSequenceClassification

    from course_utils.homework.core import load_lesson_checks
    from course_utils.tools.grading.judge import judge

    load_lesson_checks(strict=True)
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=40, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2))
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not (".embeddings." in f".{name}" or ".layer.0." in name)
    share = sum(p.numel() for p in model.parameters() if p.requires_grad) / \
        sum(p.numel() for p in model.parameters())
    answers = {"05.1": json.dumps({"layered_model": ["ok", encode(model)],
                                   "n_frozen": ["ok", 1], "trainable_share": ["ok", share],
                                   "predicted_trainable_share": ["ok", 0.5]})}
    verdict = judge("05.1", answers, {}, host=None)
    assert verdict["passed"], verdict
    answers["05.1"] = answers["05.1"].replace(json.dumps(share), json.dumps(share / 2))
    assert not judge("05.1", answers, {}, host=None)["passed"]
    head = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.1), torch.nn.Linear(3, 2))
    answers = {"04.2": json.dumps({"my_head": ["ok", encode(head)], "head_input_size": ["ok", 4],
                                   "num_labels": ["ok", 2]})}
    verdict = judge("04.2", answers, {}, host=None)           # 04.2 runs the head on a batch
    assert not verdict["passed"] and "sees a module only as its table" in verdict["message"]
