"""Serving a classifier: batches by length, forward functions, ONNX Runtime, the recipe to serve.

Lesson 07 compares ways to serve one classifier (one text per call, length-sorted batches,
ONNX Runtime, int8 weights). Each way is a *forward* function from a batch of token ids
(numpy int64 arrays, as the tokenizer returns them) to logits; ``predict_sorted`` runs any
of them over a list of texts in length-sorted batches and returns the logits in input order,
with the batch shapes it computed (for the FLOP count of ``course_utils.flops``).
``served_recipe`` picks the recipe to serve from the lesson's table by a rule fixed in advance.

For int8 in ONNX Runtime: ``token_batches`` feeds texts to a graph (calibration of static
quantization, and ``qdq_loss_debug``), ``matmul_nodes`` names the graph's linear layers,
``drift_table`` ranks the layers by how much quantization disturbs what they read, and
``resident_rise_mb`` measures the memory a loaded model holds.

Timings, latency, memory and speed verdicts come from ``course_utils.measure``; lesson 07
imports ``alternate_runs``, ``call_seconds``, ``latency_ms``, ``peak_memory_mb`` and
``speed_verdict`` from here too.

Example::

    >>> forward = torch_forward(model)                                    # doctest: +SKIP
    >>> run = predict_sorted(texts, tokenizer, forward, batch_size=32,
    ...                      max_length=128)                              # doctest: +SKIP
    >>> run.logits.argmax(-1)[:3], run.shapes[:2]                         # doctest: +SKIP
    (array([1, 0, 1]), [(32, 7), (32, 9)])
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import size_on_disk
from .measure import (
    alternate_runs,
    call_seconds,
    latency_ms,
    peak_memory_mb,
    release_memory,
    resident_mb,
    speed_verdict,
)

__all__ = ["BatchedRun", "alternate_runs", "call_seconds", "drift_table",
           "latency_ms", "length_sorted_batches", "matmul_nodes", "onnx_forward",
           "onnx_session", "peak_memory_mb", "predict_sorted", "quiet_logging", "recipe_plan",
           "release_memory", "resident_rise_mb", "restore_input_order", "served_recipe",
           "size_on_disk_mb", "speed_verdict", "token_batches", "torch_forward"]

Batch = dict[str, np.ndarray]
Forward = Callable[[Batch], np.ndarray]


@dataclass
class BatchedRun:
    """Logits in input order, and the (batch, length) of every forward pass that produced them."""

    logits: np.ndarray
    shapes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        """Return the predicted class of every text."""
        return self.logits.argmax(axis=-1)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Return the positions of the texts, sorted by length, cut into batches of ``batch_size``.

    Each batch is then padded only to its own longest text; ``restore_input_order`` puts
    the batches' outputs back in the order of ``lengths``.

    >>> [b.tolist() for b in length_sorted_batches([5, 1, 4, 1, 3], batch_size=2)]
    [[1, 3], [4, 2], [0]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def restore_input_order(rows, batches: Sequence[np.ndarray]):
    """Return ``rows`` (the batches' outputs, concatenated in batch order) in input order.

    ``rows`` is a numpy array or a torch tensor with one row per position in ``batches``.

    >>> batches = length_sorted_batches([5, 1, 4], batch_size=2)      # [[1, 2], [0]]
    >>> restore_input_order(np.array([10, 20, 30]), batches).tolist()
    [30, 10, 20]
    """
    order = np.concatenate(batches) if len(batches) else np.empty(0, dtype=np.int64)
    if len(rows) != len(order):
        raise ValueError(f"{len(rows)} rows for {len(order)} positions in the batches.")
    return rows[np.argsort(order, kind="stable")]


def predict_sorted(texts: Sequence[str], tokenizer, forward: Forward, batch_size: int,
                   max_length: int) -> BatchedRun:
    """Classify ``texts`` in length-sorted batches with ``forward``; logits in input order."""
    texts = list(texts)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                             max_length=max_length)["input_ids"]]
    batches = length_sorted_batches(lengths, batch_size)
    outputs, shapes = [], []
    for positions in batches:
        batch = tokenizer([texts[i] for i in positions], padding=True, truncation=True,
                          max_length=max_length, return_tensors="np")
        batch = {name: values.astype(np.int64) for name, values in batch.items()}
        outputs.append(np.asarray(forward(batch), dtype=np.float32))
        shapes.append(tuple(int(n) for n in batch["input_ids"].shape))
    if not outputs:
        return BatchedRun(np.empty((0, 0), np.float32), shapes)
    return BatchedRun(restore_input_order(np.concatenate(outputs), batches), shapes)


def torch_forward(model, device: str = "cpu", autocast_dtype=None) -> Forward:
    """Return a forward function that runs a PyTorch classifier under ``inference_mode``.

    ``autocast_dtype`` (``torch.bfloat16``, say) runs the matrix products under
    ``torch.autocast`` in that type; ``None`` keeps the model's own precision.
    """
    import torch

    names = set(inspect.signature(model.forward).parameters)

    def forward(batch: Batch) -> np.ndarray:
        inputs = {k: torch.from_numpy(v).to(device) for k, v in batch.items() if k in names}
        lower = (torch.autocast(device_type=device, dtype=autocast_dtype) if autocast_dtype
                 else contextlib.nullcontext())
        with torch.inference_mode(), lower:
            return model(**inputs).logits.float().cpu().numpy()

    return forward


def onnx_session(path: str | Path, threads: int, providers: Sequence[str] | None = None):
    """Return an ONNX Runtime session on ``path`` using ``threads`` threads for each operator."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads      # the threads inside one matrix product
    options.inter_op_num_threads = 1            # one operator at a time: the graph is a chain
    options.log_severity_level = 3              # errors only
    # no busy-waiting between runs: PyTorch's threads share these cores in the same process
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options,
                                providers=list(providers or ["CPUExecutionProvider"]))


