"""Masked language modelling: mask a sentence, read the predictions, build text, score a model.

Lesson 02 uses these helpers to show what a masked-LM predicts, to build the offline
training text (review snippets, plot synopses and Hamlet's lines) packed into short
blocks, and to score a model before and after training on the same held-out blocks
with the same masked positions.

Example::

    >>> tokenizer = AutoTokenizer.from_pretrained(path)                  # doctest: +SKIP
    >>> masked, target = mask_word("a very good film", "good", tokenizer)  # doctest: +SKIP
    >>> top_k_at_masks(model, tokenizer, masked, k=3)                      # doctest: +SKIP
    [[('good', 0.31), ('funny', 0.08), ('bad', 0.05)]]
    >>> heldout = fixed_masked_set(blocks, tokenizer, seed=0)              # doctest: +SKIP
    >>> evaluate_masked_lm(model, heldout).top5                            # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling

from .training import IGNORE_INDEX


class MLMError(ValueError):
    """A sentence or text that a masked-LM helper cannot use, explained with a fix."""


# ----------------------------------------------------------------------------- one sentence
def mask_word(sentence: str, word: str, tokenizer) -> tuple[str, int]:
    """Replace the first whole ``word`` in ``sentence`` by the mask; return (text, target id)."""
    if not isinstance(sentence, str) or not isinstance(word, str) or not word.strip():
        raise MLMError("mask_word takes a sentence and a non-empty word, both strings.")
    pieces = tokenizer.tokenize(word.strip())
    if len(pieces) != 1:
        raise MLMError(f"{word!r} is {len(pieces)} word pieces {pieces} in this vocabulary; one "
                       "[MASK] hides exactly one piece. Choose a word that is a single piece.")
    match = re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", sentence)
    if match is None:
        raise MLMError(f"{word!r} is not a whole word of {sentence!r}.")
    masked = sentence[: match.start()] + tokenizer.mask_token + sentence[match.end():]
    return masked, tokenizer.convert_tokens_to_ids(pieces[0])


def encode_masked(text: str, tokenizer, max_length: int | None = None):
    """Tokenize ``text`` for a masked-LM; raise if it has no mask token or is too long."""
    if not isinstance(text, str):
        raise MLMError(f"Expected a string, got {type(text).__name__}.")
    if tokenizer.mask_token is None:
        raise MLMError(f"{type(tokenizer).__name__} has no mask token: use a masked-LM tokenizer.")
    limit = max_length or tokenizer.model_max_length
    encoding = tokenizer(text, return_tensors="pt")
    n_tokens = encoding["input_ids"].shape[1]
    if n_tokens > limit:
        raise MLMError(f"The text is {n_tokens} tokens long and the model reads at most {limit}. "
                       "Shorten it to the sentence around the mask.")
    if not mask_positions(encoding["input_ids"][0], tokenizer.mask_token_id):
        raise MLMError(f"No {tokenizer.mask_token} in {text!r}: write {tokenizer.mask_token} "
                       "where the word to predict goes (this tokenizer spells it exactly so).")
    return encoding


def mask_positions(input_ids: Sequence[int] | torch.Tensor, mask_token_id: int) -> list[int]:
    """Return the positions of the mask token in one sequence of ids, in order."""
    ids = torch.as_tensor(input_ids)
    if ids.dim() != 1:
        raise MLMError(f"mask_positions takes one sequence of ids, not a tensor of shape "
                       f"{tuple(ids.shape)}: pass input_ids[0].")
    return (ids == mask_token_id).nonzero().flatten().tolist()


@torch.no_grad()
def top_k_at_masks(model, tokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """Return, for each mask in ``text`` (left to right), the ``k`` likeliest tokens and chances.

    With several masks the model sees all of them at once and predicts each one
    independently: the guess for one mask does not know the guess for another.
    """
    encoding = encode_masked(text, tokenizer).to(model.device)
    model.eval()
    logits = model(**encoding).logits[0]
    results = []
    for position in mask_positions(encoding["input_ids"][0], tokenizer.mask_token_id):
        probs = logits[position].softmax(-1)
        values, ids = probs.topk(k)
        tokens = tokenizer.convert_ids_to_tokens(ids.tolist())
        results.append([(t, round(float(p), 4)) for t, p in zip(tokens, values)])
    return results


# ----------------------------------------------------------------------------- training text
def join_lines(lines: Sequence[str], lines_per_text: int = 4) -> list[str]:
    """Join consecutive short lines (verse) into texts of ``lines_per_text`` lines."""
    return [" ".join(lines[i: i + lines_per_text]) for i in range(0, len(lines), lines_per_text)]


def build_training_texts(review_classes: Sequence[str] = ("fresh", "rotten", "plot"),
                         hamlet_path: str | Path | None = None, heldout_fraction: float = 0.04,
                         seed: int = 0) -> tuple[list[str], list[str]]:
    """Return (train, held-out) texts: reviews, plot synopses and Hamlet, shuffled by ``seed``.

    The split is made on whole texts before packing, so no held-out sentence is ever
    seen in training.
    """
    from .corpora import hamlet_lines, load_reviews
    from .data import clean_texts

    if not 0 < heldout_fraction < 0.5:
        raise MLMError(f"heldout_fraction={heldout_fraction} must be between 0 and 0.5.")
    reviews, _ = clean_texts(load_reviews(tuple(review_classes)))
    spoken, _ = hamlet_lines(hamlet_path, stage_directions="entrances")
    hamlet = join_lines(spoken)
    texts = reviews["text"].tolist() + hamlet
    random.Random(seed).shuffle(texts)
    n_heldout = max(1, int(len(texts) * heldout_fraction))
    return texts[n_heldout:], texts[:n_heldout]


def pack_into_blocks(texts: Iterable[str], tokenizer, block_size: int = 64) -> list[list[int]]:
    """Tokenize texts, join them with [SEP] and cut the stream into [CLS] ... [SEP] blocks."""
    if block_size < 8:
        raise MLMError(f"block_size={block_size} is too small: use at least 8 tokens.")
    if block_size > tokenizer.model_max_length:
        raise MLMError(f"block_size={block_size} exceeds the model's maximum of "
                       f"{tokenizer.model_max_length} tokens.")
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise MLMError("No text to pack: pass a non-empty list of strings.")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    stream: list[int] = []
    for piece in ids:
        stream.extend(piece + [tokenizer.sep_token_id])
    body = block_size - 2
    return [[tokenizer.cls_token_id] + stream[i: i + body] + [tokenizer.sep_token_id]
            for i in range(0, len(stream) - body + 1, body)]


# ----------------------------------------------------------------------------- evaluation
def fixed_masked_set(blocks: Sequence[Sequence[int]], tokenizer, seed: int = 0,
                     mlm_probability: float = 0.15) -> dict[str, torch.Tensor]:
    """Mask ``blocks`` once, reproducibly (each chosen token becomes [MASK]); return the tensors."""
    if not blocks:
        raise MLMError("No held-out blocks to mask.")
    if len({len(b) for b in blocks}) != 1:
        raise MLMError("Held-out blocks must have one length: build them with pack_into_blocks.")
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability,
                                               mask_replace_prob=1.0, random_replace_prob=0.0,
                                               seed=seed)
    # transformers < 5.19 ignores seed=0 (it tests `if self.seed`): give the generator directly
    collator.generator = torch.Generator().manual_seed(seed)
    batch = collator([{"input_ids": list(b)} for b in blocks])
    return {"input_ids": batch["input_ids"], "attention_mask": torch.ones_like(batch["input_ids"]),
            "labels": batch["labels"]}


@dataclass(frozen=True)
class MLMScores:
    """Masked-token loss, perplexity and top-k accuracy over a held-out set."""

    loss: float
    perplexity: float
    top1: float
    top5: float
    n_masked: int
    hits1: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    hits5: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)

    def as_dict(self) -> dict[str, float]:
        """Return the scores as a plain dict (the per-token hits left out)."""
        return {k: v for k, v in asdict(self).items() if k not in ("hits1", "hits5")}


def masked_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return vocabulary logits at the labelled (masked) positions only, and their labels.

    Equivalent to ``model(...).logits[labels != IGNORE_INDEX]`` but the vocabulary projection
    runs on the masked ~15% of tokens instead of all of them, which roughly halves the
    cost of a small BERT's training step.
    """
    chosen = labels != IGNORE_INDEX
    if hasattr(model, "cls"):   # BERT-style: encoder, then the prediction head on chosen tokens
        hidden = model.base_model(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
        return model.cls(hidden[chosen]), labels[chosen]
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits[chosen], labels[chosen]


@torch.no_grad()
def evaluate_masked_lm(model, heldout: dict[str, torch.Tensor], batch_size: int = 64) -> MLMScores:
    """Score ``model`` on a fixed masked set: mean loss, perplexity, top-1 and top-5 accuracy."""
    model.eval()
    total_loss, n, hits1, hits5 = 0.0, 0, [], []
    for start in range(0, len(heldout["input_ids"]), batch_size):
        part = {k: v[start: start + batch_size].to(model.device) for k, v in heldout.items()}
        logits, targets = masked_logits(model, **part)
        total_loss += torch.nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        top5 = logits.topk(5, dim=-1).indices
        hits1.append((top5[:, 0] == targets).cpu().numpy())
        hits5.append((top5 == targets[:, None]).any(-1).cpu().numpy())
        n += len(targets)
    if n == 0:
        raise MLMError("The held-out set has no masked tokens: use more blocks.")
    loss = total_loss / n
    hits1, hits5 = np.concatenate(hits1), np.concatenate(hits5)
    return MLMScores(loss=loss, perplexity=math.exp(loss), top1=float(hits1.mean()),
                     top5=float(hits5.mean()), n_masked=n, hits1=hits1, hits5=hits5)
