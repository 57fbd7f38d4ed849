"""Lesson 02 run by papermill with a short training: the head learns, and the metrics are recorded."""

from __future__ import annotations

import math

RECORDED = ("mlm_loss_before", "mlm_loss_after", "mlm_top1_before", "mlm_top1_after",
            "mlm_top5_before", "mlm_top5_after", "mlm_train_seconds")


def test_short_masked_lm_training_beats_the_random_head(run_lesson, tmp_path):
    checkpoint = tmp_path / "adapted"
    metrics = run_lesson("02", max_steps=30, eval_every=0, heldout_blocks=64,
                         checkpoint_dir=str(checkpoint))
    assert set(RECORDED) <= set(metrics), f"missing metrics: {set(RECORDED) - set(metrics)}"
    # Before training the head is random: near ln(30522) = 10.33 and no right guesses.
    assert 9.8 <= metrics["mlm_loss_before"] <= 11.3
    assert metrics["mlm_top5_before"] <= 0.02
    # Bands from measured runs (30 steps: loss about 7.3, top-5 about 0.19).
    assert metrics["mlm_loss_after"] <= metrics["mlm_loss_before"] - 2.5
    assert metrics["mlm_top5_after"] >= metrics["mlm_top5_before"] + 0.10
    assert metrics["mlm_top1_after"] >= metrics["mlm_top1_before"] + 0.02
    assert 0 < metrics["mlm_train_seconds"] < 600
    assert (checkpoint / "config.json").is_file() and (checkpoint / "tokenizer.json").is_file()
    assert math.isfinite(metrics["mlm_loss_after"])
