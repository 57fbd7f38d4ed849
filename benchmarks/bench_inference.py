"""Row 2, ``inference``: sentence features from the frozen encoder, every batch padded to
512 against the course's length-sorted, dynamically padded batches.

Source recipe (the DLSU demo and the frozen-head notebook): tokenize with
``padding="max_length", max_length=512``, then batches of 16 in order, the encoder under
``torch.no_grad()``. Course recipe: ``course_utils.features.sentence_vectors`` (lesson 04):
texts sorted by length, each batch padded to its own longest text, inference mode,
results put back in the input order. Both mean-pool the token vectors over the
attention mask, so they must give the same vectors (checked: largest absolute difference
and smallest cosine similarity over all texts). Timings include tokenization in both.
"""

from __future__ import annotations

import torch
from context import SOURCE_BATCH_SIZE, SOURCE_MAX_LENGTH
from flops import ShapeRecorder, shapes_flops
from harness import compare, figure, memory_increase, peak_memory, throughput

FEATURE_TOLERANCE = 1e-3      # largest |difference| allowed between the two recipes' vectors


def source_recipe(tokenizer, encoder, texts: list[str], batch_size: int = SOURCE_BATCH_SIZE):
    """Pad every text to 512 tokens and run the encoder over fixed-size batches in order."""
    from course_utils.features import mean_pool

    encoded = tokenizer(texts, padding="max_length", truncation=True,
                        max_length=SOURCE_MAX_LENGTH, return_tensors="pt")
    vectors = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = {key: value[start:start + batch_size] for key, value in encoded.items()}
            output = encoder(**batch)
            vectors.append(mean_pool(output.last_hidden_state, batch["attention_mask"]))
    return torch.cat(vectors)


def course_recipe(tokenizer, encoder, texts: list[str], batch_size: int):
    """Encode with the course's helper: length-sorted batches, dynamic padding."""
    from course_utils.features import sentence_vectors

    return sentence_vectors(texts, tokenizer, encoder, pooling="mean",
                            max_length=SOURCE_MAX_LENGTH, batch_size=batch_size)


def same_vectors(a: torch.Tensor, b: torch.Tensor) -> dict:
    """Return the largest absolute difference and smallest cosine similarity of two feature sets."""
    return {"max_abs_difference": float((a - b).abs().max()),
            "min_cosine": float(torch.nn.functional.cosine_similarity(a, b, dim=1).min())}


def run(ctx) -> dict:
    """Measure row 2 and return its results.json record."""
    texts = ctx.sample(ctx.splits.test, ctx.sizes.inference_texts)["text"].tolist()
    tok, enc = ctx.tokenizer, ctx.encoder
    source_batch = min(SOURCE_BATCH_SIZE, len(texts))
    pair = compare(lambda: source_recipe(tok, enc, texts, source_batch),
                   lambda: course_recipe(tok, enc, texts, ctx.batch_size), ctx.sizes.repeats,
                   warmup=lambda: (source_recipe(tok, enc, texts[:2], 2),
                                   course_recipe(tok, enc, texts[:2], 2)))
    with ShapeRecorder(enc) as shapes:  # one untimed run, to count the positions computed
        course_recipe(tok, enc, texts, ctx.batch_size)
    comparison = same_vectors(pair.baseline.result, pair.course.result)
    n = len(texts)
    base, course = (figure(throughput(n, runs.seconds), "texts/s")
                    for runs in (pair.baseline, pair.course))
    lengths = [len(ids) for ids in tok(texts, truncation=True,
                                       max_length=SOURCE_MAX_LENGTH)["input_ids"]]
    config = enc.config
    flops = {"baseline": shapes_flops(config, [(min(source_batch, n - start), SOURCE_MAX_LENGTH)
                                               for start in range(0, n, source_batch)]),
             "course": shapes_flops(config, shapes.shapes)}
    seconds = {"baseline": n / base["median"], "course": n / course["median"]}
    return {
        "name": "inference",
        "what": (f"mean-pooled MiniLM features of {n} test snippets: batches of {source_batch} "
                 f"padded to 512 vs course_utils.features.sentence_vectors (length-sorted batches "
                 f"of {ctx.batch_size}, padded to the longest)"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 20.0,
        "same_result": comparison["max_abs_difference"] <= FEATURE_TOLERANCE,
        "checks": {"texts_compared": n, **comparison, "tolerance": FEATURE_TOLERANCE},
        "peak_rss_mb": peak_memory(pair),
        "details": {"texts": n, "real_tokens": int(sum(lengths)),
                    "positions_computed_per_run": {"baseline": n * SOURCE_MAX_LENGTH,
                                                   "course": sum(b * s for b, s in shapes.shapes)},
                    "batch_size": {"baseline": source_batch, "course": ctx.batch_size},
                    "gflop_per_pass": {k: round(v / 1e9, 2) for k, v in flops.items()},
                    "achieved_gflops": {k: round(flops[k] / seconds[k] / 1e9, 1) for k in flops},
                    "rss_increase_mb": memory_increase(pair)},
    }
