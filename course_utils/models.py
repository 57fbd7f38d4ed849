"""Load pretrained encoders, freeze them, count their parameters, and put a head on top.

A frozen encoder turns texts into features once; a small ``ClassifierHead`` learns the
task on those features. ``train_head`` trains the head on a tensor of features, or on a
function that computes the features of a batch (the slow recipe that runs the encoder
inside every epoch), so both recipes share one loop and can be compared fairly.

Example::

    >>> tokenizer, encoder = load_encoder("minilm")                       # doctest: +SKIP
    >>> freeze(encoder); count_parameters(encoder)                        # doctest: +SKIP
    ParameterCount(trainable=0, frozen=22713216)
    >>> head = ClassifierHead.for_encoder(encoder.config, num_labels=2)   # doctest: +SKIP
    >>> history = train_head(head, train_x, train_y, epochs=30, valid=(valid_x, valid_y))  # doctest: +SKIP
    >>> probs = predict_proba(head, test_x)                               # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .profiles import get_profile, resolve_model

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class LabelCountError(ValueError):
    """The head's number of outputs disagrees with the labels of the data."""


def encoder_name(model_name: str = "", profile: str = "offline") -> str:
    """Return the model to load: ``model_name``, or the profile's encoder when it is empty."""
    return model_name or get_profile(profile).encoder


def load_tokenizer(model_name: str = "", profile: str = "offline"):
    """Return the tokenizer of ``model_name`` (an asset name, hub id or folder)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(encoder_name(model_name, profile)))


def load_encoder(model_name: str = "", profile: str = "offline", device: str | torch.device = "cpu"):
    """Return ``(tokenizer, encoder)`` for ``model_name`` (or the profile's encoder), in eval mode."""
    from transformers import AutoModel

    path = resolve_model(encoder_name(model_name, profile))
    tokenizer = load_tokenizer(path)
    encoder = AutoModel.from_pretrained(path).to(device).eval()
    return tokenizer, encoder


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
    """Return a detached copy of every parameter, to compare after training."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed_parameters(module: nn.Module, snapshot: dict[str, torch.Tensor]) -> list[str]:
    """Return the names of parameters that differ from ``snapshot``."""
    return [name for name, p in module.named_parameters() if not torch.equal(p.detach(), snapshot[name])]


class ClassifierHead(nn.Module):
    """A small classifier on sentence features: [norm] → dropout → linear → activation → dropout → linear.

    ``hidden_size=0`` gives a single linear layer (multinomial logistic regression).
    ``normalize=True`` puts a LayerNorm on the input features first.
    """

    def __init__(self, input_size: int, num_labels: int, hidden_size: int = 256,
                 dropout: float = 0.1, activation: str = "gelu", normalize: bool = False) -> None:
        super().__init__()
        if num_labels < 2:
            raise LabelCountError(f"A classifier head needs num_labels >= 2, got {num_labels}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}.")
        self.input_size, self.num_labels = input_size, num_labels
        layers: list[nn.Module] = [nn.LayerNorm(input_size)] if normalize else []
        layers.append(nn.Dropout(dropout))
        if hidden_size:
            layers += [nn.Linear(input_size, hidden_size), ACTIVATIONS[activation](),
                       nn.Dropout(dropout), nn.Linear(hidden_size, num_labels)]
        else:
            layers.append(nn.Linear(input_size, num_labels))
        self.layers = nn.Sequential(*layers)

    @classmethod
    def for_encoder(cls, config, num_labels: int, n_features: int = 1, **options) -> "ClassifierHead":
        """Return a head whose input size is ``config.hidden_size`` times ``n_features`` (pooled vectors concatenated)."""
        return cls(config.hidden_size * n_features, num_labels, **options)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return one logit per label for each row of ``features``."""
        if features.shape[-1] != self.input_size:
            raise ValueError(f"The head expects {self.input_size} features per text, got "
                             f"{features.shape[-1]}: build it with the size of the features you pass.")
        return self.layers(features)

    def check_labels(self, labels: Sequence[int] | torch.Tensor | np.ndarray,
                     num_labels: int | None = None) -> None:
        """Raise ``LabelCountError`` when the data's labels do not fit this head's outputs."""
        if num_labels is not None and num_labels != self.num_labels:
            raise LabelCountError(
                f"The data has {num_labels} classes but the head has {self.num_labels} outputs. "
                f"Build the head with num_labels={num_labels} (e.g. encoding.num_labels).")
        ids = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_labels):
            raise LabelCountError(
                f"Label ids run from {ids.min()} to {ids.max()} but the head has {self.num_labels} "
                f"outputs (ids 0..{self.num_labels - 1}). Encode labels as 0..K-1 "
                "(course_utils.data.encode_labels) and build the head with num_labels=K.")


@dataclass
class History:
    """What happened during training: per-epoch mean train loss and validation accuracy."""

    train_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None   # 1-based epoch whose weights were kept (keep_best=True)


FeatureSource = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]


def train_head(head: nn.Module, features: FeatureSource, labels: torch.Tensor | np.ndarray, *,
               epochs: int = 20, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.01,
               valid: tuple[torch.Tensor, torch.Tensor | np.ndarray] | None = None, seed: int = 0,
               num_labels: int | None = None, keep_best: bool = False) -> History:
    """Train ``head`` with AdamW and cross-entropy; ``features`` is a tensor or ``f(batch_indices)``.

    With ``valid`` and ``keep_best=True``, the head ends with the weights of its best validation
    epoch (early stopping without stopping: the curve is still recorded to the end).
    """
    if keep_best and valid is None:
        raise ValueError("keep_best=True needs valid=(features, labels) to know which epoch is best.")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if hasattr(head, "check_labels"):
        head.check_labels(labels, num_labels)
    if isinstance(features, torch.Tensor) and len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels: pass the "
                         "features and labels of the same texts.")
    batch_features = features.__getitem__ if isinstance(features, torch.Tensor) else features
    optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad],
                                  lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    history, start = History(), time.perf_counter()
    best_state, best_accuracy = None, -1.0
    for _ in range(epochs):
        head.train()
        total, seen = 0.0, 0
        for batch in torch.randperm(len(labels), generator=order).split(batch_size):
            logits = head(batch_features(batch))
            loss = loss_fn(logits, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        history.train_loss.append(total / seen)
        if valid is not None:
            history.valid_accuracy.append(float(
                (predict_proba(head, valid[0]).argmax(1) == np.asarray(valid[1])).mean()))
            if keep_best and history.valid_accuracy[-1] > best_accuracy:
                best_accuracy = history.valid_accuracy[-1]
                best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
                history.best_epoch = len(history.valid_accuracy)
    if best_state is not None:
        head.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history


@torch.inference_mode()
def predict_proba(head: nn.Module, features: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Return the head's class probabilities for each row of ``features`` (eval mode)."""
    head.eval()
    parts = [torch.softmax(head(chunk), dim=-1) for chunk in features.split(batch_size)]
    return torch.cat(parts).numpy()
