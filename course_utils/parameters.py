"""Freeze a model, count its parameters, and measure which of them training moved.

Lesson 04 freezes an encoder and checks that training a head leaves it unchanged;
lesson 05 measures how far fine-tuning moved each layer; lesson 06 counts what a tagger
trains. All of them use these functions on any ``torch.nn.Module``.

Example::

    >>> freeze(encoder); count_parameters(encoder)                  # doctest: +SKIP
    ParameterCount(trainable=0, frozen=22713216)
    >>> before = snapshot_parameters(model)                          # doctest: +SKIP
    >>> relative_change_by_layer(before, model)                      # doctest: +SKIP
    {'embeddings': 0.0012, 'layer 0': 0.0031, ..., 'classifier': 0.41}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Prefixes a task model puts before its encoder's parameter names.
ENCODER_PREFIXES = {"bert", "distilbert", "roberta", "model"}


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients for every parameter of ``module``; return it."""
    for parameter in module.parameters():
        parameter.requires_grad = False
    return module


@dataclass(frozen=True)
class ParameterCount:
    """How many parameters a module trains and how many it keeps frozen."""

    trainable: int
    frozen: int

    @property
    def total(self) -> int:
        """Return trainable + frozen."""
        return self.trainable + self.frozen


def count_parameters(*modules: nn.Module) -> ParameterCount:
    """Count the trainable and frozen parameters of one or more modules together."""
    trainable = frozen = 0
    for module in modules:
        for parameter in module.parameters():
            if parameter.requires_grad:
                trainable += parameter.numel()
            else:
                frozen += parameter.numel()
    return ParameterCount(trainable, frozen)


def snapshot_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    """Return a detached CPU copy of every parameter, to compare with after training."""
    return {name: p.detach().to("cpu", copy=True) for name, p in module.named_parameters()}


def changed_parameters(module: nn.Module, snapshot: dict[str, torch.Tensor]) -> list[str]:
    """Return the names of parameters that differ from ``snapshot``."""
    return [name for name, p in module.named_parameters()
            if not torch.equal(p.detach().cpu(), snapshot[name].cpu())]


def layer_name(parameter_name: str) -> str:
    """Return the layer a parameter belongs to: ``embeddings``, ``layer 3``, ``classifier``, ..."""
    parts = parameter_name.split(".")
    if "layer" in parts:
        index = parts.index("layer")
        if index + 1 < len(parts) and parts[index + 1].isdigit():
            return f"layer {parts[index + 1]}"
    if "embeddings" in parts:
        return "embeddings"
    return parts[1] if len(parts) > 2 and parts[0] in ENCODER_PREFIXES else parts[0]


def relative_change_by_layer(before: dict[str, torch.Tensor], model: nn.Module) -> dict[str, float]:
    """Return ||after - before|| / ||before|| per layer, over all its parameters, in model order."""
    deltas: dict[str, float] = {}
    norms: dict[str, float] = {}
    for name, parameter in model.named_parameters():
        if name not in before:
            continue
        layer = layer_name(name)
        old = before[name].float()
        delta = float((parameter.detach().cpu().float() - old).pow(2).sum())
        deltas[layer] = deltas.get(layer, 0.0) + delta
        norms[layer] = norms.get(layer, 0.0) + float(old.pow(2).sum())
    return {layer: (deltas[layer] / max(norms[layer], 1e-24)) ** 0.5 for layer in deltas}
