"""The lesson 03 checks: reference answers pass, typical wrong answers get the intended feedback."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset
from transformers import DataCollatorWithPadding

from course_utils.batching import fixed_length_dataset, tokenized_dataset
from course_utils.data import load_labelled_splits
from course_utils.homework import evaluate

BATCH_SIZE = 8
MAX_LENGTH = 64


@pytest.fixture(scope="module")
def frames():
    splits, _, _ = load_labelled_splits(seed=0)
    return splits.train.head(60), splits.valid.head(50)


@pytest.fixture(scope="module")
def datasets_(tokenizer, frames):
    train, valid = frames
    return (fixed_length_dataset(tokenizer, train["text"], train["label_id"], MAX_LENGTH),
            fixed_length_dataset(tokenizer, valid["text"], valid["label_id"], MAX_LENGTH))


def answer_031(valid_loader, valid_dataset):
    return evaluate("03.1", {"valid_loader": valid_loader, "valid_dataset": valid_dataset,
                             "batch_size": BATCH_SIZE})


# --- 03.1 the validation loader ------------------------------------------------------------

def test_031_sequential_validation_loader_passes(datasets_):
    _, valid = datasets_
    verdict = answer_031(DataLoader(valid, sampler=SequentialSampler(valid),
                                    batch_size=BATCH_SIZE), valid)
    assert verdict.passed, verdict.message
    assert "all 50 validation examples" in verdict.message


def test_031_shuffle_false_is_sequential_too(datasets_):
    _, valid = datasets_
    assert answer_031(DataLoader(valid, batch_size=BATCH_SIZE), valid).passed


def test_031_random_sampler_is_called_shuffling(datasets_):
    _, valid = datasets_
    verdict = answer_031(DataLoader(valid, sampler=RandomSampler(valid), batch_size=BATCH_SIZE),
                         valid)
    assert not verdict.passed and "RandomSampler: it shuffles" in verdict.message


def test_031_training_data_is_caught(datasets_):
    train, valid = datasets_
    verdict = answer_031(DataLoader(train, sampler=SequentialSampler(train),
                                    batch_size=BATCH_SIZE), valid)
    assert not verdict.passed and "did you pass train_dataset" in verdict.message


def test_031_wrong_batch_size_is_named(datasets_):
    _, valid = datasets_
    verdict = answer_031(DataLoader(valid, sampler=SequentialSampler(valid), batch_size=4), valid)
    assert not verdict.passed and "batches of 4; use batch_size (8)" in verdict.message


def test_031_drop_last_is_caught(datasets_):
    _, valid = datasets_
    verdict = answer_031(DataLoader(valid, batch_size=BATCH_SIZE, drop_last=True), valid)
    assert not verdict.passed and "skips the last 2 example(s)" in verdict.message


@pytest.mark.parametrize("wrong, expected", [
    ("dataset", "the data itself"), ("sampler", "only chooses the order"), ("list", "not a")])
def test_031_things_that_are_not_loaders_get_named(datasets_, wrong, expected):
    _, valid = datasets_
    answer = {"dataset": valid, "sampler": SequentialSampler(valid), "list": [1, 2]}[wrong]
    verdict = answer_031(answer, valid)
    assert not verdict.passed and expected in verdict.message


# --- 03.2 label ids ------------------------------------------------------------------------

def answer_032(ids, id2label):
    return evaluate("03.2", {"tweet_ids": ids, "tweet_id2label": id2label})


REFERENCE_ID2LABEL = {0: "-1", 1: "0", 2: "1", 3: "2"}
REFERENCE_IDS = [3, 0, 1, 2, 2, 3, 0, 1, 3, 2]


def test_032_reference_passes_also_as_tensor_with_int_names():
    assert answer_032(REFERENCE_IDS, REFERENCE_ID2LABEL).passed
    assert answer_032(torch.tensor(REFERENCE_IDS), {0: -1, 1: 0, 2: 1, 3: 2}).passed


def test_032_raw_labels_are_refused_with_the_reason():
    verdict = answer_032([2, -1, 0, 1, 1, 2, -1, 0, 2, 1], REFERENCE_ID2LABEL)
    assert not verdict.passed and "contains -1: CrossEntropyLoss" in verdict.message


def test_032_ids_past_k_minus_one_are_refused():
    verdict = answer_032([4, 1, 2, 3, 3, 4, 1, 2, 4, 3], {1: "-1", 2: "0", 3: "1", 4: "2"})
    assert not verdict.passed and "largest id is 3" in verdict.message


def test_032_mapping_that_disagrees_with_the_ids_is_caught():
    verdict = answer_032(REFERENCE_IDS, {0: "2", 1: "1", 2: "0", 3: "-1"})
    assert not verdict.passed and "the ids and the mapping disagree" in verdict.message


def test_032_string_keys_are_caught():
    verdict = answer_032(REFERENCE_IDS, {str(k): v for k, v in REFERENCE_ID2LABEL.items()})
    assert not verdict.passed and "keys that are not ints" in verdict.message


# --- 03.3 the dynamic-padding validation loader --------------------------------------------

def answer_033(loader, valid_dataset):
    return evaluate("03.3", {"valid_dynamic_loader": loader, "valid_dataset": valid_dataset,
                             "batch_size": BATCH_SIZE})


def test_033_reference_passes(tokenizer, frames, datasets_):
    tokenized = tokenized_dataset(frames[1], tokenizer, MAX_LENGTH)
    loader = DataLoader(tokenized, sampler=SequentialSampler(tokenized), batch_size=BATCH_SIZE,
                        collate_fn=DataCollatorWithPadding(tokenizer))
    verdict = answer_033(loader, datasets_[1])
    assert verdict.passed, verdict.message


def test_033_missing_collator_is_named(tokenizer, frames, datasets_):
    tokenized = tokenized_dataset(frames[1], tokenizer, MAX_LENGTH)
    verdict = answer_033(DataLoader(tokenized, batch_size=BATCH_SIZE), datasets_[1])
    assert not verdict.passed
    assert "collate_fn=DataCollatorWithPadding(tokenizer)" in verdict.message
    assert "raised" not in verdict.message


def test_033_other_order_or_split_is_caught(tokenizer, frames, datasets_):
    shuffled = tokenized_dataset(frames[1].iloc[::-1], tokenizer, MAX_LENGTH)
    loader = DataLoader(shuffled, batch_size=BATCH_SIZE,
                        collate_fn=DataCollatorWithPadding(tokenizer))
    verdict = answer_033(loader, datasets_[1])
    assert not verdict.passed and "tokens differ" in verdict.message
    train = tokenized_dataset(frames[0], tokenizer, MAX_LENGTH)
    verdict = answer_033(DataLoader(train, batch_size=BATCH_SIZE,
                                    collate_fn=DataCollatorWithPadding(tokenizer)), datasets_[1])
    assert not verdict.passed and "did you tokenize another split" in verdict.message


def test_033_padding_to_max_length_is_caught(tokenizer, frames, datasets_):
    tokenized = tokenized_dataset(frames[1], tokenizer, MAX_LENGTH)
    collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=MAX_LENGTH)
    verdict = answer_033(DataLoader(tokenized, batch_size=BATCH_SIZE, collate_fn=collator),
                         datasets_[1])
    assert not verdict.passed and "pad per batch" in verdict.message


def test_033_shuffled_loader_is_caught(tokenizer, frames, datasets_):
    tokenized = tokenized_dataset(frames[1], tokenizer, MAX_LENGTH)
    loader = DataLoader(tokenized, batch_size=BATCH_SIZE, shuffle=True,
                        collate_fn=DataCollatorWithPadding(tokenizer))
    verdict = answer_033(loader, datasets_[1])
    assert not verdict.passed and "RandomSampler" in verdict.message
