"""Train and evaluate a classifier by hand: optimizer groups, warmup schedule, epochs, best epoch.

The same loop serves sequence classification (labels ``[B]``) and token tagging
(labels ``[B, T]`` with ``-100`` on positions to ignore). Batches are dicts of tensors
with a ``labels`` entry, as ``DataCollatorWithPadding`` (or a token collator) makes them.

Example::

    >>> optimizer = make_optimizer(model, lr=1e-4, weight_decay=0.01)             # doctest: +SKIP
    >>> scheduler = make_scheduler(optimizer, len(train_loader) * 2)               # doctest: +SKIP
    >>> history = fit(model, train_loader, valid_loader, 2, optimizer, scheduler)  # doctest: +SKIP
    >>> evaluate(model, test_loader)["accuracy"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

# The label of positions no loss or accuracy counts (padding, later subwords, unmasked
# tokens): PyTorch's ``cross_entropy`` skips it by default, and so do the course's loops.
IGNORE_INDEX = -100


class TrainingError(ValueError):
    """A training set-up that cannot work, explained with a fix."""


def no_decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Return AdamW parameter groups: decay on weights, none on biases and LayerNorm weights."""
    no_decay_ids = set()
    for module in model.modules():
        if isinstance(module, nn.LayerNorm) or "layernorm" in type(module).__name__.lower():
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.endswith("bias") or id(parameter) in no_decay_ids:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    if not decay and not no_decay:
        raise TrainingError("The model has no trainable parameters (all requires_grad=False): "
                            "unfreeze at least the head before building an optimizer.")
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.01,
                   fused: bool | None = None) -> torch.optim.AdamW:
    """Return ``torch.optim.AdamW`` over the trainable parameters, with the no-decay groups.

    ``fused=None`` uses the fused kernel (one update over all tensors at once, as ``Trainer``'s
    default ``adamw_torch_fused``) wherever the parameters live on a device that has it.
    """
    groups = no_decay_parameter_groups(model, weight_decay)
    if fused is None:
        fused = all(p.device.type in FUSED_ADAMW_DEVICES for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, fused=fused)


def make_scheduler(optimizer: torch.optim.Optimizer, num_training_steps: int,
                   warmup_ratio: float = 0.1):
    """Return a schedule rising linearly to the optimizer's lr, then falling linearly to 0."""
    if num_training_steps < 1:
        raise TrainingError(f"num_training_steps must be at least 1, got {num_training_steps}: "
                            "pass len(train_loader) * epochs.")
    if not 0 <= warmup_ratio < 1:
        raise TrainingError(f"warmup_ratio is a share of the steps in [0, 1), got {warmup_ratio}.")
    from transformers import get_linear_schedule_with_warmup

    warmup_steps = int(round(warmup_ratio * num_training_steps))
    return get_linear_schedule_with_warmup(optimizer, warmup_steps, num_training_steps)


def check_num_labels(model: nn.Module, label_ids: Iterable[int]) -> None:
    """Raise a clear error if the data has labels the model's head cannot output."""
    num_labels = getattr(getattr(model, "config", None), "num_labels", None)
    ids = np.asarray(list(label_ids))
    ids = ids[ids != IGNORE_INDEX]
    if num_labels is None or ids.size == 0:
        return
    if ids.min() < 0 or ids.max() >= num_labels:
        raise TrainingError(f"The data has label ids {int(ids.min())}..{int(ids.max())} but the "
                            f"model's head has num_labels={num_labels} outputs. Load the model "
                            "with num_labels=encoding.num_labels (and id2label, label2id).")


def _accepts_labels(model: nn.Module) -> bool:
    return "labels" in inspect.signature(model.forward).parameters


def _logits(output) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    raise TrainingError(f"The model returned {type(output).__name__}: expected a tensor of logits "
                        "or an output with .logits.")


