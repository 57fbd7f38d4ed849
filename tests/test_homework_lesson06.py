"""Lesson 06's exercises: the reference answers pass, typical mistakes get the intended message."""

from __future__ import annotations

import torch

from course_utils.homework import evaluate


# ---------------------------------------------------------------- 06.1 first-letter label
def reference_first_letter_label(word):
    letter = word[:1].lower()
    return "abcdefghijklmnopqrstuvwxyz".index(letter) + 1 if letter and letter.isascii() and letter.isalpha() else 0


def test_first_letter_reference_passes():
    verdict = evaluate("06.1", {"first_letter_label": reference_first_letter_label})
    assert verdict.passed, verdict.message


def test_first_letter_with_the_source_alphabet_is_told_about_w_to_z():
    letters = "abcdefghijklmnopqrstuv"

    def source_label(word):
        return letters.index(word[0].lower()) + 1 if word and word[0].lower() in letters else 0

    verdict = evaluate("06.1", {"first_letter_label": source_label})
    assert not verdict.passed and "w, x, y and z too" in verdict.message


def test_first_letter_without_lowercasing_is_told_about_capitals():
    def case_sensitive(word):
        letters = "abcdefghijklmnopqrstuvwxyz"
        return letters.index(word[0]) + 1 if word and word[0] in letters else 0

    verdict = evaluate("06.1", {"first_letter_label": case_sensitive})
    assert not verdict.passed and "capitals are letters" in verdict.message


def test_first_letter_off_by_one_and_letters_as_strings_are_refused():
    def zero_based(word):
        letters = "abcdefghijklmnopqrstuvwxyz"
        return letters.index(word[0].lower()) if word and word[0].lower() in letters else 0

    verdict = evaluate("06.1", {"first_letter_label": zero_based})
    assert not verdict.passed and "one too small" in verdict.message
    verdict = evaluate("06.1", {"first_letter_label": lambda word: word[:1].lower() or "0"})
    assert not verdict.passed and "return the label id" in verdict.message
    verdict = evaluate("06.1", {"first_letter_label": 3})
    assert not verdict.passed and "not a function" in verdict.message


# ---------------------------------------------------------------- 06.2 first-subword alignment
def reference_align_first_subword(word_ids, word_labels):
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(0)
        elif word != previous:
            labels.append(word_labels[word])
        else:
            labels.append(-100)
        previous = word
    return labels


def test_alignment_reference_passes():
    verdict = evaluate("06.2", {"align_first_subword": reference_align_first_subword})
    assert verdict.passed, verdict.message


def test_alignment_labelling_every_subword_is_refused():
    def every_subword(word_ids, word_labels):
        return [0 if w is None else word_labels[w] for w in word_ids]

    verdict = evaluate("06.2", {"align_first_subword": every_subword})
    assert not verdict.passed and "later ones get -100" in verdict.message


def test_alignment_with_minus_100_on_specials_is_refused():
    def specials_ignored(word_ids, word_labels):
        labels = reference_align_first_subword(word_ids, word_labels)
        return [-100 if w is None else y for w, y in zip(word_ids, labels)]

    verdict = evaluate("06.2", {"align_first_subword": specials_ignored})
    assert not verdict.passed and "labels them 0" in verdict.message


def test_alignment_dropping_specials_is_told_the_lengths():
    def no_specials(word_ids, word_labels):
        return reference_align_first_subword([w for w in word_ids if w is not None], word_labels)

    verdict = evaluate("06.2", {"align_first_subword": no_specials})
    assert not verdict.passed and "one label per token" in verdict.message


# ---------------------------------------------------------------- 06.3 masked loss
def reference_masked_loss(logits, labels):
    flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = flat_labels != -100
    return torch.nn.functional.cross_entropy(flat_logits[keep], flat_labels[keep])


def test_masked_loss_reference_and_ignore_index_pass():
    assert evaluate("06.3", {"masked_loss": reference_masked_loss}).passed

    def with_ignore_index(logits, labels):
        return torch.nn.CrossEntropyLoss(ignore_index=-100)(logits.view(-1, 27), labels.view(-1))

    verdict = evaluate("06.3", {"masked_loss": with_ignore_index})
    assert verdict.passed, verdict.message


def test_masked_loss_dividing_by_every_position_is_refused():
    def over_all_positions(logits, labels):
        flat_labels = labels.reshape(-1)
        keep = flat_labels != -100
        per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, 27), flat_labels.clamp(min=0),
                                                      reduction="none")
        return (per_token * keep).sum() / flat_labels.numel()

    verdict = evaluate("06.3", {"masked_loss": over_all_positions})
    assert not verdict.passed and "divide by the" in verdict.message


def test_masked_loss_sum_and_unmasked_loss_are_refused():
    def summed(logits, labels):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 27), labels.reshape(-1),
                                                 reduction="sum")

    verdict = evaluate("06.3", {"masked_loss": summed})
    assert not verdict.passed and "sum over tokens" in verdict.message

    def padding_as_class_zero(logits, labels):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 27), labels.reshape(-1).clamp(min=0))

    verdict = evaluate("06.3", {"masked_loss": padding_as_class_zero})
    assert not verdict.passed and "labelled positions is" in verdict.message
