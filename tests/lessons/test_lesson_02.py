"""Lesson 02's default run (nbval's, in this session): the head learns, the encoder is saved.

Bands come from a measured full run (in the comments; the optimizer's no-decay groups moved the
recorded values by less than 0.001), with a margin for the noise: 1,146 held-out masked tokens
give a 95% half-width of about 2.8 points at top-5 0.34.
"""

import pytest

pytestmark = pytest.mark.notebook


def test_lesson_02_default_run_beats_the_random_head(default_run):
    metrics = default_run("02")
    # Before training the head is random: near ln(30522) = 10.33 and no right guesses.
    assert 9.8 <= metrics["mlm_loss_before"] <= 11.3        # recorded: 10.6276
    assert metrics["mlm_top5_before"] <= 0.02               # recorded: 0.0
    assert 5.7 <= metrics["mlm_loss_after"] <= 6.6          # recorded: 6.1739 (120 steps)
    assert 0.11 <= metrics["mlm_top1_after"] <= 0.20        # recorded: 0.1527
    assert 0.25 <= metrics["mlm_top5_after"] <= 0.36        # recorded: 0.3019
    assert 0 < metrics["mlm_train_seconds"] < 900           # recorded: see the notebook (2 cores)


def test_lesson_02_default_run_saved_the_adapted_encoder_in_the_temporary_folder(
        default_run, nbval_artifacts_dir):
    default_run("02")
    checkpoint = nbval_artifacts_dir / "checkpoints" / "mlm-adapted-minilm"
    assert (checkpoint / "config.json").is_file() and (checkpoint / "tokenizer.json").is_file()