def compute_loss(model: nn.Module,
                 batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (mean loss over labelled positions, logits) for one batch with ``labels``."""
    if "labels" not in batch:
        raise TrainingError(f"The batch has keys {sorted(batch)} but no 'labels'.")
    labels = batch["labels"]
    inputs = batch if _accepts_labels(model) else {k: v for k, v in batch.items() if k != "labels"}
    output = model(**inputs)
    logits = _logits(output)
    loss = getattr(output, "loss", None)
    if loss is None:
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                           labels.reshape(-1), ignore_index=IGNORE_INDEX)
    return loss, logits


def _to(batch: dict[str, Any], device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _counted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """Return (labelled positions, correct predictions) in a batch."""
    mask = labels != IGNORE_INDEX
    correct = (logits.argmax(-1) == labels) & mask
    return int(mask.sum()), int(correct.sum())


def _progress(iterable, enabled: bool, description: str):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=description, leave=False)


def _train_epoch(model, loader, optimizer, scheduler, device, max_grad_norm, progress,
                 description="train", mixed_precision=False) -> tuple[float, float]:
    """Train one pass over ``loader``; return (mean loss, accuracy) over labelled positions."""
    model.train()
    device = torch.device(device)
    use_amp = mixed_precision and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    total_loss, total_items, total_correct = 0.0, 0, 0
    bar = _progress(loader, progress, description)
    for batch in bar:
        batch = _to(batch, device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            loss, logits = compute_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if max_grad_norm:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        items, correct = _counted(logits.detach(), batch["labels"])
        total_loss += loss.item() * items          # the batch loss is a mean over its items
        total_items += items
        total_correct += correct
        if progress:
            # refresh=False: the bar redraws at its own interval with the true count; a forced
            # redraw here would print every batch, each showing a stale count.
            bar.set_postfix(loss=f"{total_loss / max(total_items, 1):.4f}", refresh=False)
    if total_items == 0:
        raise TrainingError("The training loader yielded no labelled examples: check the data.")
    return total_loss / total_items, total_correct / total_items


def train_one_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, scheduler=None,
                    device="cpu", max_grad_norm: float | None = 1.0, progress: bool = True,
                    mixed_precision: bool = False) -> float:
    """Train one epoch and return the mean loss per labelled example (or token)."""
    loss, _ = _train_epoch(model, loader, optimizer, scheduler, device, max_grad_norm, progress,
                           mixed_precision=mixed_precision)
    return loss


@torch.no_grad()
def evaluate(model: nn.Module, loader, device="cpu", progress: bool = False) -> dict[str, Any]:
    """Return loss, accuracy, predictions, labels and probabilities over labelled positions."""
    model.eval()
    total_loss, total_items = 0.0, 0
    predictions, labels, probabilities = [], [], []
    for batch in _progress(loader, progress, "evaluate"):
        batch = _to(batch, device)
        loss, logits = compute_loss(model, batch)
        flat_logits = logits.reshape(-1, logits.shape[-1]).float()
        flat_labels = batch["labels"].reshape(-1)
        keep = flat_labels != IGNORE_INDEX
        items = int(keep.sum())
        total_loss += loss.item() * items
        total_items += items
        probs = flat_logits[keep].softmax(-1)
        predictions.append(probs.argmax(-1).cpu().numpy())
        labels.append(flat_labels[keep].cpu().numpy())
        probabilities.append(probs.cpu().numpy())
    if total_items == 0:
        raise TrainingError("The evaluation loader yielded no labelled examples: check the data.")
    predictions, labels = np.concatenate(predictions), np.concatenate(labels)
    return {"loss": total_loss / total_items, "accuracy": float((predictions == labels).mean()),
            "predictions": predictions, "labels": labels,
            "probabilities": np.concatenate(probabilities)}


@dataclass
class History:
    """What one training loop recorded per epoch, the epoch whose weights were kept, the times.

    ``fit`` fills every list; ``models.train_head`` fills the train loss, the validation
    accuracy (when given validation data) and the times.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None   # 1-based epoch whose weights were kept; None: the last

    @property
    def seconds(self) -> float:
        """Return the total wall-clock time of all epochs (training and validation)."""
        return float(sum(self.epoch_seconds))

    @property
    def training_seconds(self) -> float:
        """Return the wall-clock time spent in training passes only (no validation)."""
        return float(sum(self.train_seconds))

    @property
    def best_valid_accuracy(self) -> float:
        """Return the validation accuracy of the kept epoch."""
        if self.best_epoch is None:
            raise TrainingError("No epoch was chosen as best: train with validation data "
                                "(and keep_best=True for train_head).")
        return self.valid_accuracy[self.best_epoch - 1]

    def table(self):
        """Return the recorded curves as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        columns = {"train loss": self.train_loss, "train accuracy": self.train_accuracy,
                   "valid loss": self.valid_loss, "valid accuracy": self.valid_accuracy}
        frame = pd.DataFrame({name: values for name, values in columns.items() if values})
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame


def fit(model: nn.Module, train_loader, valid_loader, epochs: int, optimizer: torch.optim.Optimizer,
        scheduler=None, device="cpu", max_grad_norm: float | None = 1.0, progress: bool = True,
        mixed_precision: bool = False) -> History:
    """Train for ``epochs``, validate after each, and end with the best epoch's weights."""
    if epochs < 1:
        raise TrainingError(f"epochs must be at least 1, got {epochs}.")
    history, best_state = History(), None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss, train_accuracy = _train_epoch(
            model, train_loader, optimizer, scheduler, device, max_grad_norm, progress,
            description=f"epoch {epoch}/{epochs}", mixed_precision=mixed_precision)
        history.train_seconds.append(time.perf_counter() - start)
        valid = evaluate(model, valid_loader, device)
        history.epoch_seconds.append(time.perf_counter() - start)
        history.train_loss.append(train_loss)
        history.train_accuracy.append(train_accuracy)
        history.valid_loss.append(valid["loss"])
        history.valid_accuracy.append(valid["accuracy"])
        if best_state is None or valid["accuracy"] > history.best_valid_accuracy:
            history.best_epoch = epoch
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if progress:
            print(f"epoch {epoch}: train loss {train_loss:.4f}, accuracy {train_accuracy:.4f} | "
                  f"valid loss {valid['loss']:.4f}, accuracy {valid['accuracy']:.4f}")
    if history.best_epoch != epochs:
        model.load_state_dict(best_state)
    return history

