"""Checks for lesson 01 (tokenization): decode a batch, build a padded batch, choose max_length.

Each check recomputes the expected answer with the learner's own ``tokenizer`` (so it holds
for the offline and the full profile alike) and says what differs. Example::

    >>> evaluate("01.1", {"tokenizer": tok, "exercise_texts": texts,  # doctest: +SKIP
    ...                   "decoded_texts": ["what a wonderful, warm film!", "too long."]})
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Feedback, exercise


def _tokenizer_problem(tokenizer: Any) -> Feedback | None:
    """Return feedback when ``tokenizer`` is no longer a tokenizer, else None."""
    if not (callable(tokenizer) and hasattr(tokenizer, "batch_decode")
            and hasattr(tokenizer, "pad_token_id")):
        return Feedback.wrong(f"`tokenizer` is a {type(tokenizer).__name__}, not a tokenizer: "
                              "re-run the cell that loads it with AutoTokenizer.from_pretrained.")
    return None


def _texts_problem(name: str, texts: Any) -> Feedback | None:
    """Return feedback when the exercise's given texts were changed into something else."""
    if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
        return Feedback.wrong(f"`{name}` should still be the list of texts given in the exercise "
                              "cell; re-run that cell.")
    return None


def _rows(value: Any) -> list[list[int]] | None:
    """Return a 2-D batch (tensor, array or nested lists) as lists of ints, or None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if (isinstance(value, (list, tuple))
            and all(isinstance(row, (list, tuple)) for row in value)
            and all(isinstance(x, int) and not isinstance(x, bool) for row in value for x in row)):
        return [list(row) for row in value]
    return None


@exercise("01.1", lesson="01", names=["tokenizer", "exercise_texts", "decoded_texts"],
          hint="Section 3 turns ids back into text one sequence at a time; the tokenizer has "
               "a batch version of that method, and an option that leaves out the special "
               "tokens (see 'Utilities for tokenizers' in the transformers docs).")
def decode_batch_without_special_tokens(tokenizer, exercise_texts, decoded_texts):
    """Decode a padded batch back to text, without special tokens."""
    problem = _tokenizer_problem(tokenizer) or _texts_problem("exercise_texts", exercise_texts)
    if problem:
        return problem
    expected = tokenizer.batch_decode(tokenizer(exercise_texts, padding=True)["input_ids"],
                                      skip_special_tokens=True)
    if isinstance(decoded_texts, str):
        return Feedback.wrong("`decoded_texts` is a single string: decode each row of the batch, "
                              "giving one string per text.")
    if not isinstance(decoded_texts, (list, tuple)):
        return Feedback.wrong(f"`decoded_texts` should be a list of strings, one per text, not a "
                              f"{type(decoded_texts).__name__}.")
    if len(decoded_texts) != len(expected):
        return Feedback.wrong(f"`decoded_texts` has {len(decoded_texts)} entries; the batch has "
                              f"{len(expected)} rows, one per text.")
    for index, text in enumerate(decoded_texts):
        if isinstance(text, (list, tuple)):
            return Feedback.wrong(f"Entry {index} is a list ({list(text)[:4]}...), not a string: "
                                  "those are tokens; turn ids back into text with decoding.")
        if not isinstance(text, str):
            return Feedback.wrong(f"Entry {index} is a {type(text).__name__}, not a string.")
        specials = [s for s in tokenizer.all_special_tokens if s in text]
        if specials:
            return Feedback.wrong(f"Text {index} still contains {', '.join(specials)}: the special "
                                  "tokens must go.")
        if text != expected[index]:
            return Feedback.wrong(f"Text {index} is {text!r}; decoding row {index} of the batch "
                                  f"gives {expected[index]!r}.")
    return Feedback.right("Both rows decoded back to text, without [CLS], [SEP] or [PAD]. Note "
                          "that the text comes back lower-cased: the vocabulary is uncased.")


@exercise("01.2", lesson="01", names=["tokenizer", "two_reviews", "review_batch"],
          hint="Look back at section 4: the tokenizer pads a list of texts for you "
               "when you ask it to (which padding strategy stops at the longest text?), and one "
               "more argument chooses the tensor framework; the mask comes with the ids.")
def padded_batch_with_attention_mask(tokenizer, two_reviews, review_batch):
    """Tokenize two texts into one padded batch of tensors with its attention mask."""
    problem = _tokenizer_problem(tokenizer) or _texts_problem("two_reviews", two_reviews)
    if problem:
        return problem
    if not (hasattr(review_batch, "keys") and "input_ids" in review_batch):
        return Feedback.wrong(f"`review_batch` should be what the tokenizer returns (with "
                              "input_ids and attention_mask), not a "
                              f"{type(review_batch).__name__}.")
    if "attention_mask" not in review_batch:
        return Feedback.wrong("`review_batch` has no attention_mask: the model needs it to ignore "
                              "the padding (do not pass return_attention_mask=False).")
    expected = tokenizer(two_reviews, padding=True)
    ids = review_batch["input_ids"]
    if isinstance(ids, (list, tuple)) and len({len(row) for row in ids
                                               if isinstance(row, (list, tuple))}) > 1:
        lengths = ", ".join(str(len(row)) for row in ids)
        return Feedback.wrong(f"The rows have different lengths ({lengths}): they were not padded, "
                              "so they cannot form one tensor.")
    if not hasattr(ids, "shape") or not hasattr(ids, "dtype"):
        return Feedback.wrong(f"input_ids is a {type(ids).__name__}; the model takes PyTorch "
                              "tensors.")
    if not type(ids).__module__.startswith("torch"):
        return Feedback.wrong(f"input_ids is a {type(ids).__module__}.{type(ids).__name__}; ask "
                              "the tokenizer for PyTorch tensors.")
    rows, mask = _rows(ids), _rows(review_batch["attention_mask"])
    longest = len(expected["input_ids"][0])
    if rows is None or mask is None or len(rows) != len(two_reviews):
        return Feedback.wrong(f"input_ids should have shape ({len(two_reviews)}, {longest}), one "
                              f"row per text; it has shape {tuple(ids.shape)}.")
    width = len(rows[0])
    if width > longest:
        return Feedback.wrong(f"The batch is {width} tokens wide, but its longest text needs only "
                              f"{longest}: pad to the longest text in the batch, not to a fixed "
                              "length.")
    if width < longest:
        return Feedback.wrong(f"The batch is {width} tokens wide, but the longest text has "
                              f"{longest} tokens: nothing should be truncated here.")
    if rows != expected["input_ids"]:
        return Feedback.wrong("input_ids are not the tokens of `two_reviews`: tokenize exactly "
                              "those two texts, in that order.")
    if mask != expected["attention_mask"]:
        return Feedback.wrong("The attention mask should be 1 on real tokens and 0 on padding; "
                              "use the one the tokenizer returns.")
    return Feedback.right(f"A ({len(rows)}, {width}) batch of tensors, padded to its longest "
                          "text, with a mask that hides the padding.")


CUT_AT_MOST = 0.01  # 01.3: the largest share of snippets max_length may cut
MULTIPLE = 8        # 01.3: max_length is a multiple of this


def _number(value: Any, name: str) -> tuple[float | None, Feedback | None]:
    """Return ``value`` as a float (from a 1-element tensor or array too), or feedback."""
    single_tensor = hasattr(value, "numel") and value.numel() == 1
    if single_tensor or (hasattr(value, "item") and getattr(value, "size", None) == 1):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, Feedback.wrong(f"`{name}` should be one number, not a "
                                    f"{type(value).__name__}.")
    return float(value), None


def smallest_max_length(lengths: np.ndarray, cut_at_most: float = CUT_AT_MOST,
                        multiple: int = MULTIPLE) -> int:
    """Return the smallest multiple of ``multiple`` that cuts at most ``cut_at_most`` of lengths."""
    candidate = multiple
    while (lengths > candidate).mean() > cut_at_most:
        candidate += multiple
    return candidate


@exercise("01.3", lesson="01", names=["tokenizer", "texts", "lengths", "chosen_max_length",
                                      "truncated_share", "padding_share"],
          hint="Try the candidates 8, 16, 24, ... in turn and stop at the first that leaves at "
               "most 1% of `lengths` above it. A snippet longer than max_length fills every "
               "position after truncation; a shorter one fills as many as it has tokens (the "
               "padding comparison in section 7 counts the same way).")
def max_length_for_these_texts(tokenizer, texts, lengths, chosen_max_length, truncated_share,
                               padding_share):
    """Choose max_length for the course's reviews, and measure what it cuts and pads."""
    problem = _tokenizer_problem(tokenizer) or _texts_problem("texts", texts)
    if problem:
        return problem
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or len(lengths) != len(texts):
        return Feedback.wrong("`lengths` should hold one token count per snippet of `texts`: "
                              "re-run the cell that measures them.")
    sample = tokenizer(list(texts[:16]), truncation=True,
                       max_length=tokenizer.model_max_length)["input_ids"]
    if [len(ids) for ids in sample] != lengths[:16].tolist():
        return Feedback.wrong("`lengths` no longer matches `texts` and `tokenizer`: re-run the "
                              "cell that measures them.")
    chosen, problem = _number(chosen_max_length, "chosen_max_length")
    if problem:
        return problem
    if not chosen.is_integer() or chosen <= 0:
        return Feedback.wrong(f"`chosen_max_length` is {chosen}: a number of tokens is a whole, "
                              "positive number.")
    chosen = int(chosen)
    if chosen % MULTIPLE:
        return Feedback.wrong(f"{chosen} is not a multiple of {MULTIPLE}.")
    cut = float((lengths > chosen).mean())
    if cut > CUT_AT_MOST:
        return Feedback.wrong(f"max_length {chosen} cuts {cut:.1%} of the snippets; the limit is "
                              f"{CUT_AT_MOST:.0%}: go longer.")
    best = smallest_max_length(lengths)
    if chosen > best:
        return Feedback.wrong(f"max_length {chosen} cuts only {cut:.2%} of the snippets, but a "
                              f"shorter multiple of {MULTIPLE} also stays within {CUT_AT_MOST:.0%}:"
                              " find the smallest (every extra position costs compute on every "
                              "text).")
    share, problem = _number(truncated_share, "truncated_share")
    if problem:
        return problem
    if abs(share - cut) > 1e-6:
        if abs(share - (lengths > chosen).sum()) < 1e-6:
            return Feedback.wrong(f"truncated_share = {share:g} is a count of snippets; give the "
                                  "share (a fraction of all snippets).")
        if abs(share - float((lengths >= chosen).mean())) < 1e-9:
            return Feedback.wrong("truncated_share also counts the snippets of exactly "
                                  f"{chosen} tokens, which fit without being cut.")
        if abs(share - 100 * cut) < 1e-4:
            return Feedback.wrong("truncated_share is a percentage; give a fraction in [0, 1].")
        return Feedback.wrong(f"truncated_share = {share:g} is not the share of `lengths` longer "
                              f"than {chosen}.")
    padded, problem = _number(padding_share, "padding_share")
    if problem:
        return problem
    expected = 1 - float(np.minimum(lengths, chosen).sum()) / (len(lengths) * chosen)
    if abs(padded - expected) > 1e-6:
        if abs(padded - (1 - float(lengths.sum()) / (len(lengths) * chosen))) < 1e-6:
            return Feedback.wrong("padding_share counts the cut snippets' full lengths: after "
                                  f"truncation a snippet fills at most {chosen} positions.")
        if abs(padded - 100 * expected) < 1e-4:
            return Feedback.wrong("padding_share is a percentage; give a fraction in [0, 1].")
        if abs(padded - (1 - expected)) < 1e-6:
            return Feedback.wrong("padding_share is the share of real tokens; give the share "
                                  "of padding positions.")
        return Feedback.wrong(f"padding_share = {padded:.4f} is not the share of padding when "
                              f"every snippet is padded (or cut) to {chosen} tokens.")
    return Feedback.right(f"max_length {chosen} cuts {cut:.2%} of the {len(lengths)} snippets and "
                          f"pads {expected:.1%} of the positions. Compare with the 99.9th "
                          "percentile rule above: the last few percent of long texts are what "
                          "makes a fixed max_length expensive.")
