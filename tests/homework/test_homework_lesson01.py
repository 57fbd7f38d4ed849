"""Lesson 01's exercises: the reference answers pass, typical mistakes get the intended message."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.corpora import load_reviews
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
    verdict = evaluate("01.1", decode_namespace(tokenizer,
                                                tokenizer.batch_decode(batch["input_ids"])))
    assert not verdict.passed
    assert "[CLS]" in verdict.message and "special tokens must go" in verdict.message
    assert "Hint: Section 3" in verdict.message  # grading feedback carries the hint


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
    assert "Hint: Look back at section 4" in verdict.message


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


# --- 01.3 choose max_length ----------------------------------------------------------------

def _lengths(tokenizer, texts):
    return np.array([len(ids) for ids in tokenizer(texts, truncation=True,
                                                   max_length=tokenizer.model_max_length)
                     ["input_ids"]])


@pytest.fixture(scope="module")
def snippets():
    texts = load_reviews()["text"].tolist()[:300]
    return texts


def max_length_namespace(tokenizer, texts, chosen, truncated, padded, lengths=None):
    lengths = _lengths(tokenizer, texts) if lengths is None else lengths
    return {"tokenizer": tokenizer, "texts": texts, "lengths": lengths,
            "chosen_max_length": chosen, "truncated_share": truncated, "padding_share": padded}


def reference_max_length(lengths):
    chosen = 8
    while (lengths > chosen).mean() > 0.01:
        chosen += 8
    padded = 1 - float(np.minimum(lengths, chosen).sum()) / (len(lengths) * chosen)
    return chosen, float((lengths > chosen).mean()), padded


def test_01_3_reference_passes_and_is_recomputed_from_the_learners_texts(tokenizer, snippets):
    lengths = _lengths(tokenizer, snippets)
    verdict = evaluate("01.3", max_length_namespace(tokenizer, snippets,
                                                    *reference_max_length(lengths)))
    assert verdict.passed, verdict.message
    fewer = snippets[:100]  # other texts, another answer: not a fixed constant
    answer = reference_max_length(_lengths(tokenizer, fewer))
    assert evaluate("01.3", max_length_namespace(tokenizer, fewer, *answer)).passed
    assert answer != reference_max_length(lengths)


def test_01_3_a_length_that_cuts_too_much_or_is_not_the_smallest_is_refused(tokenizer, snippets):
    lengths = _lengths(tokenizer, snippets)
    chosen, _, _ = reference_max_length(lengths)
    for other, words in [(chosen - 8, "the limit is 1%"), (chosen + 8, "find the smallest"),
                         (chosen + 1, "not a multiple of 8")]:
        cut = float((lengths > other).mean())
        padded = 1 - float(np.minimum(lengths, other).sum()) / (len(lengths) * other)
        verdict = evaluate("01.3", max_length_namespace(tokenizer, snippets, other, cut, padded,
                                                        lengths))
        assert not verdict.passed and words in verdict.message, verdict.message


def test_01_3_measurements_off_or_with_the_usual_mistakes_get_specific_feedback(tokenizer,
                                                                                snippets):
    lengths = _lengths(tokenizer, snippets)
    chosen, cut, padded = reference_max_length(lengths)
    cases = [
        (int((lengths > chosen).sum()), padded, "is a count of snippets"),
        (100 * cut, padded, "percentage"),
        (cut + 0.003, padded, "is not the share of `lengths` longer"),
        (cut, 1 - lengths.sum() / (len(lengths) * chosen), "counts the cut snippets' full"),
        (cut, 1 - padded, "share of real tokens"),
        (cut, padded + 0.01, "is not the share of padding"),
    ]
    for truncated, padding, words in cases:
        verdict = evaluate("01.3", max_length_namespace(tokenizer, snippets, chosen, truncated,
                                                        padding, lengths))
        assert not verdict.passed and words in verdict.message, (words, verdict.message)


def test_01_3_stale_lengths_and_wrong_types_are_refused(tokenizer, snippets):
    lengths = _lengths(tokenizer, snippets)
    chosen, cut, padded = reference_max_length(lengths)
    stale = evaluate("01.3", max_length_namespace(tokenizer, snippets, chosen, cut, padded,
                                                  lengths + 1))
    assert not stale.passed and "no longer matches" in stale.message
    verdict = evaluate("01.3", max_length_namespace(tokenizer, snippets, "128", cut, padded,
                                                    lengths))
    assert not verdict.passed and "one number" in verdict.message
