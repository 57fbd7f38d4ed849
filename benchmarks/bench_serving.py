"""Row 6, ``serving``: a saved classifier behind ``pipeline("text-classification")``, one text
per call against the whole list in batches.

The classifier is MiniLM with a seeded 2-class head, saved with
``course_utils.checkpoints.save_pretrained_atomically`` and loaded back by ``pipeline``
from the folder, as the source's SST-2 notebook and lesson 05 do (its head is untrained:
speed does not depend on the weights' values). Source recipe: ``classifier(text)`` in a
loop. Course recipe: ``classifier(texts, batch_size=..., truncation=True, max_length=...)``
on the texts sorted by token length (lesson 05 sorts its test split so), so each batch is padded
to a length close to all of its texts; the results are put back in input order. The check: the
same label for every text and scores within 1e-4.
"""

from __future__ import annotations

import time

import torch
from context import SOURCE_MAX_LENGTH
from flops import ShapeRecorder, shapes_flops
from harness import ForwardTimer, compare, figure, memory_increase, peak_memory, throughput

SCORE_TOLERANCE = 1e-4


def saved_classifier(ctx):
    """Save MiniLM with a seeded classification head to the work folder; return the folder."""
    from transformers import AutoModelForSequenceClassification

    from course_utils.checkpoints import save_pretrained_atomically

    torch.manual_seed(ctx.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        ctx.model_path, num_labels=ctx.encoding.num_labels,
        id2label=ctx.encoding.id2label, label2id=ctx.encoding.label2id)
    folder = ctx.workdir / "classifier"
    save_pretrained_atomically(folder, model, ctx.tokenizer)
    return folder


def source_recipe(classifier, texts):
    """Classify one text per call."""
    return [classifier(text)[0] for text in texts]


def course_recipe(classifier, texts, batch_size):
    """Classify the whole list in batches of similar length (as lesson 05 orders its test split)."""
    lengths = [len(ids) for ids in classifier.tokenizer(texts)["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    predictions = classifier([texts[i] for i in order], batch_size=batch_size, truncation=True,
                             max_length=SOURCE_MAX_LENGTH)
    in_input_order = [None] * len(texts)
    for position, prediction in zip(order, predictions):
        in_input_order[position] = prediction
    return in_input_order


def where_time_goes(classifier, recipe) -> dict:
    """Run ``recipe`` once more, untimed by the row: wall time, time inside the model, FLOPs."""
    with ShapeRecorder(classifier.model) as shapes, ForwardTimer(classifier.model) as inside:
        start = time.perf_counter()
        recipe()
        seconds = time.perf_counter() - start
    flops = shapes_flops(classifier.model.config, shapes.shapes)
    return {"seconds": round(seconds, 3), "model_forward_share": round(inside.seconds / seconds, 3),
            "forward_calls": inside.calls, "achieved_gflops": round(flops / seconds / 1e9, 1)}


def run(ctx) -> dict:
    """Measure row 6 and return its results.json record."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(saved_classifier(ctx)), device="cpu")
    texts = ctx.sample(ctx.splits.test, ctx.sizes.serving_texts, seed=ctx.seed + 4)["text"].tolist()
    pair = compare(lambda: source_recipe(classifier, texts),
                   lambda: course_recipe(classifier, texts, ctx.batch_size), ctx.sizes.repeats,
                   warmup=lambda: (source_recipe(classifier, texts[:2]),
                                   course_recipe(classifier, texts[:2], 2)))
    analysis = {"baseline": where_time_goes(classifier, lambda: source_recipe(classifier, texts)),
                "course": where_time_goes(classifier, lambda: course_recipe(classifier, texts,
                                                                           ctx.batch_size))}
    start = time.perf_counter()
    classifier(texts, batch_size=ctx.batch_size, truncation=True, max_length=SOURCE_MAX_LENGTH)
    unsorted_rate = len(texts) / (time.perf_counter() - start)
    labels_equal = [a["label"] == b["label"]
                    for a, b in zip(pair.baseline.result, pair.course.result, strict=True)]
    score_gap = max(abs(a["score"] - b["score"])
                    for a, b in zip(pair.baseline.result, pair.course.result))
    known_labels = set(ctx.encoding.id2label.values())
    n = len(texts)
    base, course = (figure(throughput(n, runs.seconds), "texts/s")
                    for runs in (pair.baseline, pair.course))
    return {
        "name": "serving",
        "what": (f"pipeline('text-classification') from the saved folder on {n} test snippets: "
                 "one call per text vs one call on length-sorted texts with "
                 f"batch_size={ctx.batch_size}"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 3.0,
        "same_result": bool(all(labels_equal) and score_gap <= SCORE_TOLERANCE),
        "checks": {"texts_compared": n, "same_labels": int(sum(labels_equal)),
                   "max_score_difference": score_gap, "tolerance": SCORE_TOLERANCE,
                   "labels_are_the_data's": all(r["label"] in known_labels
                                                for r in pair.course.result)},
        "peak_rss_mb": peak_memory(pair),
        "details": {"texts": n, "batch_size": ctx.batch_size,
                    "rss_increase_mb": memory_increase(pair),
                    "where_time_goes": analysis,
                    "batched_in_input_order_texts_per_s": round(unsorted_rate, 1)},
    }
