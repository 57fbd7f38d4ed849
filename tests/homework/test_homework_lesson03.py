"""The lesson 03 checks: reference answers pass, typical wrong answers get the intended feedback."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader, SequentialSampler
from transformers import DataCollatorWithPadding

from course_utils.batching import tokenized_dataset
from course_utils.corpora import load_labelled_splits
from course_utils.homework import assess

BATCH_SIZE = 8
MAX_LENGTH = 64


@pytest.fixture(scope="module")
def frames():
    splits, _, _ = load_labelled_splits(seed=0)
    return splits.train.head(60), splits.valid.head(50)


@pytest.fixture(scope="module")
def datasets_(tokenizer, frames, fixed_length_dataset):
    train, valid = frames
    return (fixed_length_dataset(tokenizer, train["text"], train["label_id"], MAX_LENGTH),
            fixed_length_dataset(tokenizer, valid["text"], valid["label_id"], MAX_LENGTH))


def reference_031(tokenizer, texts, max_length=MAX_LENGTH, batch_size=BATCH_SIZE):
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                             max_length=max_length)["input_ids"]]

    def per_batch(order):
        return sum(len(order[i:i + batch_size]) * max(order[i:i + batch_size])
                   for i in range(0, len(order), batch_size))

    positions = {"fixed": len(lengths) * max_length, "per_batch": per_batch(lengths),
                 "sorted": per_batch(sorted(lengths))}
    shares = {name: 1 - sum(lengths) / n for name, n in positions.items()}
    best = min(positions, key=positions.get)
    return shares, best, positions["fixed"] - positions[best]


def answer_031(tokenizer, texts, shares, best, saved, max_length=MAX_LENGTH):
    return assess("03.1", {"tokenizer": tokenizer, "recipe_texts": texts,
                             "max_length": max_length, "batch_size": BATCH_SIZE,
                             "padding_shares": shares, "least_wasteful": best,
                             "positions_saved": saved})


# --- 03.1 which padding recipe wastes least ------------------------------------------------

def test_031_reference_passes_and_is_recomputed_from_the_texts(tokenizer, frames):
    texts = frames[1]["text"].tolist()
    verdict = answer_031(tokenizer, texts, *reference_031(tokenizer, texts))
    assert verdict.passed and "sorting saves" in verdict.message, verdict.message
    shorter = reference_031(tokenizer, texts, max_length=32)
    assert answer_031(tokenizer, texts, *shorter, max_length=32).passed
    assert not answer_031(tokenizer, texts[:20], *reference_031(tokenizer, texts)).passed


@pytest.mark.parametrize("mistake, expected", [
    (lambda s: {**s, "fixed": 100 * s["fixed"]}, "is a percentage"),
    (lambda s: {**s, "sorted": 1 - s["sorted"]}, "share of real tokens"),
    (lambda s: {**s, "per_batch": s["sorted"]}, "keep\nrecipe_texts in their given order"),
    (lambda s: {**s, "per_batch": s["per_batch"] + 0.02}, "is not the share of padding"),
    (lambda s: {"fixed": s["fixed"], "sorted": s["sorted"]}, "needs exactly"),
])
def test_031_wrong_shares_get_specific_feedback(tokenizer, frames, mistake, expected):
    texts = frames[1]["text"].tolist()
    shares, best, saved = reference_031(tokenizer, texts)
    verdict = answer_031(tokenizer, texts, mistake(shares), best, saved)
    assert not verdict.passed and expected.replace("\n", " ") in verdict.message, verdict.message


def test_031_untruncated_lengths_are_named(tokenizer, frames):
    texts = frames[1]["text"].tolist()
    long_texts = [text + " and more words" * 40 if i % 5 == 0 else text
                  for i, text in enumerate(texts)]
    shares, best, saved = reference_031(tokenizer, long_texts, max_length=10_000)
    shares["fixed"] = 1 - (1 - shares["fixed"]) * 10_000 / MAX_LENGTH
    verdict = answer_031(tokenizer, long_texts, shares, best, saved)
    assert not verdict.passed and "full lengths" in verdict.message, verdict.message


def test_031_wrong_judgement_or_saving_is_refused(tokenizer, frames):
    texts = frames[1]["text"].tolist()
    shares, best, saved = reference_031(tokenizer, texts)
    verdict = answer_031(tokenizer, texts, shares, "fixed", saved)
    assert not verdict.passed and "your own shares say otherwise" in verdict.message
    verdict = answer_031(tokenizer, texts, shares, best, shares["fixed"] - shares[best])
    assert not verdict.passed and "difference of shares" in verdict.message
    verdict = answer_031(tokenizer, texts, shares, best, saved + 1)
    assert not verdict.passed and "is not the number of positions" in verdict.message


# --- 03.2 label ids ------------------------------------------------------------------------
def reference_encode_new_labels(labels):
    id2label = {i: str(label) for i, label in enumerate(sorted(set(labels)))}
    label2id = {label: i for i, label in id2label.items()}
    return [label2id[str(label)] for label in labels], id2label


def test_032_reference_passes_on_label_sets_the_check_chooses():
    verdict = assess("03.2", {"encode_new_labels": reference_encode_new_labels})
    assert verdict.passed, verdict.message


def test_a_shortcut_submission_must_fail_032_the_imported_encode_labels():
    from course_utils.data import encode_labels

    verdict = assess("03.2", {"encode_new_labels": encode_labels})
    assert not verdict.passed and "uses the course's `encode_labels`" in verdict.message

    def wrapper(labels):
        encoding = encode_labels(labels)
        return encoding.ids.tolist(), encoding.id2label

    verdict = assess("03.2", {"encode_new_labels": wrapper})
    assert not verdict.passed and "encode_labels" in verdict.message
    fixed = reference_encode_new_labels([2, -1, 0, 1, 1, 2, -1, 0, 2, 1])
    verdict = assess("03.2", {"encode_new_labels": lambda labels: fixed})
    assert not verdict.passed  # the answer for the tweets only: other label sets differ


def test_032_raw_labels_and_unsorted_ids_are_refused_with_the_reason():
    verdict = assess("03.2", {"encode_new_labels": lambda labels: (
        labels, {i: str(v) for i, v in enumerate(sorted(set(labels)))})})
    assert not verdict.passed

    def first_seen(labels):
        order = list(dict.fromkeys(labels))
        return [order.index(v) for v in labels], {i: str(v) for i, v in enumerate(order)}

    verdict = assess("03.2", {"encode_new_labels": first_seen})
    assert not verdict.passed and "sorted order" in verdict.message
    verdict = assess("03.2", {"encode_new_labels": [0, 1]})
    assert not verdict.passed and "should be a function" in verdict.message


def test_032_string_keys_are_caught():
    def string_keys(labels):
        ids, id2label = reference_encode_new_labels(labels)
        return ids, {str(i): v for i, v in id2label.items()}

    verdict = assess("03.2", {"encode_new_labels": string_keys})
    assert not verdict.passed and "int keys" in verdict.message


# --- 03.3 the dynamic-padding validation loader --------------------------------------------

def answer_033(loader, valid_dataset):
    return assess("03.3", {"valid_dynamic_loader": loader, "valid_dataset": valid_dataset,
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
