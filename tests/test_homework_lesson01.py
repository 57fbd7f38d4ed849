"""Lesson 01's exercises: the reference answers pass, typical mistakes get the intended message."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.homework import evaluate

EXERCISE_TEXTS = ["What a wonderful, warm film!", "Too long."]
TWO_REVIEWS = ["Brilliant.", "The plot wanders, but the last act is worth the wait."]


def decode_namespace(tokenizer, decoded):
    return {"tokenizer": tokenizer, "exercise_texts": EXERCISE_TEXTS, "decoded_texts": decoded}


def test_decoding_without_special_tokens_passes(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    decoded = tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    verdict = evaluate("01.1", decode_namespace(tokenizer, decoded))
    assert verdict.passed, verdict.message


def test_decoding_with_special_tokens_is_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    verdict = evaluate("01.1", decode_namespace(tokenizer, tokenizer.batch_decode(batch["input_ids"])))
    assert not verdict.passed
    assert "[PAD]" in verdict.message and "special tokens must go" in verdict.message
    assert "skip_special_tokens=True" in verdict.message  # the hint


def test_tokens_instead_of_text_are_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    pieces = [tokenizer.convert_ids_to_tokens(ids) for ids in batch["input_ids"]]
    verdict = evaluate("01.1", decode_namespace(tokenizer, pieces))
    assert not verdict.passed and "not a string: those are tokens" in verdict.message


def test_decoding_one_row_only_is_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    one = tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    verdict = evaluate("01.1", decode_namespace(tokenizer, one))
    assert not verdict.passed and "single string" in verdict.message
    verdict = evaluate("01.1", decode_namespace(tokenizer, [one]))
    assert not verdict.passed and "has 1 entries; the batch has 2 rows" in verdict.message


def test_missing_answer_and_broken_tokenizer_give_feedback(tokenizer):
    verdict = evaluate("01.1", {"tokenizer": tokenizer, "exercise_texts": EXERCISE_TEXTS})
    assert not verdict.passed and "Define `decoded_texts` first" in verdict.message
    verdict = evaluate("01.1", decode_namespace("bert", ["x", "y"]))
    assert not verdict.passed and "not a tokenizer" in verdict.message


def batch_namespace(tokenizer, batch):
    return {"tokenizer": tokenizer, "two_reviews": TWO_REVIEWS, "review_batch": batch}


def test_padded_tensor_batch_passes(tokenizer):
    batch = tokenizer(TWO_REVIEWS, padding=True, return_tensors="pt")
    verdict = evaluate("01.2", batch_namespace(tokenizer, batch))
    assert verdict.passed, verdict.message


def test_unpadded_batch_is_refused(tokenizer):
    verdict = evaluate("01.2", batch_namespace(tokenizer, tokenizer(TWO_REVIEWS)))
    assert not verdict.passed and "were not padded" in verdict.message
    assert "padding=True" in verdict.message  # the hint


def test_padding_to_max_length_is_refused(tokenizer):
    batch = tokenizer(TWO_REVIEWS, padding="max_length", max_length=64, return_tensors="pt")
    verdict = evaluate("01.2", batch_namespace(tokenizer, batch))
    assert not verdict.passed and "64 tokens wide" in verdict.message
    assert "not to a fixed length" in verdict.message


def test_batch_without_mask_or_tensors_is_refused(tokenizer):
    no_mask = tokenizer(TWO_REVIEWS, padding=True, return_tensors="pt", return_attention_mask=False)
    verdict = evaluate("01.2", batch_namespace(tokenizer, no_mask))
    assert not verdict.passed and "no attention_mask" in verdict.message
    lists = tokenizer(TWO_REVIEWS, padding=True)
    verdict = evaluate("01.2", batch_namespace(tokenizer, lists))
    assert not verdict.passed and "PyTorch tensors" in verdict.message
    verdict = evaluate("01.2", batch_namespace(tokenizer, "input_ids"))
    assert not verdict.passed and "not a str" in verdict.message


def test_other_texts_are_refused(tokenizer):
    batch = tokenizer(TWO_REVIEWS[::-1], padding=True, return_tensors="pt")
    verdict = evaluate("01.2", batch_namespace(tokenizer, batch))
    assert not verdict.passed and "in that order" in verdict.message


def count_namespace(tokenizer, count):
    return {"tokenizer": tokenizer, "two_reviews": TWO_REVIEWS, "pad_count": count}


def test_pad_count_passes_as_int_or_scalar_tensor(tokenizer):
    batch = tokenizer(TWO_REVIEWS, padding=True, return_tensors="pt")
    as_tensor = (batch["attention_mask"] == 0).sum()
    for answer in (as_tensor, int(as_tensor), np.int64(as_tensor)):
        verdict = evaluate("01.3", count_namespace(tokenizer, answer))
        assert verdict.passed, verdict.message
    assert 1 <= int(as_tensor) <= 30


def test_counting_real_tokens_or_all_positions_is_refused(tokenizer):
    batch = tokenizer(TWO_REVIEWS, padding=True, return_tensors="pt")
    real = int(batch["attention_mask"].sum())
    verdict = evaluate("01.3", count_namespace(tokenizer, real))
    assert not verdict.passed and "number of real tokens" in verdict.message
    verdict = evaluate("01.3", count_namespace(tokenizer, batch["input_ids"].numel()))
    assert not verdict.passed and "counts every position" in verdict.message
    assert "attention mask is 0" in verdict.message  # the hint


def test_pad_count_of_wrong_type_is_refused(tokenizer):
    batch = tokenizer(TWO_REVIEWS, padding=True, return_tensors="pt")
    for answer, words in ((batch["attention_mask"] == 0, "not a Tensor"), ("3", "not a str"),
                          (2.5, "whole number"), (True, "not a bool")):
        verdict = evaluate("01.3", count_namespace(tokenizer, answer))
        assert not verdict.passed and words in verdict.message, (answer, verdict.message)
