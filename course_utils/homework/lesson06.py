"""Checks for lesson 06 (token tagging): the first-letter label, subword alignment, two schemes.

Each check runs the learner's function on cases with a known answer (computed by
``course_utils.tagging``) and names the first case that differs. Example::

    >>> assess("06.1", {"first_letter_label": my_function})        # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch

from ..tagging import align_labels, encode_lines, first_letter_id
from ..training import IGNORE_INDEX
from .core import Feedback, exercise
from .lesson03 import borrowed_helper

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
          hint="Look at ID2LABEL (printed in section 2): a letter's id is its position in the "
               "alphabet, counted from 1. Capitals count as their lower-case letter; an empty "
               "word has no first letter; the source's alphabet forgot four letters.")
def first_letter_label_matches(first_letter_label):
    """Label a word with the id of its first letter (1..26), or 0."""
    helper = borrowed_helper(first_letter_label, ("first_letter_id", "first_letter_labels"))
    if helper:
        return Feedback.wrong(f"first_letter_label is (or calls) the course's `{helper}`: no "
                              "helper allowed here, write the lookup yourself.")
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
            side = "too large" if got > expected else "too small"
            return Feedback.wrong(f"first_letter_label({word!r}) is {got}, {side}.")
    return Feedback.right(f"All {len(LETTER_CASES)} words labelled correctly, w-z and capitals "
                          "included.")


@exercise("06.2", lesson="06", names=["align_first_subword"],
          hint="The table in section 3 shows both schemes on one sentence: look at the tokens "
               "that get -100 under 'first' and ask what word_ids tells you about each of them.")
def first_subword_alignment_matches(align_first_subword):
    """Give each word's label to its first subword only, -100 to the others and to specials."""
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
        special_label = align_labels([None], [], scheme="first")[0]
        if any(got[i] != special_label for i in specials):
            return Feedback.wrong(f"For word_ids={word_ids} the special tokens (word id None) got "
                                  f"{[got[i] for i in specials]}: this lesson labels them "
                                  f"{special_label}.")
        differ = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
        return Feedback.wrong(f"For word_ids={word_ids} and word_labels={word_labels} you "
                              f"returned {got}: the labels at positions {differ} are wrong.")
    return Feedback.right("Each word's label sits on its first subword; later subwords carry "
                          "-100, which the loss and the accuracy skip.")


def labelled_positions(tokenizer, lines: list[str]) -> dict[str, int]:
    """Return {scheme: positions whose label is not -100} for ``lines`` under both schemes."""
    return {scheme: int(sum((torch.tensor(f["labels"]) != IGNORE_INDEX).sum()
                            for f in encode_lines(tokenizer, lines, scheme)[0]))
            for scheme in ("first", "every")}


@exercise("06.3", lesson="06", names=["tokenizer", "scheme_lines", "labelled_tokens",
                                      "extra_share"],
          hint="encode_lines (section 3) takes the scheme as an argument; every feature it "
               "returns has its labels, and -100 marks a position the loss skips. The extra "
               "share compares the two counts: how many more positions, relative to 'first'?")
def every_versus_first_scheme(tokenizer, scheme_lines, labelled_tokens, extra_share):
    """Measure how many more positions the "every" scheme trains on than "first"."""
    if not (isinstance(scheme_lines, list) and scheme_lines
            and all(isinstance(line, str) for line in scheme_lines)):
        return Feedback.wrong("`scheme_lines` should still be the list of lines given in the "
                              "exercise cell; re-run that cell.")
    if not isinstance(labelled_tokens, dict) or sorted(labelled_tokens) != ["every", "first"]:
        return Feedback.wrong("`labelled_tokens` should be a dict with the keys 'first' and "
                              "'every'.")
    expected = labelled_positions(tokenizer, scheme_lines)
    everything = sum(len(f["input_ids"]) for f in encode_lines(tokenizer, scheme_lines)[0])
    for scheme in ("first", "every"):
        got = labelled_tokens[scheme]
        got = got.item() if isinstance(got, torch.Tensor) else got
        if got == expected[scheme]:
            continue
        if scheme == "first" and got == everything:
            return Feedback.wrong("labelled_tokens['first'] counts every position: the later "
                                  "pieces of a word carry -100 and do not count.")
        if got == expected["every" if scheme == "first" else "first"]:
            return Feedback.wrong(f"labelled_tokens[{scheme!r}] is the other scheme's count: "
                                  "did you swap them?")
        return Feedback.wrong(f"labelled_tokens[{scheme!r}] = {got!r} is not the number of "
                              f"positions with a label (not -100) when scheme_lines are encoded "
                              f"with the {scheme!r} scheme.")
    extra = expected["every"] / expected["first"] - 1
    try:
        value = float(extra_share)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`extra_share` should be a number, not a "
                              f"{type(extra_share).__name__}.")
    if abs(value - extra) > 1e-6:
        if abs(value - (extra + 1)) <= 1e-6:
            return Feedback.wrong("extra_share is 1 too large: that is the ratio of the two "
                                  "counts, not how much more 'every' labels (0.1 means 10% more).")
        if abs(value - 100 * extra) <= 1e-4:
            return Feedback.wrong("extra_share is a percentage; give a fraction (0.1 for 10%).")
        return Feedback.wrong(f"extra_share = {value:.4f} does not follow from your counts "
                              f"(how many more positions 'every' labels than 'first', relative "
                              "to 'first').")
    return Feedback.right(f"'every' trains on {extra:.1%} more positions than 'first' on these "
                          f"{len(scheme_lines)} lines: each extra one is a later piece of a long "
                          "word, so 'every' weighs rare, long words more in the loss and the "
                          "token accuracy. Which wins on accuracy is what the lesson's scheme "
                          "parameter lets you measure.")


every_versus_first_scheme.kind = "judgement"  # counted in the README
