"""Checks for lesson 02's exercises: score a masked word, the masked-LM loss by hand, a collator."""

from __future__ import annotations

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
          hint="Rank = 1 + the number of vocabulary tokens whose logit at the mask is higher than "
               "the hidden word's.")
def masked_word_rank(masked_sentence, target_word, target_rank, model, tokenizer):
    """Score a word of your own: its rank among the model's guesses at the mask."""
    if not isinstance(masked_sentence, str) or not isinstance(target_word, str):
        return Feedback.wrong("masked_sentence and target_word must be strings.")
    n_masks = masked_sentence.count(tokenizer.mask_token)
    if n_masks != 1:
        return Feedback.wrong(f"masked_sentence must contain exactly one {tokenizer.mask_token}; "
                              f"it has {n_masks}. Build it with mask_word(sentence, word, tokenizer).")
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
                              f"{expected} of the model in its current state (call model.eval()).")
    return Feedback.right(f"target_rank matches the model's ranking of {target_word!r} among all "
                          f"{scores.numel():,} tokens.")


@exercise("02.2", lesson="02", names=["batch_hand_loss", "loss_batch", "model"],
          hint="Select the positions where labels != -100 and take cross_entropy(logits[chosen], "
               "labels[chosen]), which averages over masked tokens.")
def masked_loss_by_hand(batch_hand_loss, loss_batch, model):
    """The masked-LM loss by hand equals the model's own loss."""
    if isinstance(batch_hand_loss, torch.Tensor):
        if batch_hand_loss.numel() != 1:
            return Feedback.wrong(f"batch_hand_loss should be one number, not a tensor of shape "
                                  f"{tuple(batch_hand_loss.shape)}: average over the masked tokens.")
        batch_hand_loss = batch_hand_loss.item()
    if isinstance(batch_hand_loss, bool) or not isinstance(batch_hand_loss, (int, float)):
        return Feedback.wrong(f"batch_hand_loss should be a float, not {type(batch_hand_loss).__name__}.")
    model.eval()
    batch = {name: values.to(model.device) for name, values in loss_batch.items()}
    with torch.no_grad():
        expected = model(**batch).loss.item()
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    n_masked = int((batch["labels"] != -100).sum())
    everywhere = torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                   batch["input_ids"].flatten()).item()
    if abs(batch_hand_loss - expected) <= 1e-3 * max(1.0, expected):
        return Feedback.right("batch_hand_loss equals the model's own masked-LM loss on loss_batch.")
    if abs(batch_hand_loss - expected * n_masked) <= 1e-3 * expected * n_masked:
        return Feedback.wrong(f"batch_hand_loss is the sum over the {n_masked} masked tokens; the "
                              "masked-LM loss is their mean.")
    if abs(batch_hand_loss - everywhere) <= 1e-3 * max(1.0, everywhere):
        return Feedback.wrong("batch_hand_loss scores every position against the input ids (the "
                              "source lesson's mistake): only masked positions, with the "
                              "original tokens from labels, count.")
    if abs(batch_hand_loss - expected) <= 0.2 * expected:
        return Feedback.wrong(f"batch_hand_loss = {batch_hand_loss:.4f} is close to the model's "
                              f"{expected:.4f} but not equal: was dropout on? Call model.eval() "
                              "and compute the logits under torch.no_grad().")
    return Feedback.wrong(f"batch_hand_loss = {batch_hand_loss:.4f}, but the model's own loss on loss_batch "
                          f"is {expected:.4f}.")


@exercise("02.3", lesson="02", names=["eval_collator", "train_blocks", "tokenizer"],
          hint="Use DataCollatorForLanguageModeling: mlm_probability sets the share of tokens "
               "selected; its two replacement probabilities decide how many selected tokens become "
               "the mask token (here all of them) or a random token (here none); pass seed=seed.")
def collator_masks_everything(eval_collator, train_blocks, tokenizer):
    """A collator that selects 30% of the tokens and masks every one of them."""
    from transformers import DataCollatorForLanguageModeling

    if not isinstance(eval_collator, DataCollatorForLanguageModeling):
        return Feedback.wrong(f"eval_collator should be a DataCollatorForLanguageModeling, not "
                              f"{type(eval_collator).__name__}.")
    if not eval_collator.mlm:
        return Feedback.wrong("eval_collator has mlm=False: that prepares causal-LM labels, "
                              "with nothing masked.")
    blocks = [list(b) for b in train_blocks[:64]]
    batch = eval_collator([{"input_ids": b} for b in blocks])
    original = torch.tensor(blocks)
    ordinary = ~torch.isin(original, torch.tensor(tokenizer.all_special_ids))
    selected = batch["labels"] != -100
    share = (selected.sum() / ordinary.sum()).item()
    masked = selected & (batch["input_ids"] == tokenizer.mask_token_id)
    if not 0.27 <= share <= 0.33:
        return Feedback.wrong(f"It selected {share:.1%} of the ordinary tokens; set "
                              "mlm_probability=0.3.")
    if int(masked.sum()) != int(selected.sum()):
        left = int(selected.sum() - masked.sum())
        return Feedback.wrong(f"{left} selected tokens were not replaced by "
                              f"{tokenizer.mask_token} (the 80/10/10 rule is still on): set "
                              "mask_replace_prob=1.0 and random_replace_prob=0.0.")
    return Feedback.right(f"It selected {share:.1%} of the tokens and masked all "
                          f"{int(selected.sum())} of them.")
