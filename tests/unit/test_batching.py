"""Specification of course_utils.batching: the fixed-length and dynamic-padding batch paths."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, SequentialSampler, TensorDataset
from transformers import DataCollatorWithPadding

from course_utils.batching import (
    attention_mask_from_lengths,
    batch_parts,
    evaluation_loader,
    length_grouped_sampler,
    padding_waste,
    same_model_inputs,
    token_ids,
    tokenized_dataset,
    trimmed_rows,
)
from course_utils.corpora import load_labelled_splits

MAX_LENGTH = 64


@pytest.fixture(scope="module")
def frame():
    splits, _, _ = load_labelled_splits(seed=0)
    return splits.valid.head(200)


def collated_loader(frame, tokenizer, batch_size: int = 16) -> DataLoader:
    """Return lesson 03's dynamic-padding loader over ``frame``, in order."""
    return evaluation_loader(tokenized_dataset(frame, tokenizer, MAX_LENGTH), batch_size,
                             collate_fn=DataCollatorWithPadding(tokenizer))


def test_keras_pads_and_cuts_at_the_end(pad_fixed_length):
    padded = pad_fixed_length([[101, 7, 102], [101, 1, 2, 3, 4, 5, 102]], 5, pad_id=0)
    assert padded.tolist() == [[101, 7, 102, 0, 0], [101, 1, 2, 3, 4]]
    assert str(padded.dtype) == "int64"


def test_cutting_with_keras_loses_sep_but_the_tokenizer_keeps_it(tokenizer, pad_fixed_length):
    text = "a very long review " * 20
    untruncated = tokenizer(text)["input_ids"]
    cut_by_keras = pad_fixed_length([untruncated], 8, tokenizer.pad_token_id)[0]
    assert cut_by_keras[-1] != tokenizer.sep_token_id
    (cut_by_tokenizer,) = token_ids([text], tokenizer, 8)
    assert len(cut_by_tokenizer) == 8 and cut_by_tokenizer[-1] == tokenizer.sep_token_id


def test_token_ids_start_with_cls_and_keep_the_texts_order(tokenizer):
    ids = token_ids(["a gem", "a very long and tedious mess"], tokenizer, MAX_LENGTH)
    assert [row[0] for row in ids] == [tokenizer.cls_token_id] * 2
    assert len(ids[0]) < len(ids[1])
    assert tokenizer.decode(ids[0], skip_special_tokens=True) == "a gem"


def test_mask_from_lengths_does_not_depend_on_the_pad_id():
    # a tokenizer whose pad id is 1 and whose start token is 0 (RoBERTa's): ids > 0 would be wrong
    ids = torch.tensor([[0, 50, 2, 1, 1], [0, 7, 8, 9, 2]])
    mask = attention_mask_from_lengths([3, 5], 5)
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert (ids > 0).long().tolist() != mask.tolist()


def test_fixed_length_dataset_holds_padded_ids_masks_and_labels(tokenizer, frame,
                                                               fixed_length_dataset):
    dataset = fixed_length_dataset(tokenizer, frame["text"], frame["label_id"], MAX_LENGTH)
    input_ids, attention_mask, labels = dataset.tensors
    assert input_ids.shape == attention_mask.shape == (len(frame), MAX_LENGTH)
    lengths = [len(ids) for ids in token_ids(frame["text"], tokenizer, MAX_LENGTH)]
    assert attention_mask.sum(dim=1).tolist() == lengths
    assert (input_ids[attention_mask == 0] == tokenizer.pad_token_id).all()
    assert labels.tolist() == frame["label_id"].tolist()


def test_evaluation_loader_keeps_order():
    dataset = TensorDataset(torch.arange(20))
    loader = evaluation_loader(dataset, 4)
    assert isinstance(loader.sampler, SequentialSampler)
    assert torch.cat([b[0] for b in loader]).tolist() == list(range(20))


def test_length_grouped_sampler_groups_similar_lengths_reproducibly():
    lengths = [5, 50, 6, 51, 7, 52, 8, 53] * 25
    order = list(length_grouped_sampler(lengths, batch_size=4, seed=0))
    assert sorted(order) == list(range(len(lengths)))
    batches = [order[i:i + 4] for i in range(0, len(order), 4)]
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(s > 10 for s in spreads) <= 5          # of 50 batches; random order mixes ~44
    assert list(length_grouped_sampler(lengths, batch_size=4, seed=0)) == order
    assert list(length_grouped_sampler(lengths, batch_size=4, seed=1)) != order


def test_tokenized_dataset_is_not_padded(tokenizer, frame):
    dataset = tokenized_dataset(frame, tokenizer, MAX_LENGTH)
    lengths = {len(ids) for ids in dataset["input_ids"]}
    assert len(lengths) > 5 and max(lengths) <= MAX_LENGTH
    assert dataset["labels"] == frame["label_id"].tolist()
    assert "text" not in dataset.column_names


def test_collator_pads_each_batch_to_its_longest_text(tokenizer, frame):
    loader = collated_loader(frame, tokenizer)
    widths = [(batch["input_ids"].shape[1], int(batch["attention_mask"].sum(dim=1).max()))
              for batch in loader]
    assert all(width == longest for width, longest in widths)
    assert len({width for width, _ in widths}) > 1


def test_both_paths_give_the_model_the_same_inputs(tokenizer, frame, fixed_length_dataset):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    dynamic = collated_loader(frame, tokenizer)
    assert same_model_inputs(fixed, dynamic) == len(frame)


def test_the_comparison_catches_a_different_text(tokenizer, frame, fixed_length_dataset):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    shifted = frame.iloc[list(range(1, len(frame))) + [0]]
    dynamic = collated_loader(shifted, tokenizer)
    with pytest.raises(AssertionError, match="Row 0: tokens differ"):
        same_model_inputs(fixed, dynamic)


def test_padding_waste_counts_masked_positions():
    batch = (torch.zeros(2, 4), torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]), torch.tensor([0, 1]))
    assert padding_waste([batch]) == 0.25
    assert trimmed_rows(torch.tensor([[5, 6, 0, 0]]), batch[1][:1]) == [[5, 6]]
    assert batch_parts({"input_ids": 1, "attention_mask": 2, "labels": 3}) == (1, 2, 3)
    with pytest.raises(ValueError, match="no batches"):
        padding_waste([])


def test_dynamic_padding_wastes_less_than_fixed_length(tokenizer, frame, fixed_length_dataset):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    dynamic = collated_loader(frame, tokenizer)
    assert 0 < padding_waste(dynamic) < padding_waste(fixed) < 1
