"""The recipe lessons 04 and 05 derive from the data: each rule, and the reasons it prints."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.recipe import (
    MAX_EPOCHS,
    MIN_STEPS,
    PATIENCE,
    balanced_class_weights,
    derive_epochs,
    derive_head_epochs,
    derive_recipe,
    likely_causes,
    rare_classes,
    suggested_max_length,
)


def _recipe(n: int = 800, **options):
    lengths = options.pop("lengths", [20] * n)
    labels = options.pop("labels", [0, 1] * (n // 2))
    settings = dict(batch_size=16, base_epochs=1.5, learning_rate=1e-4, max_length_ceiling=512)
    settings.update(options)
    return derive_recipe(lengths, labels, **settings)


def test_large_data_keeps_the_profiles_epochs():
    recipe = _recipe(9000)
    assert recipe.epochs == 1.5
    assert recipe.total_steps == int(np.ceil(563 * 1.5)) >= MIN_STEPS   # 563 batches an epoch


def test_small_data_gets_enough_steps_in_whole_epochs():
    recipe = _recipe(800)                     # 50 steps per epoch: 1.5 epochs would be 75 steps
    assert recipe.epochs == 6
    assert recipe.total_steps == 300
    assert "1.5 epochs would be 75 steps" in recipe.explain() and "300" in recipe.explain()
    assert "1 epoch would be 50 steps" in _recipe(800, base_epochs=1.0).explain()


def test_tiny_data_is_capped_at_max_epochs():
    assert derive_epochs(40, 16, 1.5)[0] == MAX_EPOCHS


def test_settings_the_learner_gave_are_kept_and_said_to_be_theirs():
    recipe = _recipe(800, epochs=2.0, max_length=48)
    assert (recipe.epochs, recipe.max_length) == (2.0, 48)
    assert recipe.explain().count("your setting") == 2


def test_evaluation_runs_twice_an_epoch_with_patience():
    recipe = _recipe(800)
    assert recipe.eval_every_steps == 25 and recipe.patience == PATIENCE


def test_max_length_is_the_next_power_of_two_above_the_99th_percentile():
    lengths = list(range(1, 101))             # 99th percentile: 99.01 tokens
    assert suggested_max_length(lengths, 512) == 128
    assert suggested_max_length([5] * 50, 512) == 32          # never below 32
    assert suggested_max_length([3000] * 50, 512) == 512      # never above the ceiling
    assert suggested_max_length([300] * 50, 128) == 128


def test_max_length_of_an_empty_split_is_a_clear_error():
    with pytest.raises(ValueError, match="training split is empty"):
        suggested_max_length([], 512)


def test_a_class_under_five_percent_is_rare():
    labels = [0] * 60 + [1] * 37 + [2] * 3
    assert rare_classes(labels, 3) == (2,)
    assert "rare classes" in _recipe(100, labels=labels, num_labels=3).explain()
    named = _recipe(100, labels=labels, num_labels=3, id2label={0: "a", 1: "b", 2: "plot"})
    assert "['plot']" in named.explain()
    assert rare_classes([0, 1] * 50, 2) == ()


def test_a_class_with_no_training_text_counts_as_rare():
    assert rare_classes([0, 1, 1], 3) == (2,)


def test_balanced_weights_make_every_class_weigh_the_same():
    labels = np.array([0] * 90 + [1] * 10)
    weights = balanced_class_weights(labels, 2)
    assert weights[1] == pytest.approx(9 * weights[0])
    totals = [weights[k] * (labels == k).sum() for k in (0, 1)]
    assert totals[0] == pytest.approx(totals[1])


def test_balanced_weights_need_every_class():
    with pytest.raises(ValueError, match=r"Classes \[2\] have no training text"):
        balanced_class_weights([0, 1, 1], 3)


def test_head_epochs_follow_the_same_minimum_steps_rule():
    assert derive_head_epochs(8925, 256, 15)[0] == 15          # the reviews: 35 steps an epoch
    assert derive_head_epochs(420, 256, 15)[0] == 150          # 2 steps an epoch


def test_likely_causes_name_what_the_run_shows():
    recipe = _recipe(800, epochs=1.5)        # the learner's 1.5 epochs: 75 steps
    causes = likely_causes(recipe, steps_done=75, stopped_early=False, best_at_last_eval=True,
                           truncated_share=0.7, rare_recalls={"plot": 0.2, "fresh": 0.9})
    text = " ".join(causes)
    assert "too few optimizer steps: 75 planned" in text
    assert "still rising" in text
    assert "70%" in text
    assert "'plot'" in text and "'fresh'" not in text


def test_an_early_stop_is_not_called_too_few_steps():
    causes = likely_causes(_recipe(800), steps_done=112, stopped_early=True,
                           best_at_last_eval=False, truncated_share=0.0, rare_recalls={})
    assert causes == []


def test_likely_causes_are_empty_for_a_healthy_run():
    causes = likely_causes(_recipe(800), steps_done=300, stopped_early=True,
                           best_at_last_eval=False, truncated_share=0.01, rare_recalls={})
    assert causes == []
