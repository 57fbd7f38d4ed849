"""Lesson 01's exercises: the reference answers pass, typical mistakes get the intended message."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.corpora import load_reviews
from course_utils.homework import assess

EXERCISE_TEXTS = ["What a wonderful, warm film!", "Too long."]


def decode_namespace(tokenizer, decoded):
    return {"tokenizer": tokenizer, "exercise_texts": EXERCISE_TEXTS, "decoded_texts": decoded}


def test_decoding_without_special_tokens_passes(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    decoded = tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    verdict = assess("01.1", decode_namespace(tokenizer, decoded))
    assert verdict.passed, verdict.message


def test_decoding_with_special_tokens_is_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    verdict = assess("01.1", decode_namespace(tokenizer,
                                                tokenizer.batch_decode(batch["input_ids"])))
    assert not verdict.passed
    assert "[CLS]" in verdict.message and "special tokens must go" in verdict.message
    assert "Hint: Section 3" in verdict.message  # grading feedback carries the hint


def test_tokens_instead_of_text_are_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    pieces = [tokenizer.convert_ids_to_tokens(ids) for ids in batch["input_ids"]]
    verdict = assess("01.1", decode_namespace(tokenizer, pieces))
    assert not verdict.passed and "not a string: those are tokens" in verdict.message


def test_decoding_one_row_only_is_refused(tokenizer):
    batch = tokenizer(EXERCISE_TEXTS, padding=True)
    one = tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    verdict = assess("01.1", decode_namespace(tokenizer, one))
    assert not verdict.passed and "single string" in verdict.message
    verdict = assess("01.1", decode_namespace(tokenizer, [one]))
    assert not verdict.passed and "has 1 entries; the batch has 2 rows" in verdict.message


def test_missing_answer_and_broken_tokenizer_give_feedback(tokenizer):
    verdict = assess("01.1", {"tokenizer": tokenizer, "exercise_texts": EXERCISE_TEXTS})
    assert not verdict.passed and "Define `decoded_texts` first" in verdict.message
    verdict = assess("01.1", decode_namespace("bert", ["x", "y"]))
    assert not verdict.passed and "not a tokenizer" in verdict.message


QUESTION, PASSAGE = "Does the ending work?", "The last act drags, but the final scene pays off."


def pair_namespace(tokenizer, batch, start, question=QUESTION, passage=PASSAGE):
    return {"tokenizer": tokenizer, "pair_question": question, "pair_passage": passage,
            "pair_batch": batch, "segment_b_start": start}


def test_sentence_pair_with_its_segment_start_passes(tokenizer):
    batch = tokenizer(QUESTION, PASSAGE)
    verdict = assess("01.2", pair_namespace(tokenizer, batch, batch["token_type_ids"].index(1)))
    assert verdict.passed, verdict.message
    tensors = tokenizer(QUESTION, PASSAGE, return_tensors="pt")
    start = int(tensors["token_type_ids"][0].argmax())
    assert assess("01.2", pair_namespace(tokenizer, tensors, start)).passed


def test_the_check_follows_other_texts(tokenizer):
    question = "Is it long?"
    batch = tokenizer(question, PASSAGE)
    start = batch["token_type_ids"].index(1)
    assert assess("01.2", pair_namespace(tokenizer, batch, start, question=question)).passed
    assert not assess("01.2", pair_namespace(tokenizer, batch, start + 2,
                                               question=question)).passed


def test_a_shortcut_submission_must_fail_one_text_instead_of_a_pair(tokenizer):
    joined = tokenizer(f"{QUESTION} {PASSAGE}")
    verdict = assess("01.2", pair_namespace(tokenizer, joined, 7))
    assert not verdict.passed and "as a pair" in verdict.message


def test_swapped_segments_missing_token_type_ids_and_off_by_one_are_refused(tokenizer):
    verdict = assess("01.2", pair_namespace(tokenizer, tokenizer(PASSAGE, QUESTION), 3))
    assert not verdict.passed and "swapped" in verdict.message
    batch = tokenizer(QUESTION, PASSAGE, return_token_type_ids=False)
    verdict = assess("01.2", pair_namespace(tokenizer, batch, 7))
    assert not verdict.passed and "no token_type_ids" in verdict.message
    batch = tokenizer(QUESTION, PASSAGE)
    start = batch["token_type_ids"].index(1)
    verdict = assess("01.2", pair_namespace(tokenizer, batch, start - 1))
    assert not verdict.passed and "[SEP]" in verdict.message
    verdict = assess("01.2", pair_namespace(tokenizer, "input_ids", start))
    assert not verdict.passed and "not a str" in verdict.message


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
    verdict = assess("01.3", max_length_namespace(tokenizer, snippets,
                                                    *reference_max_length(lengths)))
    assert verdict.passed, verdict.message
    fewer = snippets[:100]  # other texts, another answer: not a fixed constant
    answer = reference_max_length(_lengths(tokenizer, fewer))
    assert assess("01.3", max_length_namespace(tokenizer, fewer, *answer)).passed
    assert answer != reference_max_length(lengths)


def test_01_3_a_length_that_cuts_too_much_or_is_not_the_smallest_is_refused(tokenizer, snippets):
    lengths = _lengths(tokenizer, snippets)
    chosen, _, _ = reference_max_length(lengths)
    for other, words in [(chosen - 8, "the limit is 1%"), (chosen + 8, "find the smallest"),
                         (chosen + 1, "not a multiple of 8")]:
        cut = float((lengths > other).mean())
        padded = 1 - float(np.minimum(lengths, other).sum()) / (len(lengths) * other)
        verdict = assess("01.3", max_length_namespace(tokenizer, snippets, other, cut, padded,
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
        verdict = assess("01.3", max_length_namespace(tokenizer, snippets, chosen, truncated,
                                                        padding, lengths))
        assert not verdict.passed and words in verdict.message, (words, verdict.message)


def test_01_3_stale_lengths_and_wrong_types_are_refused(tokenizer, snippets):
    lengths = _lengths(tokenizer, snippets)
    chosen, cut, padded = reference_max_length(lengths)
    stale = assess("01.3", max_length_namespace(tokenizer, snippets, chosen, cut, padded,
                                                  lengths + 1))
    assert not stale.passed and "no longer matches" in stale.message
    verdict = assess("01.3", max_length_namespace(tokenizer, snippets, "128", cut, padded,
                                                    lengths))
    assert not verdict.passed and "one number" in verdict.message
