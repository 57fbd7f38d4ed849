"""The recipe reads the data's shape: length against label, rare classes, a trial learning rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.recipe import (
    DIVERGE_RISE,
    Recipe,
    balanced_class_weights,
    derive_class_weights,
    derive_recipe,
    learning_rate_check,
    length_predicts_label,
)


def _lengths_by_class(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return lengths where class 1's texts are all long and class 0's short (60/40 split)."""
    rng = np.random.default_rng(seed)
    labels = np.array([0] * int(0.6 * n) + [1] * int(0.4 * n))
    lengths = np.where(labels == 1, rng.integers(120, 300, n), rng.integers(10, 60, n))
    return lengths, labels


def _recipe(lengths, labels, **options) -> Recipe:
    settings = dict(batch_size=16, base_epochs=1.5, learning_rate=1e-4, max_length_ceiling=512)
    return derive_recipe(lengths, labels, **(settings | options))


# Length against label


def test_length_that_separates_the_classes_predicts_the_label_and_batches_are_random():
    check = length_predicts_label(*_lengths_by_class(), 2)
    assert check.predicts and check.batching == "random"
    assert check.length_accuracy > 0.95 and check.majority_accuracy == pytest.approx(0.6)
    assert check.p_value < 0.001


def test_lengths_independent_of_the_label_keep_length_grouped_batches():
    rng = np.random.default_rng(1)
    check = length_predicts_label(rng.integers(10, 300, 600), rng.integers(0, 3, 600), 3)
    assert not check.predicts and check.batching == "length-grouped"
    assert check.p_value >= 0.05 or check.length_accuracy <= check.majority_accuracy


def test_length_below_the_majority_class_never_predicts():
    check = length_predicts_label([10] * 100, [0] * 90 + [1] * 10, 2)   # one length: no signal
    assert not check.predicts and check.length_accuracy <= check.majority_accuracy


def test_length_explanation_gives_both_accuracies_the_p_value_and_the_batching():
    text = length_predicts_label(*_lengths_by_class(), 2).explain()
    assert "batching random" in text and "60%" in text and "p < 0.001" in text
    rng = np.random.default_rng(2)
    check = length_predicts_label(rng.integers(10, 300, 200), [0, 1] * 100, 2)
    text = check.explain()
    assert "batching length-grouped" in text and f"p = {check.p_value:.3f}" in text
    assert f"{check.length_accuracy:.0%}" in text and f"{check.majority_accuracy:.0%}" in text


def test_a_class_with_one_text_still_gets_a_length_check():
    lengths, labels = _lengths_by_class(100)
    labels[0] = 2                                     # one text in class 2: fewer than the folds
    assert length_predicts_label(lengths, labels, 3).batching == "random"


@pytest.mark.parametrize(("lengths", "labels", "num_labels", "words"), [
    ([10, 20, 30], [0, 1], 2, "one token count per training text"),
    ([], [], 2, "No training labels"),
    ([10, -1], [0, 1], 2, "non-negative"),
    ([10, 20], [0, 2], 2, r"got \[0, 2\]: encode the labels first"),
    ([10, 20], ["pos", "neg"], 2, "encode the labels first"),
])
def test_bad_length_input_says_how_to_fix_it(lengths, labels, num_labels, words):
    with pytest.raises(ValueError, match=words):
        length_predicts_label(lengths, labels, num_labels)


def test_the_recipe_batches_at_random_when_length_predicts_the_label():
    lengths, labels = _lengths_by_class()
    recipe = _recipe(lengths, labels)
    assert recipe.batching == "random" and "batching random" in recipe.explain()
    flat = _recipe([20] * 400, [0, 1] * 200)
    assert flat.batching == "length-grouped" and "batching length-grouped" in flat.explain()


# Rare classes


RARE = [0] * 60 + [1] * 37 + [2] * 3                  # class 2: 3% of the texts


def test_auto_weights_the_loss_when_a_class_is_rare():
    weights, reason = derive_class_weights(RARE, 3, "auto")
    np.testing.assert_allclose(weights, balanced_class_weights(RARE, 3))
    assert "auto" in reason and "[2]" in reason and "11.11" in reason


def test_auto_leaves_the_loss_unweighted_without_a_rare_class():
    weights, reason = derive_class_weights([0, 1, 1] * 30, 2, "auto")
    assert weights is None and "every class has at least 5%" in reason


def test_true_and_false_force_the_weights_either_way():
    weights, reason = derive_class_weights([0, 1, 1] * 30, 2, True)
    np.testing.assert_allclose(weights, [1.5, 0.75])
    assert "your setting" in reason
    weights, reason = derive_class_weights(RARE, 3, False)
    assert weights is None and "your setting" in reason and "watch their recall" in reason
    assert derive_class_weights(RARE, 3, np.bool_(True))[0] is not None


