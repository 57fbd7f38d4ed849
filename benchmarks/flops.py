"""Count the floating-point operations of a BERT encoder's forward pass, analytically.

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

MiniLM (d=384, f=1536, L=6) at s=27: 0.58 GFLOP; at s=512: 13.3 GFLOP per text.

Example::

    >>> forward_flops(encoder.config, batch_size=64, seq_len=32)   # doctest: +SKIP
    44109398016
"""

from __future__ import annotations

from collections.abc import Iterable


def layer_flops(seq_len: int, hidden: int, intermediate: int) -> int:
    """Return the FLOPs of one encoder layer on one sequence of ``seq_len`` positions."""
    s, d, f = seq_len, hidden, intermediate
    return 8 * s * d * d + 4 * s * s * d + 4 * s * d * f


def forward_flops(config, batch_size: int, seq_len: int, pooler: bool = True) -> int:
    """Return the FLOPs of a BERT forward pass on a ``batch_size`` x ``seq_len`` batch."""
    per_sequence = config.num_hidden_layers * layer_flops(
        seq_len, config.hidden_size, config.intermediate_size)
    if pooler:
        per_sequence += 2 * config.hidden_size * config.hidden_size
    return batch_size * per_sequence


def shapes_flops(config, shapes: Iterable[tuple[int, int]], pooler: bool = True) -> int:
    """Return the total FLOPs of forward passes on batches of the given (batch, length) shapes."""
    return sum(forward_flops(config, b, s, pooler) for b, s in shapes)


def counted_flops(model, inputs: dict) -> int:
    """Return the FLOPs torch's FlopCounterMode sees in one forward pass (eager attention only)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    return int(counter.get_total_flops())


class ShapeRecorder:
    """Context manager noting the (batch, length) of every forward pass of ``model``."""

    def __init__(self, model) -> None:
        self.model = model
        self.shapes: list[tuple[int, int]] = []
        self._handle = None

    def _note(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            self.shapes.append((int(ids.shape[0]), int(ids.shape[1])))

    def __enter__(self) -> ShapeRecorder:
        self._handle = self.model.register_forward_pre_hook(self._note, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
