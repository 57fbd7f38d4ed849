"""Token tagging (lesson 06): label every token with the first letter of its word.

The labels are 27 classes: id 0 (``"0"``) for words that do not start with a letter
a-z, ids 1..26 for ``"a"``..``"z"`` (all 26: no letter is folded
into 0). Labels are built on the *tokenized* text with a fast tokenizer's
``word_ids()`` and character offsets, under one of two schemes:

- ``"every"``: every subword of a word carries the word's label;
- ``"first"``: only the first subword does, the others get -100, which the loss and
  the accuracy skip (how named-entity datasets are labelled).

Special tokens ([CLS], [SEP]) get -100 under both schemes, as padding does: they are not
words, so no loss or accuracy counts them.
Empty lines are dropped and counted; lines longer than the model's maximum are split
into windows, each with its own special tokens, so no token is lost and nothing crashes.

Example::

    >>> tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm"))   # doctest: +SKIP
    >>> lines, corpus = load_tagging_lines("hamlet")   # course_utils.corpora  # doctest: +SKIP
    >>> features, report = encode_lines(tokenizer, lines, scheme="every")    # doctest: +SKIP
    >>> model = TokenTagger.from_pretrained(resolve_model("minilm"))         # doctest: +SKIP
    >>> predict_words(model, tokenizer, "To be, or not to be")               # doctest: +SKIP
    [('To', 't'), ('be', 'b'), (',', '0'), ...]
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .training import IGNORE_INDEX

LETTERS = string.ascii_lowercase
NON_LETTER = "0"
ID2LABEL: dict[int, str] = {0: NON_LETTER, **{i + 1: letter for i, letter in enumerate(LETTERS)}}
LABEL2ID: dict[str, int] = {label: i for i, label in ID2LABEL.items()}
NUM_LABELS = len(ID2LABEL)
SCHEMES = ("every", "first")


class TaggingError(ValueError):
    """Bad input to the tagging helpers, explained with a fix."""


# ---------------------------------------------------------------- labels and alignment
def first_letter_id(word: str) -> int:
    """Return a word's label id: 1..26 for a first letter a..z (any case, no accents), else 0."""
    if not isinstance(word, str) or not word:
        return 0
    base = unicodedata.normalize("NFKD", word[0])[0].lower()
    return LETTERS.index(base) + 1 if base in LETTERS else 0


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int],
                 scheme: str = "every") -> list[int]:
    """Return one label per token from one label per word (specials -100; -100 per ``scheme``)."""
    if scheme not in SCHEMES:
        raise TaggingError(f"Unknown labelling scheme {scheme!r}: use 'every' or 'first'.")
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE_INDEX)                # [CLS], [SEP]: not a word, not scored
        elif word >= len(word_labels):
            raise TaggingError(f"word id {word} but only {len(word_labels)} word labels: "
                               "compute word labels from the same encoding.")
        elif word != previous or scheme == "every":
            labels.append(word_labels[word])
        else:
            labels.append(IGNORE_INDEX)                # a later subword of the same word
        previous = word
    return labels


def _word_labels(text: str, encoding, index: int) -> list[int]:
    """Return the first-letter label of each word the tokenizer saw in ``text``."""
    word_ids = [w for w in encoding.word_ids(index) if w is not None]
    labels = [0] * (max(word_ids) + 1 if word_ids else 0)
    for word in set(word_ids):
        start, _ = encoding.word_to_chars(index, word)
        labels[word] = first_letter_id(text[start:])
    return labels


def _windows(ids: list[int], labels: list[int], special_mask: list[int], tokenizer,
             max_length: int) -> list[dict]:
    """Split one tokenized line into pieces of at most ``max_length`` tokens with specials."""
    if len(ids) <= max_length:
        return [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}]
    n_special = sum(special_mask[:1]) + sum(special_mask[-1:])
    if max_length <= n_special:
        raise TaggingError(f"max_length={max_length} leaves no room for text: use at least "
                           f"{n_special + 1}.")
    first = special_mask.index(0) if 0 in special_mask else len(ids)
    last = len(ids) - special_mask[::-1].index(0) if 0 in special_mask else len(ids)
    prefix, suffix = ids[:first], ids[last:]           # [CLS] ... [SEP] for BERT
    body = list(zip(ids[first:last], labels[first:last]))
    step, pieces = max_length - len(prefix) - len(suffix), []
    for start in range(0, len(body), step):
        chunk_ids, chunk_labels = map(list, zip(*body[start:start + step]))
        pieces.append({"input_ids": prefix + chunk_ids + suffix,
                       "attention_mask": [1] * (len(prefix) + len(chunk_ids) + len(suffix)),
                       "labels": ([IGNORE_INDEX] * len(prefix) + chunk_labels
                                  + [IGNORE_INDEX] * len(suffix))})
    return pieces


@dataclass
class EncodingReport:
    """How many lines became training examples, and what happened to the others."""

    lines: int
    empty_dropped: int
    long_split: int
    examples: int
    tokens: int

    def __str__(self) -> str:
        return (f"{self.lines} lines -> {self.examples} examples, {self.tokens} tokens "
                f"(empty lines dropped: {self.empty_dropped}, long lines split: {self.long_split})")


