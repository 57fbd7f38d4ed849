"""Serving a classifier: batches by length, forward functions, ONNX Runtime, the recipe to serve.

Lesson 07 compares ways to serve one classifier (one text per call, length-sorted batches,
int8 weights, ONNX Runtime). Each way is a *forward* function from a batch of token ids
(numpy int64 arrays, as the tokenizer returns them) to logits; ``predict_sorted`` runs any
of them over a list of texts in length-sorted batches and returns the logits in input order,
with the batch shapes it computed (for the FLOP count of ``course_utils.flops``).
``served_recipe`` picks the recipe to serve from the lesson's table by a rule fixed in advance.

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

from .measure import alternate_runs, call_seconds, latency_ms, peak_memory_mb, speed_verdict

__all__ = ["BatchedRun", "agreement", "alternate_runs", "call_seconds", "latency_ms",
           "length_sorted_batches", "onnx_forward", "onnx_session", "peak_memory_mb",
           "predict_sorted", "quiet_logging", "recipe_plan", "restore_input_order",
           "served_recipe", "size_on_disk_mb", "speed_verdict", "torch_forward"]

Batch = dict[str, np.ndarray]
Forward = Callable[[Batch], np.ndarray]
LOWER_PRECISION = {"cpu": "int8", "cuda": "fp16"}   # what "fewer bits" means on each device


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


def torch_forward(model, device: str = "cpu") -> Forward:
    """Return a forward function that runs a PyTorch classifier under ``inference_mode``."""
    import torch

    names = set(inspect.signature(model.forward).parameters)

    def forward(batch: Batch) -> np.ndarray:
        inputs = {k: torch.from_numpy(v).to(device) for k, v in batch.items() if k in names}
        with torch.inference_mode():
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
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def agreement(labels: Sequence[int], reference: Sequence[int]) -> float:
    """Return the share of texts on which ``labels`` equal the ``reference`` labels."""
    labels, reference = np.asarray(labels), np.asarray(reference)
    if labels.shape != reference.shape or labels.size == 0:
        raise ValueError(f"need two label lists of the same non-zero length, got {labels.shape} "
                         f"and {reference.shape}.")
    return float((labels == reference).mean())


def recipe_plan(device_type: str, providers: Sequence[str]) -> dict[str, str]:
    """Return {recipe: what it runs} for a device and the ONNX Runtime providers installed.

    On a CPU: fp32 one text per call and in batches, int8 weights, ONNX Runtime fp32 and int8.
    On a GPU: fp16 replaces int8 (dynamic int8 kernels are CPU kernels), and ONNX Runtime runs
    only when its CUDA provider is installed (``onnxruntime-gpu``).
    """
    lower = LOWER_PRECISION.get(device_type, "int8")
    plan = {"one text per call": "pipeline(text), fp32",
            "sorted batches": "length-sorted batches, fp32",
            f"{lower} weights": f"length-sorted batches, {lower} linear layers"}
    if device_type == "cuda":
        if "CUDAExecutionProvider" in providers:
            plan["ONNX Runtime"] = "ONNX Runtime (CUDA), fp32"
    else:
        plan["ONNX Runtime"] = "ONNX Runtime, fp32"
        plan["ONNX Runtime int8"] = "ONNX Runtime, int8 linear layers"
    return plan


SERVED_COLUMNS = ("rates", "agreement_low", "median_ms", "peak_memory_mb")


def served_recipe(table: Mapping[str, Mapping[str, Any]], min_agreement: float = 0.99) -> str:
    """Return the recipe to serve: the fastest whose agreement lower bound is ``min_agreement``+.

    ``table`` maps each recipe to its row (a pandas DataFrame indexed by recipe works too):
    ``rates`` (throughput of every timed pass), ``agreement_low`` (lower bound of the 95%
    interval of its agreement with fp32), ``median_ms`` (latency of one call) and
    ``peak_memory_mb``. Recipes whose speed ties with the fastest eligible one
    (``speed_verdict``) are broken by the lower median latency, then the lower memory.

    >>> served_recipe({"fp32": {"rates": [10, 11, 10], "agreement_low": 0.993,
    ...                         "median_ms": 9.0, "peak_memory_mb": 300},
    ...                "int8": {"rates": [30, 31, 29], "agreement_low": 0.95,
    ...                         "median_ms": 4.0, "peak_memory_mb": 120}})
    'fp32'
    """
    rows = table.to_dict("index") if hasattr(table, "to_dict") else dict(table)
    for name, row in rows.items():
        missing = [column for column in SERVED_COLUMNS if column not in row]
        if missing:
            raise ValueError(f"recipe {name!r} has no {', '.join(missing)}: served_recipe needs "
                             f"{', '.join(SERVED_COLUMNS)} for every recipe.")
    eligible = {name: row for name, row in rows.items() if row["agreement_low"] >= min_agreement}
    if not eligible:
        raise ValueError(f"no recipe's agreement lower bound reaches {min_agreement:.1%}: serve "
                         "the fp32 model, or measure agreement on more texts.")
    fastest = max(eligible, key=lambda name: statistics.median(eligible[name]["rates"]))
    tied = [name for name, row in eligible.items() if name == fastest
            or speed_verdict(row["rates"], eligible[fastest]["rates"]) == "tie"]
    return min(tied, key=lambda name: (eligible[name]["median_ms"],
                                       eligible[name]["peak_memory_mb"]))
