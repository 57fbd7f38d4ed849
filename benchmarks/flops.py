"""FLOP counting for the benchmarks: the analytic count of ``course_utils.flops`` (one home,
shared with lesson 07; the formula is in its docstring and in README.md), torch's own count
(``FlopCounterMode``) that checks it, and a recorder of the batch shapes a model ran.
"""

from __future__ import annotations

from course_utils.flops import forward_flops, layer_flops, shapes_flops

__all__ = ["ShapeRecorder", "counted_flops", "forward_flops", "layer_flops", "shapes_flops"]


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
