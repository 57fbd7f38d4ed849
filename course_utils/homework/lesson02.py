"""Checks for lesson 02: score a masked word, the masked-LM loss as a function, predict masking."""

from __future__ import annotations

from typing import Any

import torch

from .core import Feedback, exercise


def _logits_at_mask(model, tokenizer, masked_sentence: str) -> torch.Tensor:
    """Return the model's vocabulary logits at the single mask of ``masked_sentence``."""
    from ..mlm import encode_masked, mask_positions

    model.eval()
    with torch.no_grad():
        inputs = encode_masked(masked_sentence, tokenizer).to(model.device)
        positions = mask_positions(inputs["input_ids"][0], tokenizer.mask_token_id)
        return model(**inputs).logits[0, positions[0]]


@exercise("02.1", lesson="02", names=["masked_sentence", "target_word", "target_rank", "model",
                                      "tokenizer"],
          hint="Get the model's scores at the mask position as in section 2 (evaluation mode, "
               "no gradients); the top guess has rank 1, so the rank follows from how many "
               "tokens score above the hidden word.")
def masked_word_rank(masked_sentence, target_word, target_rank, model, tokenizer):
    """Score a word of your own: its rank among the model's guesses at the mask."""
    if not isinstance(masked_sentence, str) or not isinstance(target_word, str):
        return Feedback.wrong("masked_sentence and target_word must be strings.")
    n_masks = masked_sentence.count(tokenizer.mask_token)
    if n_masks != 1:
        return Feedback.wrong(f"masked_sentence must contain exactly one {tokenizer.mask_token}; "
                              f"it has {n_masks}. Build it with "
                              "mask_word(sentence, word, tokenizer).")
    pieces = tokenizer.tokenize(target_word)
    if len(pieces) != 1:
        return Feedback.wrong(f"{target_word!r} is {len(pieces)} word pieces; pick a word that is "
                              "one piece, so one mask hides all of it.")
    if isinstance(target_rank, bool) or not isinstance(target_rank, int):
        return Feedback.wrong(f"target_rank should be an int, not {type(target_rank).__name__}.")
    scores = _logits_at_mask(model, tokenizer, masked_sentence)
    target_id = tokenizer.convert_tokens_to_ids(pieces[0])
    expected = int((scores > scores[target_id]).sum()) + 1
    if target_rank == expected - 1:
        return Feedback.wrong(f"target_rank is {target_rank}, one less than the rank: ranks start "
                              "at 1 for the top guess (did you count from 0?).")
    if target_rank != expected:
        return Feedback.wrong(f"target_rank is {target_rank}, but {target_word!r} is guess number "
                              f"{expected} of the model in its current state (in evaluation mode, "
                              "as section 2 scores it).")
    return Feedback.right(f"target_rank matches the model's ranking of {target_word!r} among all "
                          f"{scores.numel():,} tokens.")


def _loss_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return (logits, labels) cases the check chooses: masked positions vary, -100 elsewhere."""
    generator = torch.Generator().manual_seed(2)
    cases = []
    for batch, length, vocab, share in [(2, 6, 11, 0.3), (3, 9, 17, 0.15), (1, 5, 7, 0.6)]:
        logits = torch.randn(batch, length, vocab, generator=generator) * 3
        targets = torch.randint(0, vocab, (batch, length), generator=generator)
        chosen = torch.rand(batch, length, generator=generator) < share
        chosen[0, 1] = True  # at least one masked position
        cases.append((logits, torch.where(chosen, targets, torch.full_like(targets, -100))))
    return cases


def _as_float(value: Any) -> float | None:
    """Return a number (or a one-element tensor) as a float, else None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@exercise("02.2", lesson="02", names=["masked_lm_loss"],
          hint="Section 5: the labels say which positions were masked and what stood there; the "
               "loss is a classification over the vocabulary at those positions, averaged over "
               "them alone.")
def masked_loss_by_hand(masked_lm_loss):
    """The masked-LM loss by hand, from logits and labels, on inputs the check chooses."""
    if not callable(masked_lm_loss):
        return Feedback.not_a_function("masked_lm_loss", masked_lm_loss, "(logits, labels)")
    for logits, labels in _loss_cases():
        chosen = labels != -100
        expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                   labels.flatten()).item()
        got = _as_float(masked_lm_loss(logits.clone(), labels.clone()))
        shape = f"logits of shape {tuple(logits.shape)} with {int(chosen.sum())} masked positions"
        if got is None:
            return Feedback.wrong(f"For {shape}, masked_lm_loss returned no single number.")
        if abs(got - expected) <= 1e-4 * max(1.0, expected):
            continue
        n_masked = int(chosen.sum())
        if abs(got - expected * n_masked) <= 1e-3 * expected * n_masked:
            return Feedback.wrong(f"For {shape}, your loss is {n_masked} times too large: it adds "
                                  "up the masked positions instead of averaging them.")
        every = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), torch.where(chosen, labels, 0).flatten()).item()
        if abs(got - every) <= 1e-4 * max(1.0, every):
            return Feedback.wrong(f"For {shape}, your loss also scores the positions that were "
                                  "not masked (label -100): they must not count.")
        return Feedback.wrong(f"For {shape}, masked_lm_loss returned {got:.4f}: not the mean "
                              "cross-entropy over the masked positions (it is "
                              f"{'too large' if got > expected else 'too small'}).")
    return Feedback.right("masked_lm_loss agrees with the model's own masked-LM loss on batches "
                          "it had never seen: only the masked positions count, averaged.")


