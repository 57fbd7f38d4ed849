"""The masked-LM helpers on the real MiniLM tokenizer and model, and the offline texts."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.corpora import hamlet_lines
from course_utils.mlm import (
    MLMError,
    build_training_texts,
    encode_masked,
    evaluate_masked_lm,
    fixed_masked_set,
    join_lines,
    mask_positions,
    mask_word,
    masked_logits,
    pack_into_blocks,
    top_k_at_masks,
)


@pytest.fixture(scope="module")
def blocks(tokenizer):
    train, heldout = build_training_texts(seed=0)
    return pack_into_blocks(heldout, tokenizer, 32)


def test_mask_word_hides_one_whole_word_and_returns_its_id(tokenizer):
    masked, target = mask_word("A good film, not a goodbye.", "good", tokenizer)
    assert masked == "A [MASK] film, not a goodbye."
    assert tokenizer.convert_ids_to_tokens(target) == "good"


def test_mask_word_refuses_missing_and_multi_piece_words(tokenizer):
    with pytest.raises(MLMError, match="not a whole word"):
        mask_word("A goodbye.", "good", tokenizer)
    with pytest.raises(MLMError, match="word pieces"):
        mask_word("Taadasafaunknown words.", "Taadasafaunknown", tokenizer)


def test_encode_masked_without_a_mask_explains_how_to_write_one(tokenizer):
    with pytest.raises(MLMError, match=r"No \[MASK\]"):
        encode_masked("The quick brown fox jumps.", tokenizer)


def test_encode_masked_refuses_text_longer_than_the_model(tokenizer):
    with pytest.raises(MLMError, match="at most 512"):
        encode_masked("word " * 600 + "[MASK]", tokenizer)
    with pytest.raises(MLMError, match="at most 8"):
        encode_masked("one two three four five [MASK] seven", tokenizer, max_length=8)


def test_mask_positions_finds_every_mask_in_order(tokenizer):
    ids = encode_masked("The [MASK] fox [MASK] over.", tokenizer)["input_ids"][0]
    assert mask_positions(ids, tokenizer.mask_token_id) == [2, 4]
    with pytest.raises(MLMError, match="one sequence"):
        mask_positions(ids[None], tokenizer.mask_token_id)


def test_top_k_gives_one_sorted_list_per_mask(model, tokenizer):
    guesses = top_k_at_masks(model, tokenizer, "The [MASK] fox [MASK] over the dog.", k=4)
    assert len(guesses) == 2 and all(len(g) == 4 for g in guesses)
    for g in guesses:
        probs = [p for _, p in g]
        assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1


def test_training_texts_hold_hamlet_in_fours_with_only_entrances_dropped(hamlet_txt):
    train, heldout = build_training_texts(seed=0)
    spoken, _ = hamlet_lines(hamlet_txt, stage_directions="entrances")
    texts = set(train) | set(heldout)
    assert set(join_lines(spoken)) <= texts
    assert not set(join_lines(hamlet_lines(hamlet_txt)[0])) <= texts


def test_join_lines_joins_consecutive_lines():
    assert join_lines(["a", "b", "c"], 2) == ["a b", "c"]
    assert join_lines(["a", "b", "c", "d"]) == ["a b c d"]


def test_training_texts_split_whole_texts_without_overlap():
    train, heldout = build_training_texts(seed=0, heldout_fraction=0.04)
    assert 14000 <= len(train) + len(heldout) <= 15500
    assert 0.03 <= len(heldout) / (len(train) + len(heldout)) <= 0.05
    assert not set(heldout) & set(train)
    assert build_training_texts(seed=0)[1][:5] == heldout[:5]
    assert build_training_texts(seed=1)[1][:5] != heldout[:5]


def test_blocks_start_with_cls_end_with_sep_and_have_one_length(tokenizer):
    blocks = pack_into_blocks(["one two three", "four five"] * 20, tokenizer, 16)
    assert {len(b) for b in blocks} == {16}
    assert all(b[0] == tokenizer.cls_token_id and b[-1] == tokenizer.sep_token_id for b in blocks)
    assert tokenizer.sep_token_id in blocks[0][1:-1]  # texts are joined by [SEP]
    with pytest.raises(MLMError, match="exceeds"):
        pack_into_blocks(["text"], tokenizer, 1000)


def test_fixed_masked_set_is_reproducible_and_masks_every_selected_token(blocks, tokenizer):
    first = fixed_masked_set(blocks[:64], tokenizer, seed=0)
    again = fixed_masked_set(blocks[:64], tokenizer, seed=0)
    other = fixed_masked_set(blocks[:64], tokenizer, seed=1)
    assert torch.equal(first["labels"], again["labels"])
    assert not torch.equal(first["labels"], other["labels"])
    selected = first["labels"] != -100
    assert (first["input_ids"][selected] == tokenizer.mask_token_id).all()
    assert 0.12 <= selected.float().mean().item() <= 0.17


def test_masked_logits_give_the_models_own_loss(model, blocks, tokenizer):
    batch = fixed_masked_set(blocks[:8], tokenizer, seed=0)
    with torch.no_grad():
        expected = model(**batch).loss.item()
        logits, targets = masked_logits(model, **batch)
    assert logits.shape == (int((batch["labels"] != -100).sum()), model.config.vocab_size)
    loss = torch.nn.functional.cross_entropy(logits, targets).item()
    assert abs(loss - expected) <= 1e-4


def test_untrained_head_scores_near_uniform_guessing(model, blocks, tokenizer):
    scores = evaluate_masked_lm(model, fixed_masked_set(blocks[:32], tokenizer, seed=0))
    assert 9.5 <= scores.loss <= 11.5          # ln(30522) = 10.33
    assert scores.perplexity == pytest.approx(math.exp(scores.loss), rel=1e-9)
    assert 0 <= scores.top1 <= scores.top5 <= 0.02
    assert scores.n_masked >= 100
