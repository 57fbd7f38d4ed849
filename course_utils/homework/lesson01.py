"""Checks for lesson 01 (tokenization): decode a batch, a sentence pair, choose max_length.

Each check recomputes the expected answer with the learner's own ``tokenizer`` (so it holds
for the offline and the full profile alike) and says what differs. Example::

    >>> assess("01.1", {"tokenizer": tok, "exercise_texts": texts,  # doctest: +SKIP
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


def _one_row(value: Any) -> list[int] | None:
    """Return one sequence of ids (flat, or a batch of one row) as a list of ints, or None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
        value = [value]
    rows = _rows(value) if value is not None else None
    return rows[0] if rows is not None and len(rows) == 1 else None


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


@exercise("01.2", lesson="01", names=["tokenizer", "pair_question", "pair_passage", "pair_batch",
                                      "segment_b_start"],
          hint="Section 5 joins two texts into one input: how does the tokenizer learn that it "
               "received a pair rather than one text, and which of its outputs says where each "
               "segment lies?")
def sentence_pair_with_its_segments(tokenizer, pair_question, pair_passage, pair_batch,
                                    segment_b_start):
    """Encode a question and a passage as one pair; find where segment B starts."""
    problem = _tokenizer_problem(tokenizer)
    if problem:
        return problem
    if not (isinstance(pair_question, str) and isinstance(pair_passage, str)):
        return Feedback.wrong("`pair_question` and `pair_passage` should still be the two texts "
                              "given in the exercise cell; re-run that cell.")
    if not (hasattr(pair_batch, "keys") and "input_ids" in pair_batch):
        return Feedback.wrong("`pair_batch` should be what the tokenizer returns (input_ids, "
                              f"token_type_ids, ...), not a {type(pair_batch).__name__}.")
    expected = tokenizer(pair_question, pair_passage)
    ids = _one_row(pair_batch["input_ids"])
    if ids is None:
        return Feedback.wrong("`pair_batch` should hold one sequence: the two texts together, as "
                              "one pair.")
    joined = [tokenizer(f"{pair_question} {pair_passage}")["input_ids"],
              tokenizer(pair_question + pair_passage)["input_ids"]]
    if ids in joined:
        return Feedback.wrong("`pair_batch` encodes one text made of both: the model cannot tell "
                              "where the question ends. Give the tokenizer the two texts as a "
                              "pair.")
    if ids == tokenizer(pair_passage, pair_question)["input_ids"]:
        return Feedback.wrong("The segments are swapped: segment A should be the question.")
    if ids != expected["input_ids"]:
        return Feedback.wrong("input_ids are not the pair (pair_question, pair_passage): encode "
                              "exactly those two texts, without padding or truncation.")
    segments = _one_row(pair_batch.get("token_type_ids"))
    if segments != expected["token_type_ids"]:
        return Feedback.wrong("`pair_batch` has no token_type_ids (or not the tokenizer's): "
                              "without them BERT reads both texts as segment A.")
    start = expected["token_type_ids"].index(1)
    if isinstance(segment_b_start, bool) or not isinstance(segment_b_start, int):
        return Feedback.wrong(f"`segment_b_start` should be an int (a position), not a "
                              f"{type(segment_b_start).__name__}.")
    if segment_b_start == start - 1:
        return Feedback.wrong(f"Position {segment_b_start} is the [SEP] that closes segment A; "
                              "segment B starts one position later.")
    if segment_b_start == start - 2:
        return Feedback.wrong(f"Position {segment_b_start} is the last token of the question, "
                              "still segment A.")
    if segment_b_start != start:
        return Feedback.wrong(f"Position {segment_b_start} is not where segment B starts: count "
                              "from 0, [CLS] included.")
    return Feedback.right(f"Segment A is [CLS], the question and [SEP] (positions 0..{start - 1});"
                          f" segment B, the passage and its [SEP], starts at {start}. Change the "
                          "question and that position moves with it.")


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
          hint="Section 6 measured how many snippets a max_length cuts; here the rule is "
               "yours to apply. For the padding, think about how many positions a cut snippet "
               "still fills (section 7 counts padding the same way).")
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
