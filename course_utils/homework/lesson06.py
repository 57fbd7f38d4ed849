"""Checks for lesson 06 (token tagging): the first-letter label, subword alignment, the masked loss.

Each check runs the learner's function on cases with a known answer (computed by
``course_utils.tagging``) and names the first case that differs. Example::

    >>> evaluate("06.1", {"first_letter_label": my_function})        # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch

from ..tagging import IGNORE_INDEX, align_labels, first_letter_id
from .core import Feedback, exercise

LETTER_CASES = ["whale", "Ahab", "Queequeg", "xebec", "Yonder", "zounds", "Vast", "ocean", "'tis",
                "42", ",", "-", "Moby", "", "white", "ZEAL"]
ALIGN_CASES = [
    ([None, 0, 1, None], [20, 2]),
    ([None, 0, 1, 1, 1, 2, None], [20, 1, 23]),          # "the amridodgifier whale"
    ([None, 0, 0, 1, 2, 2, 2, None], [26, 0, 8]),        # "zounds, harpooneer"
    ([None, None], []),
]


def _call(function: Any, *args) -> tuple[Any, str | None]:
    """Return (result, None), or (None, a message) when calling the learner's function fails."""
    if not callable(function):
        return None, f"it is a {type(function).__name__}, not a function: define it with def."
    try:
        return function(*args), None
    except NotImplementedError:
        raise
    except Exception as err:  # the learner's code, any mistake
        shown = ", ".join(f"a tensor of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor)
                          else repr(a) for a in args)
        return None, f"calling it with ({shown}) raised {type(err).__name__}: {err}."


@exercise("06.1", lesson="06", names=["first_letter_label"],
          hint="Lower-case the first character; 'abcdefghijklmnopqrstuvwxyz'.index(c) + 1 is its "
               "id when it is a letter, and everything else (digits, punctuation, '') is 0.")
def first_letter_label_matches(first_letter_label):
    """Label a word with the id of its first letter (1..26), or 0."""
    for word in LETTER_CASES:
        got, problem = _call(first_letter_label, word)
        if problem:
            return Feedback.wrong(f"`first_letter_label`: {problem}")
        expected = first_letter_id(word)
        if isinstance(got, str):
            return Feedback.wrong(f"first_letter_label({word!r}) returned the string {got!r}: "
                                  "return the label id, an int from 0 to 26.")
        if isinstance(got, bool) or not isinstance(got, int):
            return Feedback.wrong(f"first_letter_label({word!r}) returned a {type(got).__name__}: "
                                  "return an int from 0 to 26.")
        if got != expected:
            if expected >= 23 and got == 0:
                return Feedback.wrong(f"first_letter_label({word!r}) is 0, but {word[0]!r} is a "
                                      "letter: all 26 letters need an id, w, x, y and z too "
                                      "(the source's alphabet stopped at v).")
            if word[:1].isupper() and got == 0:
                return Feedback.wrong(f"first_letter_label({word!r}) is 0: capitals are letters "
                                      "too; lower-case before looking the letter up.")
            if got == expected - 1:
                return Feedback.wrong(f"first_letter_label({word!r}) is {got}, one too small: "
                                      "id 0 is for non-letters, so 'a' is 1 and 'z' is 26.")
            return Feedback.wrong(f"first_letter_label({word!r}) is {got}; expected {expected}.")
    return Feedback.right(f"All {len(LETTER_CASES)} words labelled correctly, w-z and capitals "
                          "included.")


@exercise("06.2", lesson="06", names=["align_first_subword"],
          hint="Walk through word_ids: None -> 0; a word id different from the previous token's "
               "-> word_labels[word_id]; the same word id again -> -100.")
