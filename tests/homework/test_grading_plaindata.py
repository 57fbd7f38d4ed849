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
