"""A module's parameter table: what a check may read of a model without running it.

An exercise about *which* weights train (05.1) needs the names, shapes and ``requires_grad``
flags of a module's parameters, not its code. ``ParameterTable.of(module)`` takes those from a
live ``nn.Module``; the grader carries the same table across as plain data. A check written
against ``named_parameters()`` then judges a live model in the learner's kernel and its table in
the grader alike.

Example::

    >>> from torch import nn
    >>> table = ParameterTable.of(nn.Linear(3, 2))
    >>> [(name, row.numel(), row.requires_grad) for name, row in table.named_parameters()]
    [('weight', 6, True), ('bias', 2, True)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ParameterRow:
    """One parameter tensor as a row of the table: its shape and whether it trains."""

    shape: tuple[int, ...]
    requires_grad: bool

    def numel(self) -> int:
        """Return how many numbers the tensor holds (as ``Tensor.numel``)."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class ParameterTable:
    """The parameters of a module, by name, without their values or the module's code."""

    class_name: str
    rows: tuple[tuple[str, ParameterRow], ...]

    @classmethod
    def of(cls, module) -> ParameterTable:
        """Return the table of a live ``torch.nn.Module``."""
        return cls(type(module).__qualname__,
                   tuple((name, ParameterRow(tuple(int(n) for n in p.shape),
                                             bool(p.requires_grad)))
                         for name, p in module.named_parameters()))

    def named_parameters(self) -> Iterator[tuple[str, ParameterRow]]:
        """Yield (name, row) in the module's order, as ``nn.Module.named_parameters``."""
        yield from self.rows

    def parameters(self) -> Iterator[ParameterRow]:
        """Yield the rows, as ``nn.Module.parameters``."""
        for _, row in self.rows:
            yield row

    def __repr__(self) -> str:
        return f"<parameter table of a {self.class_name}: {len(self.rows)} tensors>"