def test_auto_does_not_weight_a_class_with_no_training_text_but_true_says_why():
    weights, reason = derive_class_weights([0, 1] * 50, 3, "auto")
    assert weights is None and "no training text" in reason
    with pytest.raises(ValueError, match=r"Classes \[2\] have no training text"):
        derive_class_weights([0, 1] * 50, 3, True)


@pytest.mark.parametrize("setting", ["yes", 1, None, "True"])
def test_an_unknown_class_weights_setting_names_the_three_choices(setting):
    with pytest.raises(ValueError, match='"auto", True or False'):
        derive_class_weights(RARE, 3, setting)


def test_the_recipe_carries_the_weights_and_their_reason():
    named = _recipe([20] * 100, RARE, num_labels=3, id2label={0: "a", 1: "b", 2: "plot"})
    assert named.class_weights == pytest.approx(tuple(balanced_class_weights(RARE, 3)))
    assert "'plot': 11.11" in named.explain() and "rare classes" in named.explain()
    assert _recipe([20] * 100, RARE, num_labels=3, class_weights=False).class_weights is None
    assert _recipe([20] * 100, [0, 1] * 50).class_weights is None


def test_a_recipe_built_by_hand_keeps_the_old_defaults():
    recipe = Recipe(epochs=1, learning_rate=1e-4, max_length=64, steps_per_epoch=10,
                    total_steps=10, eval_every_steps=5, patience=3)
    assert recipe.batching == "length-grouped" and recipe.class_weights is None


# Learning rate from short trial runs


def _falling(start: float, drop: float, steps: int = 40) -> list[float]:
    """Return a loss that falls by ``drop`` (a share) from ``start`` over ``steps``."""
    return list(np.linspace(start, start * (1 - drop), steps))


def test_a_healthy_base_rate_is_kept():
    base = [1.0, 1.0, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7]    # quarters: 1.0 then 0.7
    losses = {1e-4: base, 3e-4: _falling(1.0, 0.5, 8), 3e-5: _falling(1.0, 0.05, 8)}
    rate, reason = learning_rate_check(losses, 1e-4)
    assert rate == 1e-4 and reason.startswith("learning rate 0.0001 kept")
    assert "from 1 to 0.7 over 8 steps (-30%)" in reason


def test_a_diverging_base_rate_gives_way_to_the_lower_rate_that_falls_most():
    losses = {3e-4: _falling(0.7, -0.5), 1e-4: _falling(0.7, 0.3), 3e-5: _falling(0.7, 0.1),
              1e-3: _falling(0.7, 0.6)}                 # higher rates are never taken here
    rate, reason = learning_rate_check(losses, 3e-4)
    assert rate == 1e-4
    assert "instead of 0.0003" in reason and "diverges" in reason and "+" in reason


def test_a_non_finite_loss_counts_as_diverging():
    losses = {3e-4: [0.7, 0.9, 5.0, math.inf], 1e-4: _falling(0.7, 0.2, 4)}
    rate, reason = learning_rate_check(losses, 3e-4)
    assert rate == 1e-4 and "non-finite" in reason


def test_a_stalling_base_rate_gives_way_to_the_rate_whose_loss_falls():
    losses = {1e-5: _falling(0.7, 0.01), 3e-5: _falling(0.7, 0.25), 3e-6: _falling(0.7, 0.0)}
    rate, reason = learning_rate_check(losses, 1e-5)
    assert rate == 3e-5 and "stalls" in reason and "-" in reason


def test_a_stall_with_no_better_neighbour_keeps_the_base_rate_and_says_so():
    losses = {1e-5: _falling(0.7, 0.01), 3e-5: _falling(0.7, 0.05)}
    rate, reason = learning_rate_check(losses, 1e-5)
    assert rate == 1e-5 and "kept, but it stalls" in reason


def test_a_divergence_with_no_stable_lower_rate_keeps_the_base_and_asks_for_lower_rates():
    rise = -2 * DIVERGE_RISE
    rate, reason = learning_rate_check({3e-4: _falling(0.7, rise), 1e-3: _falling(0.7, 0.5)}, 3e-4)
    assert rate == 3e-4 and "diverges" in reason and "lower" in reason


@pytest.mark.parametrize(("losses", "base", "words"), [
    ({1e-4: [0.7] * 40}, 3e-4, "No trial run at the base rate"),
    ({1e-4: [0.7, 0.6]}, 1e-4, "at least 4 losses"),
    ({1e-4: [0.7] * 8, -1e-4: [0.7] * 8}, 1e-4, "positive"),
])
def test_bad_trial_runs_say_how_to_fix_them(losses, base, words):
    with pytest.raises(ValueError, match=words):
        learning_rate_check(losses, base)