MASK_SHARE = 0.8        # 02.3: the share of selected tokens the collator turns into the mask token
PREDICTION_SLACK = 0.03  # 02.3: how far (relative) a prediction may be from the expected count


def _count(value: Any, name: str) -> tuple[int | None, Feedback | None]:
    """Return ``value`` as an int (from a 1-element tensor too), or feedback saying why not."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None, Feedback.wrong(f"`{name}` should be a whole number of tokens, not "
                                    f"{value!r}.")
    return value, None


@exercise("02.3", lesson="02", names=["tokenizer", "collator", "mask_demo_blocks",
                                      "predicted_masks", "mask_batch", "measured_masks"],
          hint="Only ordinary tokens can be selected (not [CLS] or [SEP]); of the selected ones, "
               "the 80/10/10 rule of section 5 decides how many show the mask token. For the "
               "measurement, compare the batch's input ids with the tokenizer's mask token id.")
def predicted_and_measured_masks(tokenizer, collator, mask_demo_blocks, predicted_masks,
                                 mask_batch, measured_masks):
    """Predict how many tokens the collator masks, then run it and count them."""
    blocks = torch.tensor([list(b) for b in mask_demo_blocks])
    special = torch.isin(blocks, torch.tensor(tokenizer.all_special_ids))
    ordinary = int((~special).sum())
    probability = float(collator.mlm_probability)
    expected = probability * MASK_SHARE * ordinary
    predicted = predicted_masks.item() if isinstance(predicted_masks, torch.Tensor) \
        else predicted_masks
    if isinstance(predicted, bool) or not isinstance(predicted, (int, float)):
        return Feedback.wrong(f"`predicted_masks` should be a number, not "
                              f"{type(predicted_masks).__name__}.")
    if abs(predicted - expected) > PREDICTION_SLACK * expected:
        if abs(predicted - probability * ordinary) <= PREDICTION_SLACK * expected:
            return Feedback.wrong(f"predicted_masks = {predicted:g} is the number of tokens the "
                                  "collator selects; not every selected token becomes the mask "
                                  "token.")
        if abs(predicted - probability * MASK_SHARE * blocks.numel()) <= 1e-6:
            return Feedback.wrong(f"predicted_masks = {predicted:g} counts every position; "
                                  "special tokens are never selected.")
        return Feedback.wrong(f"predicted_masks = {predicted:g} is far from what the collator's "
                              f"probabilities give for these {len(blocks)} blocks.")
    if not (hasattr(mask_batch, "keys") and "input_ids" in mask_batch and "labels" in mask_batch):
        return Feedback.wrong("`mask_batch` should be what the collator returns for the blocks: "
                              "a dict with input_ids and labels.")
    ids, labels = mask_batch["input_ids"].cpu(), mask_batch["labels"].cpu()
    selected = labels != -100
    if ids.shape != blocks.shape or not torch.equal(ids[~selected], blocks[~selected]) \
            or not torch.equal(labels[selected], blocks[selected]):
        return Feedback.wrong("`mask_batch` was not made from `mask_demo_blocks`: pass those "
                              "blocks (as {'input_ids': block} examples) to `collator`.")
    masked = int((ids == tokenizer.mask_token_id).sum())
    measured, problem = _count(measured_masks, "measured_masks")
    if problem:
        return problem
    if measured != masked:
        if measured == int(selected.sum()):
            return Feedback.wrong(f"measured_masks = {measured} counts every selected token "
                                  "(labels != -100), including those replaced by a random token "
                                  "or kept unchanged.")
        return Feedback.wrong(f"measured_masks = {measured} is not the number of mask tokens in "
                              "mask_batch.")
    spread = (ordinary * probability * MASK_SHARE * (1 - probability * MASK_SHARE)) ** 0.5
    return Feedback.right(f"You predicted {predicted:.0f} mask tokens and the collator made "
                          f"{measured}: {abs(measured - predicted) / spread:.1f} standard "
                          f"deviations apart (chance alone moves the count by about "
                          f"{spread:.0f}).")


predicted_and_measured_masks.kind = "judgement"  # counted in README's Homework section
