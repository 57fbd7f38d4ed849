"""Row 7, ``optimizer``: lesson 05's training loop with the for-loop AdamW against the fused
AdamW kernel.

Both recipes train a fresh copy of the same ``AutoModelForSequenceClassification``
(MiniLM + a seeded 2-class head) for one pass over the same ``steps x batch`` training
snippets with lesson 05's loop: ``course_utils.training.train_one_epoch`` (gradient
clipping), its linear schedule, length-grouped batches padded to their longest text
(``course_loader`` of the ``finetune`` row). Only the optimizer differs: the source recipe
updates one parameter tensor after another (``make_optimizer(..., fused=False)``, the plain
``torch.optim.AdamW``); the course recipe uses ``make_optimizer(...)``, one fused kernel over
all tensors (``Trainer``'s default ``adamw_torch_fused``). Timings cover the whole pass,
tokenization included, since a learner waits for the whole step. Dropout is seeded the same
way in both passes. The check: both passes see the same snippets, and afterwards every
parameter of the two models agrees within 1e-5.
"""

from __future__ import annotations

import copy
import time

import torch
from bench_finetune import LEARNING_RATE, course_loader, initial_model
from harness import HookTimer, compare, figure, memory_increase, peak_memory, throughput

WEIGHT_DECAY = 0.01
PARAMETER_TOLERANCE = 1e-5


def train_pass(ctx, start_model, pool, batch_size: int, fused: bool | None) -> dict:
    """Copy the model, train one pass of lesson 05's loop; ``fused`` goes to ``make_optimizer``."""
    from course_utils.training import make_optimizer, make_scheduler, train_one_epoch

    start = time.perf_counter()
    model = copy.deepcopy(start_model)
    loader, sampler = course_loader(ctx, pool, batch_size)
    optimizer = make_optimizer(model, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, fused=fused)
    scheduler = make_scheduler(optimizer, len(loader))
    torch.manual_seed(ctx.seed)   # the same dropout masks in both recipes
    with HookTimer(optimizer.register_step_pre_hook, optimizer.register_step_post_hook) as steps:
        loss = train_one_epoch(model, loader, optimizer, scheduler, "cpu", max_grad_norm=1.0,
                               progress=False)
    return {"model": model, "loss": loss, "visited": sorted(int(i) for i in sampler),
            "steps": len(loader), "fused": bool(optimizer.defaults["fused"]),
            "step_seconds": steps.seconds, "pass_seconds": time.perf_counter() - start}


@torch.no_grad()
def max_parameter_difference(first, second) -> float:
    """Return the largest absolute difference between matching parameters of two models."""
    return max(float((a - b).abs().max()) for a, b in
               zip(first.parameters(), second.parameters(), strict=True))


def run(ctx) -> dict:
    """Measure row 7 and return its results.json record."""
    steps, batch = ctx.sizes.optimizer_steps, ctx.sizes.finetune_batch
    pool = ctx.sample(ctx.splits.train, steps * batch, seed=ctx.seed + 7)
    start_model = initial_model(ctx)
    pair = compare(lambda: train_pass(ctx, start_model, pool, batch, fused=False),
                   lambda: train_pass(ctx, start_model, pool, batch, fused=None),
                   ctx.sizes.repeats,
                   warmup=lambda: [train_pass(ctx, start_model, pool.iloc[:2], 2, fused)
                                   for fused in (False, None)])
    results = {"baseline": pair.baseline.result, "course": pair.course.result}
    difference = max_parameter_difference(results["baseline"]["model"], results["course"]["model"])
    same_examples = (results["baseline"]["visited"] == results["course"]["visited"]
                     == list(range(len(pool))))
    same_steps = results["baseline"]["steps"] == results["course"]["steps"] == steps
    base, course = (figure(throughput(len(pool), runs.seconds), "texts/s")
                    for runs in (pair.baseline, pair.course))
    return {
        "name": "optimizer",
        "what": (f"{steps} steps of lesson 05's training loop (batches of {batch}): for-loop "
                 "AdamW vs the fused AdamW kernel"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 1.15,
        "same_result": bool(same_examples and same_steps and difference <= PARAMETER_TOLERANCE),
        "checks": {"same_snippets_in_both_passes": bool(same_examples),
                   "steps": {side: r["steps"] for side, r in results.items()},
                   "max_abs_parameter_difference": difference, "tolerance": PARAMETER_TOLERANCE},
        "peak_rss_mb": peak_memory(pair),
        "details": {"steps": steps, "batch_size": batch, "texts": len(pool),
                    "fused": {side: r["fused"] for side, r in results.items()},
                    "optimizer_step_ms": {side: round(1000 * r["step_seconds"] / r["steps"], 1)
                                          for side, r in results.items()},
                    "optimizer_step_share": {side: round(r["step_seconds"] / r["pass_seconds"], 3)
                                             for side, r in results.items()},
                    "mean_train_loss": {side: round(r["loss"], 4) for side, r in results.items()},
                    "rss_increase_mb": memory_increase(pair)},
    }
