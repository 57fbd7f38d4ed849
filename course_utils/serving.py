"""Serving a classifier and measuring it: batches by length, timings, memory, size, verdicts.

Lesson 07 compares ways to serve one classifier (one text per call, length-sorted batches,
int8 weights, ONNX Runtime). Each way is a *forward* function from a batch of token ids
(numpy int64 arrays, as the tokenizer returns them) to logits; ``predict_sorted`` runs any
of them over a list of texts in length-sorted batches and returns the logits in input order,
with the batch shapes it computed (for the FLOP count of ``course_utils.flops``).

Example::

    >>> forward = torch_forward(model)                                    # doctest: +SKIP
    >>> run = predict_sorted(texts, tokenizer, forward, batch_size=32, max_length=128)
    >>> run.logits.argmax(-1)[:3], run.shapes[:2]                         # doctest: +SKIP
    (array([1, 0, 1]), [(32, 7), (32, 9)])
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    """Return the positions of the texts, sorted by length, cut into batches of ``batch_size``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def predict_sorted(texts: Sequence[str], tokenizer, forward: Forward, batch_size: int,
                   max_length: int) -> BatchedRun:
    """Classify ``texts`` in length-sorted batches with ``forward``; logits in input order."""
    texts = list(texts)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                             max_length=max_length)["input_ids"]]
    logits: np.ndarray | None = None
    shapes = []
    for positions in length_sorted_batches(lengths, batch_size):
        batch = tokenizer([texts[i] for i in positions], padding=True, truncation=True,
                          max_length=max_length, return_tensors="np")
        batch = {name: values.astype(np.int64) for name, values in batch.items()}
        out = np.asarray(forward(batch), dtype=np.float32)
        if logits is None:
            logits = np.empty((len(texts), out.shape[-1]), dtype=np.float32)
        logits[positions] = out
        shapes.append(tuple(int(n) for n in batch["input_ids"].shape))
    return BatchedRun(logits if logits is not None else np.empty((0, 0), np.float32), shapes)


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


def call_seconds(call: Callable[[Any], Any], items: Sequence[Any]) -> list[float]:
    """Return the wall time in seconds of ``call(item)`` for each item, one call at a time."""
    seconds = []
    for item in items:
        start = time.perf_counter()
        call(item)
        seconds.append(time.perf_counter() - start)
    return seconds


def alternate_runs(recipes: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time every recipe ``repeats`` times, one run of each per round; return seconds per run.

    Alternating spreads the machine's slow moments over all recipes instead of one.
    """
    seconds: dict[str, list[float]] = {name: [] for name in recipes}
    for _ in range(repeats):
        for name, recipe in recipes.items():
            start = time.perf_counter()
            recipe()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return the median and the 95th percentile of single-call times, in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000
    return {"median_ms": float(np.median(values)), "p95_ms": float(np.percentile(values, 95))}


def peak_memory_mb(function: Callable[[], Any], interval: float = 0.01) -> tuple[Any, float]:
    """Run ``function``; return its result and the rise of resident memory it caused, in MB.

    NaN when psutil is not installed (it is in Colab, Kaggle and the course's ``batch`` extra).
    """
    import ctypes
    import gc
    import importlib.util

    if importlib.util.find_spec("psutil") is None:
        return function(), math.nan

    from .resources import PeakMemory

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):   # not glibc: peaks may include old heap
        ctypes.CDLL("libc.so.6").malloc_trim(0)           # hand freed heap back to the system
    with PeakMemory(interval=interval) as memory:
        result = function()
    return result, max(0.0, memory.peak_mb - memory.start_mb)


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


def speed_verdict(runs: Sequence[float], baseline_runs: Sequence[float]) -> str:
    """Return "faster", "slower" or "tie": throughputs ``runs`` against ``baseline_runs``.

    A tie when the ranges (min to max) of the two sets of runs overlap: the machine's noise
    is then as large as the difference.
    """
    if not runs or not baseline_runs:
        raise ValueError("each side needs at least one timed run.")
    if min(runs) > max(baseline_runs):
        return "faster"
    if max(runs) < min(baseline_runs):
        return "slower"
    return "tie"


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