def onnx_forward(session) -> Forward:
    """Return a forward function that feeds a batch to an ONNX Runtime session."""
    names = [node.name for node in session.get_inputs()]

    def forward(batch: Batch) -> np.ndarray:
        return session.run(None, {name: batch[name] for name in names})[0]

    return forward


def token_batches(texts: Sequence[str], tokenizer, input_names: Sequence[str],
                  batch_size: int = 32, max_length: int = 128):
    """Return an ONNX Runtime ``CalibrationDataReader`` giving ``texts`` as token-id batches.

    The texts go in length-sorted batches (little padding: padded positions would count in
    the calibrated ranges), each a dict {input name: int64 array}. ``rewind()`` starts over,
    so one reader serves a calibration and then ``qdq_loss_debug.collect_activations``.
    """
    from onnxruntime.quantization import CalibrationDataReader

    texts = list(texts)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                             max_length=max_length)["input_ids"]]
    batches = []
    for positions in length_sorted_batches(lengths, batch_size):
        encoded = tokenizer([texts[i] for i in positions], padding=True, truncation=True,
                            max_length=max_length, return_tensors="np")
        batches.append({name: encoded[name].astype(np.int64) for name in input_names})

    class TokenBatches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = batches
            self.rewind()

        def get_next(self) -> Batch | None:
            return next(self._iterator, None)

        def rewind(self) -> TokenBatches:
            self._iterator = iter(self.batches)
            return self

        def __len__(self) -> int:
            return len(self.batches)

    return TokenBatches()


