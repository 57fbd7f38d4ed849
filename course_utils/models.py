"""Load pretrained encoders and train a small classifier head on their features.

A frozen encoder turns texts into features once; a small ``ClassifierHead`` learns the
task on those features. ``train_head`` trains the head on a tensor of features, or on a
function that computes the features of a batch (the slow recipe that runs the encoder
inside every epoch), so both recipes share one loop and can be compared fairly.

Example::

    >>> encoder = AutoModel.from_pretrained(resolve_model("minilm"))       # doctest: +SKIP
    >>> freeze(encoder)           # course_utils.parameters                # doctest: +SKIP
    >>> head = ClassifierHead.for_encoder(encoder.config, num_labels=2)   # doctest: +SKIP
    >>> history = train_head(head, train_x, train_y, epochs=30,
    ...                      valid=(valid_x, valid_y))                       # doctest: +SKIP
    >>> probs = predict_proba(head, test_x)                               # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .training import History

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU,
                                                    "tanh": nn.Tanh}


class LabelCountError(ValueError):
    """The head's number of outputs disagrees with the labels of the data."""


class ClassifierHead(nn.Module):
    """A small classifier on sentence features.

    [norm] → dropout → linear → activation → dropout → linear.

    ``hidden_size=0`` gives a single linear layer (multinomial logistic regression).
    ``normalize=True`` puts a LayerNorm on the input features first.
    """

    def __init__(self, input_size: int, num_labels: int, hidden_size: int = 256,
                 dropout: float = 0.1, activation: str = "gelu", normalize: bool = False) -> None:
        super().__init__()
        if num_labels < 2:
            raise LabelCountError(f"A classifier head needs num_labels >= 2, got {num_labels}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}: use one of "
                             f"{', '.join(ACTIVATIONS)}.")
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
    def for_encoder(cls, config, num_labels: int, n_features: int = 1,
                    **options) -> ClassifierHead:
        """Return a head for ``n_features`` concatenated vectors of ``config.hidden_size``."""
        return cls(config.hidden_size * n_features, num_labels, **options)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return one logit per label for each row of ``features``."""
        if features.shape[-1] != self.input_size:
            raise ValueError(f"The head expects {self.input_size} features per text, got "
                             f"{features.shape[-1]}: build it with the size of the features "
                             "you pass.")
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


FeatureSource = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]


def train_head(head: nn.Module, features: FeatureSource, labels: torch.Tensor | np.ndarray, *,
               epochs: int = 20, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.01,
               valid: tuple[torch.Tensor, torch.Tensor | np.ndarray] | None = None, seed: int = 0,
               num_labels: int | None = None, keep_best: bool = False) -> History:
    """Train ``head`` with AdamW and cross-entropy; ``features``: a tensor or ``f(batch_indices)``.

    With ``valid`` and ``keep_best=True``, the head ends with the weights of its best validation
    epoch (early stopping without stopping: the curve is still recorded to the end).
    """
    if keep_best and valid is None:
        raise ValueError("keep_best=True needs valid=(features, labels) to know which epoch is "
                         "best.")
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
    history = History()
    best_state, best_accuracy = None, -1.0
    for _ in range(epochs):
        start = time.perf_counter()
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
        history.train_seconds.append(time.perf_counter() - start)
        if valid is not None:
            history.valid_accuracy.append(float(
                (predict_proba(head, valid[0]).argmax(1) == np.asarray(valid[1])).mean()))
            if keep_best and history.valid_accuracy[-1] > best_accuracy:
                best_accuracy = history.valid_accuracy[-1]
                best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
                history.best_epoch = len(history.valid_accuracy)
        history.epoch_seconds.append(time.perf_counter() - start)
    if best_state is not None:
        head.load_state_dict(best_state)
    return history


@torch.inference_mode()
def predict_proba(head: nn.Module, features: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Return the head's class probabilities for each row of ``features`` (eval mode)."""
    head.eval()
    parts = [torch.softmax(head(chunk), dim=-1) for chunk in features.split(batch_size)]
    return torch.cat(parts).numpy()
