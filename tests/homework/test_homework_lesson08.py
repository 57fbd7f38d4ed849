"""Lesson 08's exercise checks: worked answers pass, wrong answers and shortcuts get feedback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.few_labels import split_labelled
from course_utils.homework import assess

N_TEST = 400


def training_split() -> pd.DataFrame:
    rows = [(f"review {label}-{i}", label) for label in (0, 1) for i in range(60)]
    return pd.DataFrame(rows, columns=["text", "label_id"]).sample(frac=1.0, random_state=1) \
        .reset_index(drop=True)


def predictions(right: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return predictions that are right exactly where ``right`` is True (two classes)."""
    return np.where(right, labels, 1 - labels)


@pytest.fixture
def experiment():
    """Return the notebook's variables for 08.1 and a TF-IDF run that is clearly better."""
    rng = np.random.default_rng(0)
    test_labels = rng.integers(0, 2, N_TEST)
    frozen_right = np.arange(N_TEST) % 5 != 0                   # 80%
    better_right = frozen_right | (np.arange(N_TEST) % 10 == 0)  # frozen's, and 40 texts more
    tfidf_right = np.arange(N_TEST) % 3 != 0
    labelled, unlabelled = split_labelled(training_split(), 4, seed=0)
    my_labelled, _ = split_labelled(training_split(), 16, seed=0)
    return {"labelled": labelled, "unlabelled": unlabelled, "labels_per_class": 4,
            "test_labels": test_labels,
            "frozen_predictions": predictions(frozen_right, test_labels),
            "tfidf_predictions": predictions(tfidf_right, test_labels),
            "my_labelled": my_labelled,
            "my_predictions": predictions(better_right, test_labels), "my_verdict": "better"}


def test_08_1_the_worked_answer_passes_with_the_paired_tests_numbers(experiment):
    verdict = assess("08.1", experiment)
    assert verdict.passed and "40 texts only TF-IDF gets right, 0 only" in verdict.message, \
        verdict.message


def test_08_1_a_tie_needs_cannot_tell_and_a_gap_alone_is_not_a_verdict(experiment):
    labels = experiment["test_labels"]
    frozen_right = np.arange(N_TEST) % 5 != 0
    close_right = frozen_right.copy()
    close_right[[0, 5, 10, 15, 20]] = True                      # 5 texts more right ...
    close_right[[1, 2]] = False                                 # ... and 2 fewer: no real gap
    answer = {**experiment, "my_predictions": predictions(close_right, labels)}
    assert assess("08.1", {**answer, "my_verdict": "cannot tell"}).passed
    wrong = assess("08.1", {**answer, "my_verdict": "better"})
    assert not wrong.passed and "a gap in accuracy alone is not a verdict" in wrong.message


@pytest.mark.parametrize("verdict, words", [("cannot tell", "undersells"),
                                            ("worse", "points the wrong way"),
                                            ("probably better", "should be one of")])
def test_08_1_a_wrong_verdict_says_what_is_off_without_the_test(experiment, verdict, words):
    feedback = assess("08.1", {**experiment, "my_verdict": verdict})
    assert not feedback.passed and words in feedback.message, feedback.message
    assert "binomtest" not in feedback.message and "only_a_right" not in feedback.message


@pytest.mark.parametrize("shortcut, words", [
    ("test_labels", "the test labels themselves"),
    ("frozen_predictions", "the frozen encoder's predictions"),
    ("tfidf_predictions", "on the lesson's budget"),
])
def test_08_1_predictions_that_are_not_the_experiments_are_refused(experiment, shortcut, words):
    feedback = assess("08.1", {**experiment, "my_predictions": experiment[shortcut]})
    assert not feedback.passed and words in feedback.message, feedback.message


def test_08_1_a_budget_drawn_otherwise_is_refused(experiment):
    twice, _ = split_labelled(training_split(), 8, seed=0)
    feedback = assess("08.1", {**experiment, "my_labelled": twice})
    assert not feedback.passed and "16 per class" in feedback.message
    other_seed, _ = split_labelled(training_split(), 16, seed=5)
    feedback = assess("08.1", {**experiment, "my_labelled": other_seed})
    assert not feedback.passed and "leaves out texts of the lesson's budget" in feedback.message


def test_08_1_labels_taken_from_the_test_texts_are_refused(experiment):
    leaked = experiment["my_labelled"].copy()
    leaked.loc[leaked.index[:3], "text"] = ["a test text", "another", "a third"]
    feedback = assess("08.1", {**experiment, "my_labelled": leaked})
    assert not feedback.passed and "not from the training split" in feedback.message


def test_08_1_probabilities_or_a_wrong_length_get_specific_feedback(experiment):
    probabilities = np.full(N_TEST, 0.7)
    assert "not probabilities" in assess("08.1", {**experiment,
                                                    "my_predictions": probabilities}).message
    assert "one predicted label id per test text (400)" in assess(
        "08.1", {**experiment, "my_predictions": experiment["my_predictions"][:10]}).message


def lora_worked(rank, hidden_size, num_layers, num_labels):
    return num_layers * 2 * 2 * rank * hidden_size + hidden_size * num_labels + num_labels


def test_08_2_the_worked_answer_matches_peft_for_every_size():
    verdict = assess("08.2", {"lora_trainable": lora_worked})
    assert verdict.passed and "matches peft's" in verdict.message, verdict.message


@pytest.mark.parametrize("answer, words", [
    (lambda r, h, n, k: n * 2 * 2 * r * h, "the new classifier head trains too"),
    (lambda r, h, n, k: n * 2 * r * h + h * k + k, "two small matrices, not one"),
    (lambda r, h, n, k: lora_worked(r, h, n, k) + h * k + k, "counted twice"),
    (lambda r, h, n, k: n * 4 * 2 * r * h + h * k + k, "too many"),
    (lambda r, h, n, k: 2 * r * h * h, "rank 4, hidden size 32"),
    (lambda r, h, n, k: lora_worked(r, h, n, k) + 0.5, "a whole number"),
    (12345, "should be a function"),
])
def test_08_2_wrong_counts_say_what_is_missing_without_the_formula(answer, words):
    feedback = assess("08.2", {"lora_trainable": answer})
    assert not feedback.passed and words in feedback.message, feedback.message
    assert "hidden_size *" not in feedback.message and "2 *" not in feedback.message


def test_08_2_a_shortcut_that_remembers_one_size_fails_on_the_others():
    remembered = {(4, 32, 2, 2): lora_worked(4, 32, 2, 2)}
    feedback = assess("08.2", {"lora_trainable": lambda *size: remembered.get(size, 0)})
    assert not feedback.passed and "rank 1, hidden size 48" in feedback.message