def first_subword_alignment_matches(align_first_subword):
    """Give each word's label to its first subword only, -100 to the others, 0 to specials."""
    for word_ids, word_labels in ALIGN_CASES:
        got, problem = _call(align_first_subword, list(word_ids), list(word_labels))
        if problem:
            return Feedback.wrong(f"`align_first_subword`: {problem}")
        if hasattr(got, "tolist"):
            got = got.tolist()
        expected = align_labels(word_ids, word_labels, scheme="first")
        if not isinstance(got, (list, tuple)):
            return Feedback.wrong(f"align_first_subword returned a {type(got).__name__}: return a "
                                  "list with one label per token.")
        got = list(got)
        if len(got) != len(word_ids):
            return Feedback.wrong(f"For word_ids={word_ids} you returned {len(got)} labels; there "
                                  f"are {len(word_ids)} tokens: one label per token, specials "
                                  "included.")
        if got == expected:
            continue
        if got == align_labels(word_ids, word_labels, scheme="every"):
            return Feedback.wrong(f"For word_ids={word_ids} every subword got its word's label "
                                  f"({got}): only the first subword keeps it, the later ones "
                                  "get -100.")
        specials = [i for i, w in enumerate(word_ids) if w is None]
        if any(got[i] != 0 for i in specials):
            return Feedback.wrong(f"For word_ids={word_ids} the special tokens (word id None) got "
                                  f"{[got[i] for i in specials]}: this lesson labels them 0.")
        return Feedback.wrong(f"For word_ids={word_ids} and word_labels={word_labels} you "
                              f"returned {got}; expected {expected}.")
    return Feedback.right("Each word's label sits on its first subword; later subwords carry "
                          "-100, which the loss and the accuracy skip.")


def _loss_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 5, 27, generator=generator)
    labels = torch.tensor([[0, 20, 8, IGNORE_INDEX, 0], [0, 1, IGNORE_INDEX, IGNORE_INDEX,
                                                         IGNORE_INDEX]])
    all_labelled = torch.randint(0, 27, (3, 4), generator=generator)
    return [(logits, labels), (torch.randn(3, 4, 27, generator=generator), all_labelled)]


@exercise("06.3", lesson="06", names=["masked_loss"],
          hint="Flatten to (tokens, 27) and (tokens,), keep the positions whose label is not "
               "-100, and average the cross-entropy over those positions only.")
def masked_loss_matches(masked_loss):
    """Average the cross-entropy over labelled positions, skipping -100."""
    for logits, labels in _loss_cases():
        got, problem = _call(masked_loss, logits.clone(), labels.clone())
        if problem:
            return Feedback.wrong(f"`masked_loss`: {problem}")
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return Feedback.wrong(f"masked_loss returned {type(got).__name__}"
                                  f"{tuple(got.shape) if isinstance(got, torch.Tensor) else ''}: "
                                  "return one number as a tensor, so .backward() works.")
        flat_logits, flat_labels = logits.reshape(-1, 27), labels.reshape(-1)
        keep = flat_labels != IGNORE_INDEX
        per_token = torch.nn.functional.cross_entropy(flat_logits[keep], flat_labels[keep],
                                                      reduction="none")
        expected, value = per_token.mean().item(), got.item()
        if abs(value - expected) <= 1e-4 * max(1.0, abs(expected)):
            continue
        if abs(value - per_token.sum().item()) < 1e-3:
            return Feedback.wrong(f"Your loss {value:.4f} is the sum over tokens: take the mean "
                                  "over the labelled positions.")
        if abs(value - per_token.sum().item() / len(flat_labels)) < 1e-4:
            return Feedback.wrong(f"Your loss {value:.4f} divides by every position "
                                  f"({len(flat_labels)}), ignored ones included: divide by the "
                                  f"{int(keep.sum())} "
                                  "labelled positions.")
        return Feedback.wrong(f"Your loss is {value:.4f}; the mean cross-entropy over the "
                              f"labelled positions is {expected:.4f}.")
    return Feedback.right("Your loss averages over labelled tokens only, exactly like "
                          "CrossEntropyLoss(ignore_index=-100).")
