"""Lesson 02's exercise checks: reference answers pass, typical mistakes get specific feedback."""

from __future__ import annotations

import pytest
import torch
from transformers import DataCollatorForLanguageModeling

from course_utils.homework import assess
from course_utils.mlm import (
    build_training_texts,
    encode_masked,
    fixed_masked_set,
    mask_positions,
    mask_word,
    pack_into_blocks,
)


@pytest.fixture(scope="module")
def train_blocks(tokenizer):
    _, heldout = build_training_texts(seed=0)
    return pack_into_blocks(heldout, tokenizer, 32)


def _rank(model, tokenizer, masked_sentence, target_id):
    with torch.no_grad():
        inputs = encode_masked(masked_sentence, tokenizer)
        scores = model(**inputs).logits[0, mask_positions(inputs["input_ids"][0],
                                                          tokenizer.mask_token_id)[0]]
    return int((scores > scores[target_id]).sum()) + 1


def test_02_1_accepts_the_true_rank_and_names_the_off_by_one(model, tokenizer):
    masked, target_id = mask_word("The jokes are boring.", "boring", tokenizer)
    rank = _rank(model, tokenizer, masked, target_id)
    space = {"masked_sentence": masked, "target_word": "boring", "model": model,
             "tokenizer": tokenizer}
    assert assess("02.1", {**space, "target_rank": rank}).passed
    off_by_one = assess("02.1", {**space, "target_rank": rank - 1})
    assert not off_by_one.passed and "count from 0" in off_by_one.message
    as_float = assess("02.1", {**space, "target_rank": float(rank)})
    assert not as_float.passed and "int" in as_float.message


def test_02_1_rejects_two_masks(model, tokenizer):
    verdict = assess("02.1", {"masked_sentence": "The [MASK] jokes are [MASK].",
                                "target_word": "boring", "target_rank": 1, "model": model,
                                "tokenizer": tokenizer})
    assert not verdict.passed and "exactly one" in verdict.message


def reference_masked_lm_loss(logits, labels):
    chosen = labels != -100
    return torch.nn.functional.cross_entropy(logits[chosen], labels[chosen]).item()


def test_02_2_reference_function_passes_and_agrees_with_the_model(model, tokenizer, train_blocks):
    assert assess("02.2", {"masked_lm_loss": reference_masked_lm_loss}).passed
    tensor_result = assess("02.2", {"masked_lm_loss": lambda logits, labels: torch.tensor(
        reference_masked_lm_loss(logits, labels))})
    assert tensor_result.passed, tensor_result.message
    loss_batch = fixed_masked_set(train_blocks[:4], tokenizer, seed=0)
    with torch.no_grad():
        own = model(**loss_batch)
    assert abs(reference_masked_lm_loss(own.logits, loss_batch["labels"]) - own.loss.item()) < 1e-4


def test_a_shortcut_submission_must_fail_02_2_the_models_own_loss(model, tokenizer, train_blocks):
    loss_batch = fixed_masked_set(train_blocks[:4], tokenizer, seed=0)
    with torch.no_grad():
        models_loss = model(**loss_batch).loss.item()
    verdict = assess("02.2", {"masked_lm_loss": models_loss})
    assert not verdict.passed and "should be a function" in verdict.message
    verdict = assess("02.2", {"masked_lm_loss": lambda logits, labels: models_loss})
    assert not verdict.passed and "not the mean cross-entropy" in verdict.message


def test_02_2_sum_and_unmasked_positions_get_specific_feedback():
    def summed(logits, labels):
        chosen = labels != -100
        return torch.nn.functional.cross_entropy(logits[chosen], labels[chosen],
                                                 reduction="sum").item()

    def everywhere(logits, labels):
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                 labels.clamp(min=0).flatten()).item()

    verdict = assess("02.2", {"masked_lm_loss": summed})
    assert not verdict.passed and "adds up" in verdict.message
    verdict = assess("02.2", {"masked_lm_loss": everywhere})
    assert not verdict.passed and "not masked" in verdict.message
    verdict = assess("02.2", {"masked_lm_loss": lambda logits, labels: "10.3"})
    assert not verdict.passed and "no single number" in verdict.message


def _masks_namespace(tokenizer, blocks, **answers):
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)
    ordinary = sum(t not in tokenizer.all_special_ids for block in blocks for t in block)
    batch = collator([{"input_ids": block} for block in blocks])
    space = {"tokenizer": tokenizer, "collator": collator, "mask_demo_blocks": blocks,
             "predicted_masks": 0.15 * 0.8 * ordinary, "mask_batch": batch,
             "measured_masks": int((batch["input_ids"] == tokenizer.mask_token_id).sum())}
    return {**space, **answers}


def test_02_3_reference_passes_and_the_prediction_is_recomputed_from_the_blocks(tokenizer,
                                                                               train_blocks):
    space = _masks_namespace(tokenizer, train_blocks[:16])
    verdict = assess("02.3", space)
    assert verdict.passed and "standard deviations" in verdict.message, verdict.message
    fewer = _masks_namespace(tokenizer, train_blocks[:4])
    assert assess("02.3", fewer).passed
    other_blocks = {**fewer, "predicted_masks": space["predicted_masks"]}
    assert not assess("02.3", other_blocks).passed


def test_02_3_predictions_with_the_usual_mistakes_get_specific_feedback(tokenizer, train_blocks):
    blocks = train_blocks[:16]
    ordinary = sum(t not in tokenizer.all_special_ids for block in blocks for t in block)
    cases = [(0.15 * ordinary, "the number of tokens the collator selects"),
             (0.15 * 0.8 * len(blocks) * len(blocks[0]), "counts every position"),
             (0.15 * 0.8 * ordinary * 1.2, "far from"),
             ("about 100", "should be a number")]
    for predicted, words in cases:
        verdict = assess("02.3", _masks_namespace(tokenizer, blocks, predicted_masks=predicted))
        assert not verdict.passed and words in verdict.message, (words, verdict.message)


def test_02_3_measurements_with_the_usual_mistakes_get_specific_feedback(tokenizer, train_blocks):
    blocks = train_blocks[:16]
    space = _masks_namespace(tokenizer, blocks)
    selected = int((space["mask_batch"]["labels"] != -100).sum())
    verdict = assess("02.3", {**space, "measured_masks": selected})
    assert not verdict.passed and "counts every selected token" in verdict.message
    verdict = assess("02.3", {**space, "measured_masks": space["measured_masks"] + 1})
    assert not verdict.passed and "is not the number of mask tokens" in verdict.message
    other = space["collator"]([{"input_ids": block} for block in train_blocks[16:32]])
    verdict = assess("02.3", {**space, "mask_batch": other})
    assert not verdict.passed and "not made from `mask_demo_blocks`" in verdict.message
