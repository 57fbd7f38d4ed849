"""Checks for lesson 03 (your own data): the validation loader, label ids, a dynamic-padding loader.

Each check inspects the learner's objects, recomputes what they should hold, and says what
differs. Example::

    >>> evaluate("03.1", {"valid_loader": loader, "valid_dataset": ds, "batch_size": 32})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import (DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler,
                              TensorDataset)

from .core import Feedback, exercise

# The source lesson's tweet labels: -1 (most negative) to 2 (most positive).
TWEET_LABELS = [2, -1, 0, 1, 1, 2, -1, 0, 2, 1]


def _loader_problem(loader: Any, name: str) -> Feedback | None:
    """Return feedback when ``loader`` is not a DataLoader, else None."""
    if isinstance(loader, DataLoader):
        return None
    if isinstance(loader, Dataset):
        return Feedback.wrong(f"`{name}` is a {type(loader).__name__} (the data itself); wrap it "
                              "in a DataLoader, which cuts it into batches.")
    if isinstance(loader, Sampler):
        return Feedback.wrong(f"`{name}` is a {type(loader).__name__}, which only chooses the "
                              "order; pass it to DataLoader(..., sampler=...).")
    return Feedback.wrong(f"`{name}` is a {type(loader).__name__}, not a "
                          "torch.utils.data.DataLoader.")


def _order_problem(loader: DataLoader, name: str) -> Feedback | None:
    """Return feedback when ``loader`` does not read its dataset once, in order."""
    if loader.batch_size is None:
        return Feedback.wrong(f"`{name}` uses a custom batch_sampler; give DataLoader a "
                              "sampler and a batch_size instead.")
    if isinstance(loader.sampler, RandomSampler):
        return Feedback.wrong(f"`{name}` uses a RandomSampler: it shuffles the validation "
                              "examples, so predictions no longer line up with the rows of the "
                              "validation split and every run reads them in another order.")
    if not isinstance(loader.sampler, SequentialSampler):
        return Feedback.wrong(f"`{name}` uses a {type(loader.sampler).__name__}; evaluation "
                              "needs every example once, in order: a SequentialSampler.")
    if loader.drop_last:
        skipped = len(loader.dataset) % loader.batch_size
        return Feedback.wrong(f"`{name}` has drop_last=True: it skips the last {skipped} "
                              "example(s) of the last, smaller batch. Evaluate on all of them.")
    return None


def _same_data(dataset: Any, reference: Any) -> bool:
    """Return True when two TensorDatasets hold equal tensors (or are the same object)."""
    if dataset is reference:
        return True
    if isinstance(dataset, TensorDataset) and isinstance(reference, TensorDataset):
        return len(dataset.tensors) == len(reference.tensors) and all(
            a.shape == b.shape and torch.equal(a, b)
            for a, b in zip(dataset.tensors, reference.tensors))
    return False


@exercise("03.1", lesson="03", names=["valid_loader", "valid_dataset", "batch_size"],
          hint="Build it like train_loader in section 5, over valid_dataset, with a sampler that "
               "keeps the order (torch.utils.data.SequentialSampler) and the same batch_size.")
def validation_loader_reads_in_order(valid_loader, valid_dataset, batch_size):
    """Build the validation DataLoader with a SequentialSampler."""
    problem = _loader_problem(valid_loader, "valid_loader")
    if problem:
        return problem
    if not _same_data(valid_loader.dataset, valid_dataset):
        return Feedback.wrong(f"valid_loader reads a dataset of {len(valid_loader.dataset)} "
                              f"examples that is not valid_dataset ({len(valid_dataset)} "
                              "examples): did you pass train_dataset?")
    problem = _order_problem(valid_loader, "valid_loader")
    if problem:
        return problem
    if valid_loader.batch_size != batch_size:
        return Feedback.wrong(f"valid_loader makes batches of {valid_loader.batch_size}; use "
                              f"batch_size ({batch_size}) like the training loader.")
    seen = sum(len(batch[0]) for batch in valid_loader)
    if seen != len(valid_dataset):
        return Feedback.wrong(f"One pass over valid_loader yields {seen} examples, not "
                              f"{len(valid_dataset)}.")
    return Feedback.right(f"valid_loader reads all {seen} validation examples once, in order. "
                          "Shuffling only helps training (it varies the gradient steps); for "
                          "evaluation it changes nothing but the order, which would stop the "
                          "predictions from lining up with the rows of the split.")


@exercise("03.2", lesson="03", names=["tweet_ids", "tweet_id2label"],
          hint="Sort the distinct labels and number them from 0 (enumerate); tweet_id2label maps "
               "each number to its label as a string, and a label's id is its number (build the "
               "reverse dictionary to look it up).")
def tweet_labels_become_contiguous_ids(tweet_ids, tweet_id2label):
    """Encode the labels -1, 0, 1, 2 as ids 0..K-1 and keep the mapping."""
    try:
        ids = [int(i) for i in (tweet_ids.tolist() if hasattr(tweet_ids, "tolist") else tweet_ids)]
    except (TypeError, ValueError):
        return Feedback.wrong(f"`tweet_ids` should be a list of integers, not "
                              f"{type(tweet_ids).__name__}.")
    if len(ids) != len(TWEET_LABELS):
        return Feedback.wrong(f"`tweet_ids` has {len(ids)} entries; give one id per label "
                              f"({len(TWEET_LABELS)}).")
    k = len(set(TWEET_LABELS))
    if min(ids) < 0:
        return Feedback.wrong(f"`tweet_ids` contains {min(ids)}: CrossEntropyLoss reads a label "
                              f"as a position in the {k} logits, so ids must run from 0 to {k - 1}.")
    if max(ids) >= k:
        return Feedback.wrong(f"`tweet_ids` contains {max(ids)}, but with {k} classes the "
                              f"largest id is {k - 1}: the model's head has no logit {max(ids)}.")
    if not isinstance(tweet_id2label, dict):
        return Feedback.wrong(f"`tweet_id2label` should be a dict from id to label, not "
                              f"{type(tweet_id2label).__name__}.")
    if any(not isinstance(key, int) for key in tweet_id2label):
        return Feedback.wrong("`tweet_id2label` has keys that are not ints (e.g. strings); use int keys (0, 1, ...) as the "
                              "model config does.")
    if sorted(tweet_id2label, key=str) != sorted(range(k), key=str):
        return Feedback.wrong(f"`tweet_id2label` has keys {sorted(tweet_id2label, key=str)}; it "
                              f"needs exactly the ids 0..{k - 1}, as ints.")
    for position, (label, i) in enumerate(zip(TWEET_LABELS, ids)):
        if str(tweet_id2label[i]) != str(label):
            return Feedback.wrong(f"Label {label} (position {position}) got id {i}, but "
                                  f"tweet_id2label[{i}] is {tweet_id2label[i]!r}: the ids and the "
                                  "mapping disagree.")
    return Feedback.right(f"{k} classes, ids 0..{k - 1}, and a mapping to read predictions back "
                          "as the original labels.")


@exercise("03.3", lesson="03", names=["valid_dynamic_loader", "valid_dataset", "batch_size"],
          hint="Tokenize the validation frame with Dataset.from_pandas(...).map(tokenize, "
               "batched=True, ...) as for training, then DataLoader(..., sampler="
               "SequentialSampler(...), batch_size=batch_size, collate_fn=collator).")
def dynamic_validation_loader_matches_fixed(valid_dynamic_loader, valid_dataset, batch_size):
    """Build the validation loader the current way and get the same model inputs."""
    from ..batching import evaluation_loader, same_model_inputs

    problem = _loader_problem(valid_dynamic_loader, "valid_dynamic_loader")
    if problem:
        return problem
    problem = _order_problem(valid_dynamic_loader, "valid_dynamic_loader")
    if problem:
        return problem
    if valid_dynamic_loader.batch_size != batch_size:
        return Feedback.wrong(f"valid_dynamic_loader makes batches of "
                              f"{valid_dynamic_loader.batch_size}; use batch_size ({batch_size}).")
    if len(valid_dynamic_loader.dataset) != len(valid_dataset):
        return Feedback.wrong(f"valid_dynamic_loader reads {len(valid_dynamic_loader.dataset)} "
                              f"examples; the validation split has {len(valid_dataset)}: did you "
                              "tokenize another split?")
    try:
        first = next(iter(valid_dynamic_loader))
    except RuntimeError as err:  # default_collate cannot stack texts of different lengths
        return Feedback.wrong(f"Building a batch failed ({err}): texts of different lengths need "
                              "padding at batch time: pass collate_fn=DataCollatorWithPadding("
                              "tokenizer).")
    if not isinstance(first, Mapping) or "attention_mask" not in first:
        return Feedback.wrong("A batch should be a dict with input_ids, attention_mask and "
                              "labels: pass collate_fn=DataCollatorWithPadding(tokenizer).")
    if "labels" not in first:
        return Feedback.wrong("The batches have no labels: keep the label ids in a column "
                              "called labels (rename label_id).")
    lengths = first["attention_mask"].sum(dim=1)
    if first["input_ids"].shape[1] != int(lengths.max()):
        return Feedback.wrong(f"The first batch is {first['input_ids'].shape[1]} tokens wide but "
                              f"its longest text has {int(lengths.max())}: pad per batch "
                              "(padding=False in the tokenizer, the collator pads).")
    try:
        compared = same_model_inputs(evaluation_loader(valid_dataset, batch_size),
                                     valid_dynamic_loader)
    except AssertionError as err:
        return Feedback.wrong(f"The model would see other inputs than from valid_loader: {err} "
                              "Same split, same order, same max_length?")
    return Feedback.right(f"All {compared} validation texts give the model the same tokens and "
                          "masks as the fixed-length loader, with less padding.")
