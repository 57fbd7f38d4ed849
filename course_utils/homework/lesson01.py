"""Checks for lesson 01 (tokenization): decode a batch, build a padded batch, count its padding.

Each check recomputes the expected answer with the learner's own ``tokenizer`` (so it holds
for the offline and the full profile alike) and says what differs. Example::

    >>> evaluate("01.3", {"tokenizer": tok, "two_reviews": texts, "pad_count": 11})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .core import Feedback, exercise


def _tokenizer_problem(tokenizer: Any) -> Feedback | None:
    """Return feedback when ``tokenizer`` is no longer a tokenizer, else None."""
    if not (callable(tokenizer) and hasattr(tokenizer, "batch_decode")
            and hasattr(tokenizer, "pad_token_id")):
        return Feedback.wrong(f"`tokenizer` is a {type(tokenizer).__name__}, not a tokenizer: re-run "
                              "the cell that loads it with AutoTokenizer.from_pretrained.")
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
    if isinstance(value, (list, tuple)) and all(isinstance(row, (list, tuple)) for row in value):
        if all(isinstance(x, int) and not isinstance(x, bool) for row in value for x in row):
            return [list(row) for row in value]
    return None


@exercise("01.1", lesson="01", names=["tokenizer", "exercise_texts", "decoded_texts"],
          hint="tokenizer.batch_decode decodes every row of a batch; skip_special_tokens=True "
               "drops [CLS], [SEP] and [PAD].")
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
          hint='Call the tokenizer on the whole list with padding=True (pad to the longest text) '
               'and return_tensors="pt"; it returns the attention mask with the ids.')
def padded_batch_with_attention_mask(tokenizer, two_reviews, review_batch):
    """Tokenize two texts into one padded batch of tensors with its attention mask."""
    problem = _tokenizer_problem(tokenizer) or _texts_problem("two_reviews", two_reviews)
    if problem:
        return problem
    if not (hasattr(review_batch, "keys") and "input_ids" in review_batch):
        return Feedback.wrong(f"`review_batch` should be what the tokenizer returns (with "
                              f"input_ids and attention_mask), not a {type(review_batch).__name__}.")
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


@exercise("01.3", lesson="01", names=["tokenizer", "two_reviews", "pad_count"],
          hint="Padding sits where the attention mask is 0 (equivalently where input_ids equals "
               "tokenizer.pad_token_id); count those positions and convert with int().")
def count_padding_positions(tokenizer, two_reviews, pad_count):
    """Count the padding positions of the two-review batch."""
    problem = _tokenizer_problem(tokenizer) or _texts_problem("two_reviews", two_reviews)
    if problem:
        return problem
    single_tensor = hasattr(pad_count, "numel") and pad_count.numel() == 1
    single_array = hasattr(pad_count, "item") and getattr(pad_count, "size", None) == 1
    if single_tensor or single_array:
        pad_count = pad_count.item()
    if isinstance(pad_count, bool) or not isinstance(pad_count, (int, float)):
        return Feedback.wrong(f"`pad_count` should be one number, not a "
                              f"{type(pad_count).__name__}.")
    if isinstance(pad_count, float) and not pad_count.is_integer():
        return Feedback.wrong(f"`pad_count` is {pad_count}: a count of positions is a whole number.")
    mask = tokenizer(two_reviews, padding=True)["attention_mask"]
    real = sum(sum(row) for row in mask)
    total = sum(len(row) for row in mask)
    if pad_count == total - real:
        return Feedback.right(f"{total - real} of the batch's {total} positions are padding: "
                              "compute spent on nothing.")
    if pad_count == real:
        return Feedback.wrong(f"{int(pad_count)} is the number of real tokens (mask 1), not of "
                              "padding positions.")
    if pad_count == total:
        return Feedback.wrong(f"{int(pad_count)} counts every position of the batch, real tokens "
                              "included.")
    return Feedback.wrong(f"{pad_count} is not the number of padding positions in the batch of "
                          "`two_reviews`.")
