"""Count the FLOPs of a BERT-style encoder's forward pass; measure the matrix-product ceiling.

Only the matrix products are counted (2 FLOPs per multiply-add); embeddings are
lookups, and LayerNorm, softmax, GELU and the residual additions are elementwise
(about 1/hidden of the total: under 1% for MiniLM). For one sequence of ``s``
positions (padding included: the hardware computes it), hidden size ``d``, feed-forward
size ``f`` and ``L`` layers::

    per layer   Q, K, V projections        3 * 2 s d^2
                scores  Q K^T (all heads)      2 s^2 d
                weighted sum  P V              2 s^2 d
                output projection              2 s d^2
                feed-forward up and down   2 * 2 s d f
                total                      8 s d^2 + 4 s^2 d + 4 s d f
    pooler      dense on the [CLS] vector      2 d^2

MiniLM (d=384, f=1536, L=6) at s=27: 0.58 GFLOP; at s=512: 13.3 GFLOP per text. DistilBERT's
config names the same sizes ``dim``, ``hidden_dim`` and ``n_layers``; its ``pre_classifier``
plays the pooler's part. ``matmul_gflops`` measures what the machine's float32 matrix
product reaches, the ceiling that lesson 07 and ``make bench`` compare the encoder with.

Example::

    >>> forward_flops(encoder.config, batch_size=64, seq_len=32)   # doctest: +SKIP
    44109398016
"""

from __future__ import annotations

import time
from collections.abc import Iterable


def layer_flops(seq_len: int, hidden: int, intermediate: int) -> int:
    """Return the FLOPs of one encoder layer on one sequence of ``seq_len`` positions."""
    s, d, f = seq_len, hidden, intermediate
    return 8 * s * d * d + 4 * s * s * d + 4 * s * d * f


def encoder_sizes(config) -> tuple[int, int, int]:
    """Return (layers, hidden, feed-forward) of a BERT or DistilBERT config."""
    layers = getattr(config, "num_hidden_layers", None) or config.n_layers
    hidden = getattr(config, "hidden_size", None) or config.dim
    intermediate = getattr(config, "intermediate_size", None) or config.hidden_dim
    return int(layers), int(hidden), int(intermediate)


def forward_flops(config, batch_size: int, seq_len: int, pooler: bool = True) -> int:
    """Return the FLOPs of an encoder forward pass on a ``batch_size`` x ``seq_len`` batch."""
    layers, hidden, intermediate = encoder_sizes(config)
    per_sequence = layers * layer_flops(seq_len, hidden, intermediate)
    if pooler:
        per_sequence += 2 * hidden * hidden
    return batch_size * per_sequence


def shapes_flops(config, shapes: Iterable[tuple[int, int]], pooler: bool = True) -> int:
    """Return the total FLOPs of forward passes on batches of the given (batch, length) shapes."""
    return sum(forward_flops(config, b, s, pooler) for b, s in shapes)


def matmul_gflops(n: int, repeats: int,
                  flops_per_timing: float = 2e10) -> tuple[list[float], float]:
    """Return GFLOP/s of ``repeats`` timed n x n float32 products, and the relative error of one."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    product = torch.mm(a, b)  # warm-up
    rates = []
    inner = max(1, int(flops_per_timing // (2 * n ** 3)))   # about 20 GFLOP per timing
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=product)
        rates.append(2 * n ** 3 * inner / (time.perf_counter() - start) / 1e9)
    rows = slice(0, min(n, 64))
    reference = a[rows].double() @ b.double()
    error = float((product[rows].double() - reference).abs().max() / reference.abs().max())
    return rates, error
