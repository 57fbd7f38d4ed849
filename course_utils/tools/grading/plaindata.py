"""Answers as plain data: what a submission's kernel hands the grader, and nothing that runs.

``encode(value)`` (in the kernel) turns an answer into JSON: numbers, strings, lists, tuples,
sets, dicts, NumPy arrays and scalars and PyTorch tensors (as ``.npy`` bytes), mappings such as a
tokenizer's ``BatchEncoding`` (as dicts), pandas tables, PyTorch modules (as their parameter
table: names, shapes and ``requires_grad``, never their code or values:
``homework.modules.ParameterTable``), and functions (as opaque bytes that only the sandboxed
function host ever loads, ``host.py``). Anything else is refused with its type.
``decode(data)`` (in the judge) rebuilds the value from an allow-list of tags; arrays load with
``allow_pickle=False``; depth, counts and sizes are bounded. Nothing here unpickles.

Example::

    >>> decode(json.loads(json.dumps(encode({"a": (1, 2.5)}))))
    {'a': (1, 2.5)}
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any

MAX_DEPTH = 40
MAX_ITEMS = 1_000_000            # list items, dict entries and table cells in one answer
ARRAY_KINDS = set("biufcUSM")    # no object arrays: ``np.load(allow_pickle=False)`` refuses them
TAGS = ("tuple", "list", "set", "dict", "float", "ndarray", "tensor", "dataframe", "series",
        "function", "module")


class Unsupported(TypeError):
    """A value that cannot leave the kernel as plain data."""


def _npy(array) -> str:
    import numpy as np

    if array.dtype.kind not in ARRAY_KINDS:
        raise Unsupported(f"an array of {array.dtype} (objects) is not plain data")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def encode(value: Any, depth: int = 0) -> Any:
    """Return ``value`` as JSON-ready plain data; raise ``Unsupported`` for anything else."""
    import types

    if depth > MAX_DEPTH:
        raise Unsupported("nested too deeply")
    if value is None or isinstance(value, (bool, str)) or type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if type(value) in (list, tuple, set, frozenset):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        tag = {list: "list", tuple: "tuple"}.get(type(value), "set")
        return {"$": tag, "v": [encode(item, depth + 1) for item in items]}
    if type(value) is dict or _is_mapping(value):
        return {"$": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)]
                                   for k, v in value.items()]}
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return {"$": "ndarray", "npy": _npy(value)}
        if isinstance(value, np.generic):
            return {"$": "ndarray", "npy": _npy(np.asarray(value)), "scalar": True}
    if module == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        tensor = value.detach().cpu()
        dtype = str(tensor.dtype).replace("torch.", "")
        if dtype == "bfloat16":
            tensor = tensor.float()
        return {"$": "tensor", "npy": _npy(tensor.numpy()), "dtype": dtype,
                "requires_grad": bool(value.requires_grad)}
    if module == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        return _encode_table(value, depth)
    if _is_torch_module(value):
        from ...homework.modules import ParameterTable

        table = ParameterTable.of(value)
        return {"$": "module", "class": table.class_name[:100],
                "parameters": [[name, list(row.shape), row.requires_grad]
                               for name, row in table.rows]}
    if isinstance(value, types.FunctionType):
        return _encode_function(value)
    raise Unsupported(f"a {type(value).__module__}.{type(value).__qualname__} is not plain data")


def _is_torch_module(value: Any) -> bool:
    """Return whether ``value`` is a ``torch.nn.Module`` (without importing torch for it)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _is_mapping(value: Any) -> bool:
    """Return whether ``value`` is a mapping of the libraries (``BatchEncoding``, ``UserDict``)."""
    from collections.abc import Mapping

    return isinstance(value, Mapping) and type(value).__module__.split(".")[0] in (
        "collections", "transformers")


def _encode_table(value, depth: int) -> dict:
    frame = value.to_frame() if type(value).__name__ == "Series" else value
    return {"$": "dataframe" if frame is value else "series",
            "columns": encode(list(frame.columns), depth + 1),
            "index": encode(list(frame.index), depth + 1),
            "data": [_encode_column(frame[c].to_numpy(), depth + 1) for c in frame.columns],
            "name": encode(getattr(value, "name", None), depth + 1)
            if frame is not value else None}


def _encode_column(values, depth: int) -> Any:
    """Return a table's column: an array, or a list when it holds text (an object array whose
    values are strings or missing: None, or NaN in pandas' string columns)."""
    if values.dtype.kind == "O" and all(v is None or type(v) is str or
                                        (type(v) is float and math.isnan(v)) for v in values):
        return encode(values.tolist(), depth)
    return encode(values, depth)


def _encode_function(value) -> dict:
    try:
        import cloudpickle
    except ImportError as err:
        raise Unsupported("functions need cloudpickle to be graded") from err
    try:
        blob = cloudpickle.dumps(value)
    except Exception as err:
        raise Unsupported(f"the function {value.__name__} cannot be saved "
                          f"({type(err).__name__})") from err
    return {"$": "function", "name": str(value.__name__)[:100],
            "blob": base64.b64encode(blob).decode("ascii")}