def matmul_nodes(path: str | Path) -> dict[str, list[str]]:
    """Return an ONNX graph's matrix-product nodes by kind, in graph order.

    ``linear``: MatMul nodes with a weight matrix (an initializer) as second input, the
    encoder's linear layers; ``attention``: MatMul nodes of two activations (scores and
    weighted values); ``gemm``: Gemm nodes (the exporter's form of a linear layer on a
    2-D input: the pooler and the classifier of a BERT classifier).
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer}
    kinds: dict[str, list[str]] = {"linear": [], "attention": [], "gemm": []}
    for node in graph.node:
        if node.op_type == "MatMul":
            kinds["linear" if node.input[1] in weights else "attention"].append(node.name)
        elif node.op_type == "Gemm":
            kinds["gemm"].append(node.name)
    return kinds


def drift_table(activation_errors: Mapping[str, Mapping[str, float]],
                weight_errors: Mapping[str, float], path: str | Path):
    """Return the quantized layers of a QDQ graph, the most disturbed first (a DataFrame).

    ``activation_errors`` and ``weight_errors`` are ``qdq_loss_debug``'s
    ``compute_activation_error`` and ``compute_weight_error`` results (signal-to-quantization-
    noise ratios in dB: lower means more damage); ``path`` is the float graph they were
    computed against. One row per MatMul or Gemm node of ``path`` that reads a quantized
    activation: ``input_sqnr_db`` (what rounding its input to int8 costs, ``qdq_err``),
    ``model_sqnr_db`` (its input against the float model's, errors of every layer before it
    included, ``xmodel_err``) and ``weight_sqnr_db``, sorted by ``input_sqnr_db``.
    """
    import onnx
    import pandas as pd

    graph = onnx.load(str(path), load_external_data=False).graph
    rows = []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        activation = next((name for name in node.input if name in activation_errors), None)
        if activation is None:
            continue
        errors = activation_errors[activation]
        weight = [weight_errors[name] for name in node.input if name in weight_errors]
        rows.append({"node": node.name, "input": activation,
                     "input_sqnr_db": float(errors["qdq_err"]),
                     "model_sqnr_db": float(errors.get("xmodel_err", float("nan"))),
                     "weight_sqnr_db": float(weight[0]) if weight else float("nan")})
    if not rows:
        raise ValueError(f"no MatMul or Gemm node of {path} reads a tensor of activation_errors: "
                         "pass the float graph the QDQ graph was quantized from.")
    return pd.DataFrame(rows).sort_values("input_sqnr_db", kind="stable").set_index("node")


def resident_rise_mb(load: Callable[[], Any],
                     warm_up: Callable[[Any], Any] | None = None) -> tuple[Any, float]:
    """Call ``load``; return what it returns and how far resident memory rose and stayed, in MB.

    Freed heap is handed back to the OS before and after (``release_memory``), so the number
    is what the loaded object holds (weights, buffers, a runtime's arena), not a transient
    peak. ``warm_up(loaded)``, called before the second reading, should run a first small
    request: a library that maps the weights file (safetensors does) reads the weights, and
    so makes them resident, only then. NaN without psutil.
    """
    import importlib.util

    if importlib.util.find_spec("psutil") is None:
        loaded = load()
        if warm_up is not None:
            warm_up(loaded)
        return loaded, float("nan")
    release_memory()
    before = resident_mb()
    loaded = load()
    if warm_up is not None:
        warm_up(loaded)
    release_memory()
    return loaded, max(0.0, resident_mb() - before)


@contextlib.contextmanager
def quiet_logging(level: int = logging.ERROR) -> Iterator[None]:
    """Hide log records below ``level`` while the block runs (a library's advice, say)."""
    previous = logging.root.manager.disable
    logging.disable(level - 1)
    try:
        yield
    finally:
        logging.disable(previous)


def size_on_disk_mb(path: str | Path) -> float:
    """Return the size of a file, or of every file below a folder, in MB."""
    return size_on_disk(path) / 1e6


def recipe_plan(device_type: str, providers: Sequence[str]) -> dict[str, str]:
    """Return {recipe: what it runs} for a device and the ONNX Runtime providers installed.

    On a CPU: fp32 one text per call and in batches, ONNX Runtime fp32, and three int8 copies
    (PyTorch's dynamic int8 on the encoder, ONNX Runtime's dynamic and static int8). On a GPU:
    fp16 replaces int8 (these int8 kernels are CPU kernels), and ONNX Runtime runs only when
    its CUDA provider is installed (``onnxruntime-gpu``).

    >>> list(recipe_plan("cuda", ["CPUExecutionProvider"]))
    ['one text per call', 'sorted batches', 'fp16 weights']
    """
    plan = {"one text per call": "pipeline(text), fp32",
            "sorted batches": "length-sorted batches, fp32"}
    if device_type == "cuda":
        plan["fp16 weights"] = "length-sorted batches, fp16 weights and activations"
        if "CUDAExecutionProvider" in providers:
            plan["ONNX Runtime"] = "ONNX Runtime (CUDA), fp32"
        return plan
    plan["ONNX Runtime"] = "ONNX Runtime, fp32"
    plan["int8 encoder"] = ("PyTorch dynamic int8 on the encoder's linear layers, per channel; "
                            "embeddings, pooler and classifier fp32")
    plan["ORT int8 dynamic"] = ("ONNX Runtime dynamic int8, per channel; pooler and classifier "
                                "fp32")
    plan["ORT int8 static"] = ("ONNX Runtime static int8 (S8S8, QDQ, calibrated), the layers "
                               "that drift most left in fp32")
    return plan


SERVED_COLUMNS = ("rates", "agreement_low", "accuracy_vs_fp32", "median_ms", "memory_mb")


def served_recipe(table: Mapping[str, Mapping[str, Any]], min_agreement: float = 0.99) -> str:
    """Return the recipe to serve: the fastest that still serves the fp32 model's labels.

    ``table`` maps each recipe to its row (a pandas DataFrame indexed by recipe works too):
    ``rates`` (throughput of every timed pass), ``agreement_low`` (lower bound of the 95%
    interval of its agreement with fp32), ``accuracy_vs_fp32`` (the paired test's verdict on
    its accuracy against fp32's: "better", "tie" or "worse"), ``median_ms`` (latency of one
    call) and ``memory_mb`` (resident memory of the loaded model). Eligible: agreement lower
    bound at least ``min_agreement`` and accuracy not "worse". Among them, the recipes whose
    speed ties with the fastest (``speed_verdict`` on the timed passes) are broken by the
    lower median latency, then the lower memory.

    >>> served_recipe({"fp32": {"rates": [10, 11, 10], "agreement_low": 0.993,
    ...                         "accuracy_vs_fp32": "tie", "median_ms": 9.0, "memory_mb": 90},
    ...                "int8": {"rates": [30, 31, 29], "agreement_low": 0.95,
    ...                         "accuracy_vs_fp32": "tie", "median_ms": 4.0, "memory_mb": 60}})
    'fp32'
    """
    rows = table.to_dict("index") if hasattr(table, "to_dict") else dict(table)
    for name, row in rows.items():
        missing = [column for column in SERVED_COLUMNS if column not in row]
        if missing:
            raise ValueError(f"recipe {name!r} has no {', '.join(missing)}: served_recipe needs "
                             f"{', '.join(SERVED_COLUMNS)} for every recipe.")
    eligible = {name: row for name, row in rows.items()
                if row["agreement_low"] >= min_agreement and row["accuracy_vs_fp32"] != "worse"}
    if not eligible:
        raise ValueError(f"no recipe's agreement lower bound reaches {min_agreement:.1%} with an "
                         "accuracy no worse than fp32's: serve the fp32 model, or measure "
                         "agreement on more texts.")
    fastest = max(eligible, key=lambda name: statistics.median(eligible[name]["rates"]))
    tied = [name for name, row in eligible.items() if name == fastest
            or speed_verdict(row["rates"], eligible[fastest]["rates"]) == "tie"]
    return min(tied, key=lambda name: (eligible[name]["median_ms"], eligible[name]["memory_mb"]))