def encode_lines(tokenizer, lines: Iterable[str], scheme: str = "every",
                 max_length: int | None = None) -> tuple[list[dict], EncodingReport]:
    """Tokenize lines and label every token; drop empty lines, split over-long ones."""
    if not getattr(tokenizer, "is_fast", False):
        raise TaggingError("Token labels need a fast tokenizer (word_ids and offsets): load it "
                           "with AutoTokenizer.from_pretrained(name) (use_fast is the default).")
    if scheme not in SCHEMES:
        raise TaggingError(f"Unknown labelling scheme {scheme!r}: use 'every' or 'first'.")
    lines = [line if isinstance(line, str) else "" for line in lines]
    texts = [line for line in lines if line.strip()]
    limit = max_length or min(tokenizer.model_max_length, 512)
    encoded = tokenizer(texts, truncation=False, return_special_tokens_mask=True,
                        verbose=False) if texts else None
    features, n_split = [], 0
    for i, text in enumerate(texts):
        labels = align_labels(encoded.word_ids(i), _word_labels(text, encoded, i), scheme)
        pieces = _windows(encoded["input_ids"][i], labels, encoded["special_tokens_mask"][i],
                          tokenizer, limit)
        n_split += len(pieces) > 1
        features.extend(pieces)
    report = EncodingReport(len(lines), len(lines) - len(texts), n_split, len(features),
                            sum(len(f["input_ids"]) for f in features))
    return features, report


def piece_kinds(tokenizer, lines: Iterable[str], max_length: int | None = None) -> list[str]:
    """Return for every token of ``encode_lines(lines)`` its kind: special, first or later piece."""
    features, _ = encode_lines(tokenizer, lines, scheme="first", max_length=max_length)
    kinds = []
    for feature in features:
        special = tokenizer.get_special_tokens_mask(feature["input_ids"],
                                                    already_has_special_tokens=True)
        kinds.extend("special token" if s else "later piece" if y == IGNORE_INDEX else "first piece"
                     for s, y in zip(special, feature["labels"]))
    return kinds


# ---------------------------------------------------------------- the model
class TokenTagger(nn.Module):
    """A pretrained encoder and a linear head that maps every token's vector to a label."""

    def __init__(self, encoder: nn.Module, num_labels: int = NUM_LABELS, dropout: float = 0.1,
                 freeze_encoder: bool = True):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.freeze_encoder(freeze_encoder)

    @classmethod
    def from_pretrained(cls, name_or_path: str, **kwargs) -> TokenTagger:
        """Load the encoder with ``AutoModel`` and put a fresh head on it."""
        from transformers import AutoModel

        return cls(AutoModel.from_pretrained(name_or_path), **kwargs)

    def freeze_encoder(self, frozen: bool = True) -> TokenTagger:
        """Stop (or restart) training the encoder; a frozen encoder also stays in eval mode."""
        self.encoder_frozen = frozen
        self.encoder.requires_grad_(not frozen)
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> TokenTagger:
        """Set train/eval mode, keeping a frozen encoder's dropout off."""
        super().train(mode)
        if getattr(self, "encoder_frozen", False):
            self.encoder.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **unused):
        """Return a ``TokenClassifierOutput`` with logits (batch, tokens, labels) and the loss."""
        from transformers.modeling_outputs import TokenClassifierOutput

        sequence_output = self.encoder(input_ids=input_ids,
                                       attention_mask=attention_mask).last_hidden_state
        logits = self.head(self.dropout(sequence_output))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                               labels.reshape(-1), ignore_index=IGNORE_INDEX)
        return TokenClassifierOutput(loss=loss, logits=logits)


# ---------------------------------------------------------------- evaluation
def flat_labels(features: Iterable[dict]) -> torch.Tensor:
    """Return every scored label of a set of examples in one 1-D tensor (no -100)."""
    labels = torch.tensor([y for f in features for y in f["labels"]], dtype=torch.long)
    return labels[labels != IGNORE_INDEX]


def majority_baseline(train_labels: torch.Tensor, eval_labels: torch.Tensor) -> tuple[int, float]:
    """Return the most frequent training label and its accuracy when always predicted on eval."""
    train_labels = train_labels[train_labels != IGNORE_INDEX]
    eval_labels = eval_labels[eval_labels != IGNORE_INDEX]
    if train_labels.numel() == 0 or eval_labels.numel() == 0:
        raise TaggingError("majority_baseline needs labelled tokens in both sets.")
    majority = int(torch.bincount(train_labels).argmax())
    return majority, float((eval_labels == majority).float().mean())


def per_label_accuracy(predictions: Sequence[int], labels: Sequence[int],
                       id2label: dict[int, str] = ID2LABEL):
    """Return a DataFrame: per label, how many eval tokens carry it and the accuracy on them."""
    import pandas as pd

    predictions, labels = torch.as_tensor(predictions), torch.as_tensor(labels)
    keep = labels != IGNORE_INDEX
    predictions, labels = predictions[keep], labels[keep]
    rows = []
    for label_id, name in sorted(id2label.items()):
        mask = labels == label_id
        n = int(mask.sum())
        accuracy = float((predictions[mask] == label_id).float().mean()) if n else float("nan")
        rows.append({"label": name, "tokens": n, "accuracy": accuracy})
    return pd.DataFrame(rows).set_index("label")


@torch.no_grad()
def predict_words(model: nn.Module, tokenizer, text: str, device: str | torch.device = "cpu",
                  id2label: dict[int, str] = ID2LABEL) -> list[tuple[str, str]]:
    """Return (word, predicted label) for each word of ``text``, read at its first subword."""
    if not isinstance(text, str) or not text.strip():
        return []
    model.eval()
    encoding = tokenizer(text, return_tensors="pt", truncation=True)
    inputs = {k: v.to(device) for k, v in encoding.items() if k in ("input_ids", "attention_mask")}
    output = model(**inputs)
    logits = output.logits if hasattr(output, "logits") else output
    predicted = logits[0].argmax(-1).tolist()
    words, seen = [], set()
    for position, word in enumerate(encoding.word_ids(0)):
        if word is None or word in seen:
            continue
        seen.add(word)
        start, end = encoding.word_to_chars(0, word)
        words.append((text[start:end], id2label[predicted[position]]))
    return words
