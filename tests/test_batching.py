"""Specification of course_utils.batching: the fixed-length and dynamic-padding batch paths."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import RandomSampler, SequentialSampler, TensorDataset

from course_utils.batching import (attention_mask_from_lengths, batch_parts, dynamic_loader,
                                   encode_texts, evaluation_loader, fixed_length_dataset,
                                   pad_fixed_length, padding_waste, same_model_inputs,
                                   tokenized_dataset, training_loader, trimmed_rows)
from course_utils.data import load_labelled_splits

MAX_LENGTH = 64


@pytest.fixture(scope="module")
def frame():
    splits, _, _ = load_labelled_splits(seed=0)
    return splits.valid.head(200)


def test_keras_pads_and_cuts_at_the_end():
    padded = pad_fixed_length([[101, 7, 102], [101, 1, 2, 3, 4, 5, 102]], 5, pad_id=0)
    assert padded.tolist() == [[101, 7, 102, 0, 0], [101, 1, 2, 3, 4]]
    assert str(padded.dtype) == "int64"


def test_cutting_with_keras_loses_sep_but_the_tokenizer_keeps_it(tokenizer):
    text = "a very long review " * 20
    untruncated = tokenizer(text)["input_ids"]
    cut_by_keras = pad_fixed_length([untruncated], 8, tokenizer.pad_token_id)[0]
    assert cut_by_keras[-1] != tokenizer.sep_token_id
    (cut_by_tokenizer,) = encode_texts(tokenizer, [text], 8)
    assert len(cut_by_tokenizer) == 8 and cut_by_tokenizer[-1] == tokenizer.sep_token_id


def test_mask_from_lengths_does_not_depend_on_the_pad_id():
    # a tokenizer whose pad id is 1 and whose start token is 0 (RoBERTa's): ids > 0 would be wrong
    ids = torch.tensor([[0, 50, 2, 1, 1], [0, 7, 8, 9, 2]])
    mask = attention_mask_from_lengths([3, 5], 5)
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert (ids > 0).long().tolist() != mask.tolist()


def test_fixed_length_dataset_holds_padded_ids_masks_and_labels(tokenizer, frame):
    dataset = fixed_length_dataset(tokenizer, frame["text"], frame["label_id"], MAX_LENGTH)
    input_ids, attention_mask, labels = dataset.tensors
    assert input_ids.shape == attention_mask.shape == (len(frame), MAX_LENGTH)
    lengths = [len(ids) for ids in encode_texts(tokenizer, frame["text"], MAX_LENGTH)]
    assert attention_mask.sum(dim=1).tolist() == lengths
    assert (input_ids[attention_mask == 0] == tokenizer.pad_token_id).all()
    assert labels.tolist() == frame["label_id"].tolist()


def test_training_loader_shuffles_reproducibly_and_evaluation_loader_keeps_order():
    dataset = TensorDataset(torch.arange(20))
    first = torch.cat([b[0] for b in training_loader(dataset, 4, seed=1)]).tolist()
    again = torch.cat([b[0] for b in training_loader(dataset, 4, seed=1)]).tolist()
    assert first == again and first != list(range(20)) and sorted(first) == list(range(20))
    loader = evaluation_loader(dataset, 4)
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(training_loader(dataset, 4).sampler, RandomSampler)
    assert torch.cat([b[0] for b in loader]).tolist() == list(range(20))


def test_tokenized_dataset_is_not_padded(tokenizer, frame):
    dataset = tokenized_dataset(frame, tokenizer, MAX_LENGTH)
    lengths = {len(ids) for ids in dataset["input_ids"]}
    assert len(lengths) > 5 and max(lengths) <= MAX_LENGTH
    assert dataset["labels"] == frame["label_id"].tolist()
    assert "text" not in dataset.column_names


def test_collator_pads_each_batch_to_its_longest_text(tokenizer, frame):
    loader = dynamic_loader(tokenized_dataset(frame, tokenizer, MAX_LENGTH), tokenizer, 16)
    widths = [(batch["input_ids"].shape[1], int(batch["attention_mask"].sum(dim=1).max()))
              for batch in loader]
    assert all(width == longest for width, longest in widths)
    assert len({width for width, _ in widths}) > 1


def test_both_paths_give_the_model_the_same_inputs(tokenizer, frame):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    dynamic = dynamic_loader(tokenized_dataset(frame, tokenizer, MAX_LENGTH), tokenizer, 16)
    assert same_model_inputs(fixed, dynamic) == len(frame)


def test_the_comparison_catches_a_different_text(tokenizer, frame):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    shifted = frame.iloc[list(range(1, len(frame))) + [0]]
    dynamic = dynamic_loader(tokenized_dataset(shifted, tokenizer, MAX_LENGTH), tokenizer, 16)
    with pytest.raises(AssertionError, match="Row 0: tokens differ"):
        same_model_inputs(fixed, dynamic)


def test_padding_waste_counts_masked_positions():
    batch = (torch.zeros(2, 4), torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]), torch.tensor([0, 1]))
    assert padding_waste([batch]) == 0.25
    assert trimmed_rows(torch.tensor([[5, 6, 0, 0]]), batch[1][:1]) == [[5, 6]]
    assert batch_parts({"input_ids": 1, "attention_mask": 2, "labels": 3}) == (1, 2, 3)
    with pytest.raises(ValueError, match="no batches"):
        padding_waste([])


def test_dynamic_padding_wastes_less_than_fixed_length(tokenizer, frame):
    fixed = evaluation_loader(fixed_length_dataset(tokenizer, frame["text"], frame["label_id"],
                                                   MAX_LENGTH), 16)
    dynamic = dynamic_loader(tokenized_dataset(frame, tokenizer, MAX_LENGTH), tokenizer, 16,
                             shuffle=True)
    assert 0 < padding_waste(dynamic) < padding_waste(fixed) < 1
