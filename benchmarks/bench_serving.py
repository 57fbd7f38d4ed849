"""Row 6, ``serving``: a saved classifier behind ``pipeline("text-classification")``, one text
per call, against lesson 07's recipe: the model exported to ONNX and run by ONNX Runtime (fp32)
on the whole list in length-sorted batches.

The classifier is MiniLM with a seeded 2-class head, saved with
``course_utils.checkpoints.save_pretrained_atomically`` and loaded back by ``pipeline``
from the folder, as the source's SST-2 notebook and lesson 05 do (its head is untrained:
speed does not depend on the weights' values). Source recipe: ``classifier(text)`` in a
loop. Course recipe: the fastest recipe of lesson 07 whose labels agree with fp32 on at least
99% of the test texts and whose accuracy is within one point: ONNX Runtime fp32 (its int8
recipes flip more labels than that; lesson 07 prints the numbers). The ONNX file is exported
once, untimed, like the saved folder; the timed recipe goes from texts to labels and scores:
``course_utils.serving.predict_sorted`` (sort by token length, batches of ``batch_size`` padded
to their longest text, results back in input order), then a softmax. The check: the same label
for every text and scores within 1e-4 (the same fp32 arithmetic, in other kernels).
"""

from __future__ import annotations

import time

import numpy as np
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


def export_onnx(ctx, folder):
    """Export the saved classifier to ONNX in the work folder; return the path."""
    import warnings

    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    batch = ctx.tokenizer(["a short text", "and a second one"], padding=True, return_tensors="pt")
    example = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")
               if name in batch}
    path = ctx.workdir / "classifier.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (), str(path), kwargs=example, input_names=list(example),
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example})
    return path


def course_recipe(session, tokenizer, id2label, texts, batch_size):
    """Classify the whole list with ONNX Runtime in length-sorted batches (lesson 07's recipe)."""
    from course_utils.serving import onnx_forward, predict_sorted

    run = predict_sorted(texts, tokenizer, onnx_forward(session), batch_size, SOURCE_MAX_LENGTH)
    logits = run.logits - run.logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return [{"label": id2label[int(i)], "score": float(p[i])}
            for i, p in zip(probabilities.argmax(axis=-1), probabilities)]


def pipeline_sorted(classifier, texts, batch_size):
    """Classify all texts through the pipeline, sorted by length (the former course recipe)."""
    lengths = [len(ids) for ids in classifier.tokenizer(texts)["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    return classifier([texts[i] for i in order], batch_size=batch_size, truncation=True,
                      max_length=SOURCE_MAX_LENGTH)


def where_time_goes(classifier, recipe) -> dict:
    """Run the baseline once more, untimed by the row: wall time, time inside the model, FLOPs."""
    with ShapeRecorder(classifier.model) as shapes, ForwardTimer(classifier.model) as inside:
        start = time.perf_counter()
        recipe()
        seconds = time.perf_counter() - start
    flops = shapes_flops(classifier.model.config, shapes.shapes)
    return {"seconds": round(seconds, 3), "model_forward_share": round(inside.seconds / seconds, 3),
            "forward_calls": inside.calls, "achieved_gflops": round(flops / seconds / 1e9, 1)}


def course_gflops(session, tokenizer, config, texts, batch_size) -> dict:
    """Run the course recipe once more, untimed by the row: wall time and achieved GFLOP/s."""
    from course_utils.serving import onnx_forward, predict_sorted

    start = time.perf_counter()
    run = predict_sorted(texts, tokenizer, onnx_forward(session), batch_size, SOURCE_MAX_LENGTH)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "forward_calls": len(run.shapes),
            "achieved_gflops": round(shapes_flops(config, run.shapes) / seconds / 1e9, 1)}


def run(ctx) -> dict:
    """Measure row 6 and return its results.json record."""
    from transformers import pipeline

    from course_utils.serving import onnx_session

    folder = saved_classifier(ctx)
    classifier = pipeline("text-classification", model=str(folder), device="cpu")
    start = time.perf_counter()
    session = onnx_session(export_onnx(ctx, folder), threads=ctx.threads)
    export_seconds = time.perf_counter() - start
    id2label = classifier.model.config.id2label
    texts = ctx.sample(ctx.splits.test, ctx.sizes.serving_texts, seed=ctx.seed + 4)["text"].tolist()
    course = lambda subset, size: course_recipe(session, classifier.tokenizer, id2label,  # noqa: E731
                                                subset, size)
    pair = compare(lambda: source_recipe(classifier, texts),
                   lambda: course(texts, ctx.batch_size), ctx.sizes.repeats,
                   warmup=lambda: (source_recipe(classifier, texts[:2]), course(texts[:2], 2)))
    analysis = {"baseline": where_time_goes(classifier, lambda: source_recipe(classifier, texts)),
                "course": course_gflops(session, classifier.tokenizer, classifier.model.config,
                                        texts, ctx.batch_size)}
    start = time.perf_counter()
    pipeline_sorted(classifier, texts, ctx.batch_size)
    pipeline_sorted_rate = len(texts) / (time.perf_counter() - start)
    labels_equal = [a["label"] == b["label"]
                    for a, b in zip(pair.baseline.result, pair.course.result, strict=True)]
    score_gap = max(abs(a["score"] - b["score"])
                    for a, b in zip(pair.baseline.result, pair.course.result))
    known_labels = set(ctx.encoding.id2label.values())
    n = len(texts)
    base, course_figure = (figure(throughput(n, runs.seconds), "texts/s")
                           for runs in (pair.baseline, pair.course))
    return {
        "name": "serving",
        "what": (f"pipeline('text-classification') from the saved folder, one call per text, vs "
                 f"the same model exported to ONNX, ONNX Runtime fp32 on {n} test snippets "
                 f"sorted by length in batches of {ctx.batch_size} (lesson 07's recipe)"),
        "baseline": base,
        "course": course_figure,
        "ratio": round(course_figure["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 4.0,
        "same_result": bool(all(labels_equal) and score_gap <= SCORE_TOLERANCE),
        "checks": {"texts_compared": n, "same_labels": int(sum(labels_equal)),
                   "max_score_difference": score_gap, "tolerance": SCORE_TOLERANCE,
                   "labels_are_the_data's": all(r["label"] in known_labels
                                                for r in pair.course.result)},
        "peak_rss_mb": peak_memory(pair),
        "details": {"texts": n, "batch_size": ctx.batch_size,
                    "rss_increase_mb": memory_increase(pair),
                    "onnx_export_and_session_seconds": round(export_seconds, 2),
                    "where_time_goes": analysis,
                    "pipeline_sorted_batches_texts_per_s": round(pipeline_sorted_rate, 1)},
    }
