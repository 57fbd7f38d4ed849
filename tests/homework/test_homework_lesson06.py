"""Lesson 06's exercises: the reference answers pass, typical mistakes get the intended message."""

from __future__ import annotations

from course_utils.homework import assess
from course_utils.tagging import align_labels, encode_lines

SPECIAL = align_labels([None], [], scheme="first")[0]  # the label course_utils.tagging gives [CLS]
OTHER = 0 if SPECIAL == -100 else -100


# ---------------------------------------------------------------- 06.1 first-letter label
def reference_first_letter_label(word):
    letter = word[:1].lower()
    return ("abcdefghijklmnopqrstuvwxyz".index(letter) + 1
            if letter and letter.isascii() and letter.isalpha() else 0)


def test_first_letter_reference_passes():
    verdict = assess("06.1", {"first_letter_label": reference_first_letter_label})
    assert verdict.passed, verdict.message


def test_first_letter_with_the_source_alphabet_is_told_about_w_to_z():
    letters = "abcdefghijklmnopqrstuv"

    def source_label(word):
        return letters.index(word[0].lower()) + 1 if word and word[0].lower() in letters else 0

    verdict = assess("06.1", {"first_letter_label": source_label})
    assert not verdict.passed and "w, x, y and z too" in verdict.message


def test_first_letter_without_lowercasing_is_told_about_capitals():
    def case_sensitive(word):
        letters = "abcdefghijklmnopqrstuvwxyz"
        return letters.index(word[0]) + 1 if word and word[0] in letters else 0

    verdict = assess("06.1", {"first_letter_label": case_sensitive})
    assert not verdict.passed and "capitals are letters" in verdict.message


def test_first_letter_off_by_one_and_letters_as_strings_are_refused():
    def zero_based(word):
        letters = "abcdefghijklmnopqrstuvwxyz"
        return letters.index(word[0].lower()) if word and word[0].lower() in letters else 0

    verdict = assess("06.1", {"first_letter_label": zero_based})
    assert not verdict.passed and "one too small" in verdict.message
    verdict = assess("06.1", {"first_letter_label": lambda word: word[:1].lower() or "0"})
    assert not verdict.passed and "return the label id" in verdict.message
    verdict = assess("06.1", {"first_letter_label": 3})
    assert not verdict.passed and "not a function" in verdict.message


# ---------------------------------------------------------------- 06.2 first-subword alignment
def reference_align_first_subword(word_ids, word_labels):
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(SPECIAL)
        elif word != previous:
            labels.append(word_labels[word])
        else:
            labels.append(-100)
        previous = word
    return labels


def test_alignment_reference_passes():
    verdict = assess("06.2", {"align_first_subword": reference_align_first_subword})
    assert verdict.passed, verdict.message


def test_alignment_labelling_every_subword_is_refused():
    def every_subword(word_ids, word_labels):
        return [SPECIAL if w is None else word_labels[w] for w in word_ids]

    verdict = assess("06.2", {"align_first_subword": every_subword})
    assert not verdict.passed and "later ones get -100" in verdict.message


def test_alignment_with_another_label_on_specials_is_refused():
    def specials_ignored(word_ids, word_labels):
        labels = reference_align_first_subword(word_ids, word_labels)
        return [OTHER if w is None else y for w, y in zip(word_ids, labels)]

    verdict = assess("06.2", {"align_first_subword": specials_ignored})
    assert not verdict.passed and f"labels them {SPECIAL}" in verdict.message


def test_alignment_dropping_specials_is_told_the_lengths():
    def no_specials(word_ids, word_labels):
        return reference_align_first_subword([w for w in word_ids if w is not None], word_labels)

    verdict = assess("06.2", {"align_first_subword": no_specials})
    assert not verdict.passed and "one label per token" in verdict.message


# ---------------------------------------------------------------- 06.3 masked loss
SCHEME_LINES = ["Call me Ishmael.", "The harpooneer's whale-boat, unconquerable and vast!",
                "Queequeg sat there, in his extraordinary, tattooed condition."]


def reference_scheme_counts(tokenizer, lines):
    counts = {}
    for scheme in ("first", "every"):
        features, _ = encode_lines(tokenizer, lines, scheme)
        counts[scheme] = sum(sum(label != -100 for label in f["labels"]) for f in features)
    return counts, counts["every"] / counts["first"] - 1


def answer_063(tokenizer, lines, counts, extra):
    return assess("06.3", {"tokenizer": tokenizer, "scheme_lines": lines,
                             "labelled_tokens": counts, "extra_share": extra})


def test_06_3_reference_passes_and_is_recounted_from_the_lines(tokenizer):
    counts, extra = reference_scheme_counts(tokenizer, SCHEME_LINES)
    assert extra > 0
    verdict = answer_063(tokenizer, SCHEME_LINES, counts, extra)
    assert verdict.passed and "more positions than 'first'" in verdict.message, verdict.message
    assert answer_063(tokenizer, SCHEME_LINES[:1],
                      *reference_scheme_counts(tokenizer, SCHEME_LINES[:1])).passed
    assert not answer_063(tokenizer, SCHEME_LINES[:1], counts, extra).passed


def test_06_3_counts_with_the_usual_mistakes_get_specific_feedback(tokenizer):
    counts, extra = reference_scheme_counts(tokenizer, SCHEME_LINES)
    features, _ = encode_lines(tokenizer, SCHEME_LINES, "first")
    positions = sum(len(f["input_ids"]) for f in features)
    cases = [({"first": positions, "every": counts["every"]}, "counts every position"),
             ({"first": counts["every"], "every": counts["first"]}, "did you swap them"),
             ({**counts, "every": counts["every"] + 1}, "is not the number of positions"),
             ({"first": counts["first"]}, "keys 'first' and 'every'")]
    for wrong, words in cases:
        verdict = answer_063(tokenizer, SCHEME_LINES, wrong, extra)
        assert not verdict.passed and words in verdict.message, (words, verdict.message)


def test_06_3_extra_share_with_the_usual_mistakes_gets_specific_feedback(tokenizer):
    counts, extra = reference_scheme_counts(tokenizer, SCHEME_LINES)
    for wrong, words in [(extra + 1, "is the ratio"), (100 * extra, "is a percentage"),
                         (extra + 0.05, "does not follow from your counts"),
                         ("a lot", "should be a number")]:
        verdict = answer_063(tokenizer, SCHEME_LINES, counts, wrong)
        assert not verdict.passed and words in verdict.message, (words, verdict.message)


def test_a_shortcut_submission_must_fail_061_the_imported_first_letter_id():
    from course_utils.tagging import first_letter_id

    verdict = assess("06.1", {"first_letter_label": first_letter_id})
    assert not verdict.passed and "`first_letter_id`" in verdict.message

    def wrapper(word):
        return first_letter_id(word)

    verdict = assess("06.1", {"first_letter_label": wrapper})
    assert not verdict.passed and "no helper allowed" in verdict.message
