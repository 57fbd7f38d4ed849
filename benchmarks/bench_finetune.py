"""Row 4, ``finetune``: fine-tuning throughput over a fixed number of optimizer steps, every
batch padded to 512 against dynamic padding with length-grouped batches.

Both recipes train a fresh copy of the same ``AutoModelForSequenceClassification``
(MiniLM + a new 2-class head) with the course's loop (``course_utils.training``:
AdamW with no-decay groups, gradient clipping, ``train_one_epoch``) over the same pool of
``steps x batch`` training snippets, i.e. one pass: the source recipe in random order,
padded to 512 (the DLSU demo); the course recipe with
``course_utils.batching.tokenized_dataset``, ``course_utils.batching.length_grouped_sampler``
and ``DataCollatorWithPadding`` (lesson 05's loader). Timings include tokenization. The
check: both passes see exactly the same snippets, and padding does not change the model's
loss (one batch, eval mode, padded to 512 and to its longest text, must give the same loss).
"""

from __future__ import annotations

import copy

import torch
from context import SOURCE_MAX_LENGTH
from harness import compare, figure, memory_increase, peak_memory, throughput
from torch.utils.data import DataLoader, RandomSampler

LEARNING_RATE = 5e-5
LOSS_TOLERANCE = 1e-4


def initial_model(ctx):
    """Return MiniLM with a freshly initialised (seeded) classification head."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(ctx.seed)
    return AutoModelForSequenceClassification.from_pretrained(
        ctx.model_path, num_labels=ctx.encoding.num_labels,
        id2label=ctx.encoding.id2label, label2id=ctx.encoding.label2id)


def source_loader(ctx, pool, batch_size):
    """Return a random-order loader of batches padded to 512 (the source recipe)."""
    texts, labels = pool["text"].tolist(), pool["label_id"].to_numpy().copy()
    encoded = ctx.tokenizer(texts, padding="max_length", truncation=True,
                            max_length=SOURCE_MAX_LENGTH, return_tensors="pt")
    rows = [{**{key: value[i] for key, value in encoded.items()}, "labels": torch.tensor(labels[i])}
            for i in range(len(texts))]
    sampler = RandomSampler(rows, generator=torch.Generator().manual_seed(ctx.seed))
    return DataLoader(rows, batch_size=batch_size, sampler=sampler), sampler


def course_loader(ctx, pool, batch_size):
    """Return a loader of length-grouped batches padded to their longest text (lesson 05)."""
    from transformers import DataCollatorWithPadding

    from course_utils.batching import length_grouped_sampler, tokenized_dataset

    data = tokenized_dataset(pool, ctx.tokenizer, SOURCE_MAX_LENGTH)
    sampler = length_grouped_sampler([len(ids) for ids in data["input_ids"]], batch_size,
                                     seed=ctx.seed)
    return DataLoader(data, batch_size=batch_size, sampler=sampler,
                      collate_fn=DataCollatorWithPadding(ctx.tokenizer)), sampler


def train_pass(ctx, start_model, make_loader, pool, batch_size) -> dict:
    """Copy the model, build the loader and train one pass with the course's loop."""
    from course_utils.training import make_optimizer, train_one_epoch

    model = copy.deepcopy(start_model)
    loader, sampler = make_loader(ctx, pool, batch_size)
    optimizer = make_optimizer(model, lr=LEARNING_RATE, weight_decay=0.01)
    loss = train_one_epoch(model, loader, optimizer, None, "cpu", max_grad_norm=1.0, progress=False)
    return {"loss": loss, "visited": sorted(int(i) for i in sampler), "steps": len(loader)}


def padding_invariance(ctx, model, texts, labels) -> float:
    """Return |loss padded to 512 - loss padded to the longest| on one batch, in eval mode."""
    model.eval()
    target = torch.as_tensor(labels, dtype=torch.long)
    losses = []
    with torch.no_grad():
        for padding in ("max_length", "longest"):
            batch = ctx.tokenizer(texts, padding=padding, truncation=True,
                                  max_length=SOURCE_MAX_LENGTH, return_tensors="pt")
            losses.append(float(model(**batch, labels=target).loss))
    return abs(losses[0] - losses[1])


def run(ctx) -> dict:
    """Measure row 4 and return its results.json record."""
    steps, batch = ctx.sizes.finetune_steps, ctx.sizes.finetune_batch
    pool = ctx.sample(ctx.splits.train, steps * batch, seed=ctx.seed + 2)
    texts, labels = pool["text"].tolist(), pool["label_id"].to_numpy().copy()
    start_model = initial_model(ctx)
    pair = compare(lambda: train_pass(ctx, start_model, source_loader, pool, batch),
                   lambda: train_pass(ctx, start_model, course_loader, pool, batch),
                   ctx.sizes.repeats,
                   warmup=lambda: train_pass(ctx, start_model, course_loader, pool.iloc[:2], 2))
    loss_gap = padding_invariance(ctx, copy.deepcopy(start_model), texts[:batch], labels[:batch])
    same_examples = (pair.baseline.result["visited"] == pair.course.result["visited"]
                     == list(range(len(texts))))
    n = len(texts)
    base, course = (figure(throughput(n, runs.seconds), "texts/s")
                    for runs in (pair.baseline, pair.course))
    return {
        "name": "finetune",
        "what": (f"{steps} optimizer steps of full fine-tuning (batches of {batch}): random "
                 f"batches padded to 512 vs length-grouped batches padded to the longest"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 5.0,
        "same_result": bool(same_examples and loss_gap <= LOSS_TOLERANCE
                            and pair.baseline.result["steps"] == pair.course.result["steps"]
                            == steps),
        "checks": {"same_snippets_in_both_passes": bool(same_examples),
                   "steps": {"baseline": pair.baseline.result["steps"],
                             "course": pair.course.result["steps"]},
                   "loss_difference_padded_512_vs_longest": loss_gap, "tolerance": LOSS_TOLERANCE},
        "peak_rss_mb": peak_memory(pair),
        "details": {"steps": steps, "batch_size": batch, "texts": n,
                    "mean_train_loss": {"baseline": round(pair.baseline.result["loss"], 4),
                                        "course": round(pair.course.result["loss"], 4)},
                    "rss_increase_mb": memory_increase(pair)},
    }