# ------------------------------------------------------------------------- the judge's side
class Malformed(ValueError):
    """Data that is not what ``encode`` writes: refused, never guessed at."""


class FunctionAnswer:
    """A function the submission defined: its name and opaque bytes for the function host."""

    def __init__(self, name: str, blob: bytes) -> None:
        self.name, self.blob = name, blob

    def __repr__(self) -> str:
        return f"<function {self.name} (the submission's)>"


def decode(data: Any, depth: int = 0, count: list[int] | None = None) -> Any:
    """Return the value ``encode`` wrote as ``data``; raise ``Malformed`` for anything else."""
    count = count if count is not None else [0]
    count[0] += 1
    if count[0] > MAX_ITEMS or depth > MAX_DEPTH:
        raise Malformed("too large or nested too deeply")
    if data is None or isinstance(data, (bool, str, float)) or type(data) is int:
        return data
    if not isinstance(data, dict) or data.get("$") not in TAGS:
        raise Malformed(f"unexpected {type(data).__name__}")
    tag = data["$"]
    if tag in ("list", "tuple", "set"):
        items = _field(data, "v", list)
        values = [decode(item, depth + 1, count) for item in items]
        return {"list": list, "tuple": tuple, "set": set}[tag](values)
    if tag == "dict":
        pairs = _field(data, "v", list)
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise Malformed("a dict entry is not a pair")
        result = {}
        for key, value in pairs:
            key = decode(key, depth + 1, count)
            try:
                result[key] = decode(value, depth + 1, count)
            except TypeError as err:  # an unhashable key
                raise Malformed("a dict key is not hashable") from err
        return result
    if tag == "float":
        text = _field(data, "v", str)
        if text not in ("nan", "inf", "-inf"):
            raise Malformed("not a special float")
        return float(text)
    if tag in ("ndarray", "tensor"):
        return _decode_array(data, tag)
    if tag in ("dataframe", "series"):
        return _decode_table(data, tag, depth, count)
    if tag == "module":
        return _decode_module(data, count)
    return FunctionAnswer(_field(data, "name", str)[:100], _b64(_field(data, "blob", str)))


def _field(data: dict, key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise Malformed(f"field {key!r} is not a {kind.__name__}")
    return value


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as err:
        raise Malformed("not base64") from err


def _decode_array(data: dict, tag: str):
    import numpy as np

    try:
        array = np.load(io.BytesIO(_b64(_field(data, "npy", str))), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise Malformed(f"not an .npy array ({err})") from err
    if not isinstance(array, np.ndarray) or array.dtype.kind not in ARRAY_KINDS:
        raise Malformed("an array of objects")
    if tag == "ndarray":
        return array[()] if data.get("scalar") is True and array.ndim == 0 else array
    import torch

    dtype = getattr(torch, _field(data, "dtype", str), None)
    if not isinstance(dtype, torch.dtype):
        raise Malformed("not a torch dtype")
    tensor = torch.from_numpy(array.copy()).to(dtype)
    return tensor.requires_grad_(True) if data.get("requires_grad") is True and \
        tensor.is_floating_point() else tensor


def _decode_table(data: dict, tag: str, depth: int, count: list[int]):
    import pandas as pd

    columns = decode(data.get("columns"), depth + 1, count)
    index = decode(data.get("index"), depth + 1, count)
    values = [decode(column, depth + 1, count) for column in _field(data, "data", list)]
    if not (isinstance(columns, list) and isinstance(index, list) and len(values) == len(columns)):
        raise Malformed("a table whose columns do not match")
    try:
        frame = pd.DataFrame(dict(zip(range(len(columns)), values)), index=index)
    except (ValueError, TypeError) as err:
        raise Malformed(f"not a table ({err})") from err
    frame.columns = columns
    if tag == "series":
        series = frame.iloc[:, 0]
        series.name = decode(data.get("name"), depth + 1, count)
        return series
    return frame


def _decode_module(data: dict, count: list[int]):
    from ...homework.modules import ParameterRow, ParameterTable

    rows = []
    for entry in _field(data, "parameters", list):
        count[0] += 1
        if count[0] > MAX_ITEMS:
            raise Malformed("too large or nested too deeply")
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], list) and isinstance(entry[2], bool)
                and len(entry[1]) <= 8
                and all(type(n) is int and 0 <= n < 2 ** 40 for n in entry[1])):
            raise Malformed("a parameter row is not [name, shape, requires_grad]")
        rows.append((entry[0][:300], ParameterRow(tuple(entry[1]), entry[2])))
    return ParameterTable(_field(data, "class", str)[:100], tuple(rows))


def loads(text: str | bytes, max_bytes: int) -> Any:
    """Return parsed JSON of at most ``max_bytes``; raise ``Malformed`` for anything else."""
    if len(text) > max_bytes:
        raise Malformed(f"larger than {max_bytes} bytes")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise Malformed(f"not JSON ({type(err).__name__})") from err
