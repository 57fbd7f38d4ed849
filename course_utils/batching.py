"""Turn tokenized texts into batches, two ways, and measure the padding each wastes.

*Fixed length* (the older recipe, written out in lesson 03): tokenize every text, pad or cut
it to one ``max_length`` with ``keras.utils.pad_sequences``, build the attention masks and wrap
the tensors in a ``TensorDataset``.

*Dynamic padding* (the current recipe): a ``datasets.Dataset`` tokenized with a batched
``map`` and no padding; ``DataCollatorWithPadding`` pads each batch only to its own
longest text, and ``length_grouped_sampler`` puts texts of similar length together.

Both give the model the same tokens and masks once the padding is trimmed
(``trimmed_rows``); ``padding_waste`` says what share of the positions are padding.

Example::

    >>> dynamic = tokenized_dataset(frame, tokenizer, max_length=128)              # doctest: +SKIP
    >>> loader = evaluation_loader(dynamic, 32, DataCollatorWithPadding(tokenizer)) # doctest: +SKIP
    >>> padding_waste(loader)                                                      # doctest: +SKIP
    0.21
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import torch
from torch.utils.data import DataLoader, SequentialSampler


def token_ids(texts: Sequence[str], tokenizer, max_length: int) -> list[list[int]]:
    """Return token ids per text, with [CLS]/[SEP], cut to ``max_length`` by the tokenizer."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def attention_mask_from_lengths(lengths: Sequence[int], max_length: int) -> torch.Tensor:
    """Return a 0/1 mask with ones on the first ``length`` positions of each row."""
    lengths = torch.as_tensor(list(lengths)).clamp(max=max_length)
    return (torch.arange(max_length)[None, :] < lengths[:, None]).long()


def evaluation_loader(dataset, batch_size: int, collate_fn=None) -> DataLoader:
    """Return a DataLoader that visits every example once, in order."""
    return DataLoader(dataset, sampler=SequentialSampler(dataset), batch_size=batch_size,
                      collate_fn=collate_fn)


def tokenized_dataset(frame: pd.DataFrame, tokenizer, max_length: int,
                      text_column: str = "text", label_column: str = "label_id"):
    """Return a datasets.Dataset of unpadded ``input_ids``/``attention_mask`` and ``labels``."""
    from datasets import Dataset

    dataset = Dataset.from_pandas(frame[[text_column, label_column]], preserve_index=False)

    def tokenize(batch):
        return tokenizer(batch[text_column], truncation=True, max_length=max_length)

    dataset = dataset.map(tokenize, batched=True, remove_columns=[text_column])
    return dataset.rename_column(label_column, "labels")


def length_grouped_sampler(lengths: Sequence[int], batch_size: int, seed: int = 0):
    """Return a sampler that shuffles, then puts texts of similar length in the same batch."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    return LengthGroupedSampler(batch_size, lengths=list(lengths), generator=generator)


def batch_parts(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (input_ids, attention_mask, labels) from a TensorDataset or a collator batch."""
    if isinstance(batch, (list, tuple)):
        return batch[0], batch[1], batch[2]
    return batch["input_ids"], batch["attention_mask"], batch["labels"]


def trimmed_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[list[int]]:
    """Return each row's token ids without its padding (the positions where the mask is 0)."""
    return [ids[mask.bool()].tolist() for ids, mask in zip(input_ids, attention_mask)]


def padding_waste(batches: Iterable) -> float:
    """Return the share of positions that are padding over all batches (0 = none wasted)."""
    padded = total = 0
    for batch in batches:
        mask = batch_parts(batch)[1]
        padded += int((mask == 0).sum())
        total += mask.numel()
    if total == 0:
        raise ValueError("padding_waste got no batches: is the loader empty?")
    return padded / total


def same_model_inputs(first: Iterable, second: Iterable) -> int:
    """Return how many rows two loaders share, raising if trimmed tokens, masks or labels differ."""
    compared = 0
    for batch_a, batch_b in zip(first, second, strict=True):
        ids_a, mask_a, labels_a = batch_parts(batch_a)
        ids_b, mask_b, labels_b = batch_parts(batch_b)
        rows_a, rows_b = trimmed_rows(ids_a, mask_a), trimmed_rows(ids_b, mask_b)
        for row, (a, b) in enumerate(zip(rows_a, rows_b, strict=True)):
            if a != b:
                raise AssertionError(f"Row {compared + row}: tokens differ:\n{a}\n{b}")
        # the mask must be ones then zeros: real tokens first, padding after
        for mask in (mask_a, mask_b):
            lengths = mask.sum(dim=1)
            if not torch.equal(mask.long(), attention_mask_from_lengths(lengths, mask.shape[1])):
                raise AssertionError("An attention mask has a 0 before a 1: padding is not at "
                                     "the end.")
        if not torch.equal(labels_a.long(), labels_b.long()):
            raise AssertionError(f"Labels differ in the batch starting at row {compared}.")
        compared += len(rows_a)
    return compared
