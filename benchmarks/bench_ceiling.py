"""Row 5, ``ceiling``: how close the course's encoder inference comes to the machine's dense
matmul throughput.

The ceiling is the best of a few large square ``torch.mm`` products in float32 (the
encoder's dtype) with the same thread count (2 n^3 FLOPs each). The achieved figure is
the course recipe (``course_utils.features.sentence_vectors``) on held-out snippets: the FLOPs
of every forward pass it ran, counted analytically from the batch shapes it used
(``flops.forward_flops``, padding included, see README), over its wall time (which
includes tokenization, sorting and pooling). The checks: the analytic count equals
torch's own ``FlopCounterMode`` count of an eager-attention forward pass (within 1%),
and the matmul result matches a float64 reference.
"""

from __future__ import annotations

from context import SOURCE_MAX_LENGTH
from flops import ShapeRecorder, counted_flops, forward_flops, shapes_flops
from harness import Runs, figure, timed

from course_utils.flops import matmul_gflops

FLOP_COUNT_TOLERANCE = 0.01


def flop_count_check(ctx) -> dict:
    """Compare the analytic FLOP count with FlopCounterMode on an eager-attention copy of MiniLM."""
    from transformers import AutoModel

    eager = AutoModel.from_pretrained(ctx.model_path, attn_implementation="eager").eval()
    texts = ctx.sample(ctx.splits.valid, 4)["text"].tolist()
    batch = ctx.tokenizer(texts, padding=True, return_tensors="pt")
    counted = counted_flops(eager, dict(batch))
    analytic = forward_flops(eager.config, *batch["input_ids"].shape)
    return {"analytic_flops": analytic, "flop_counter_flops": counted,
            "relative_difference": abs(analytic - counted) / counted,
            "batch_shape": list(batch["input_ids"].shape)}


def run(ctx) -> dict:
    """Measure row 5 and return its results.json record."""
    from course_utils.features import sentence_vectors

    repeats = ctx.sizes.repeats
    by_size = {n: matmul_gflops(n, repeats) for n in ctx.sizes.ceiling_matrix}
    best_n = max(by_size, key=lambda n: sorted(by_size[n][0])[len(by_size[n][0]) // 2])
    ceiling_runs, matmul_error = by_size[best_n]

    held_out = ctx.sample(ctx.splits.test, ctx.sizes.ceiling_texts,
                          seed=ctx.seed + 3)["text"].tolist()
    encode = lambda: sentence_vectors(held_out, ctx.tokenizer, ctx.encoder, pooling="mean",  # noqa: E731
                                      max_length=SOURCE_MAX_LENGTH, batch_size=ctx.batch_size)
    encode()  # warm-up
    runs = Runs()
    with ShapeRecorder(ctx.encoder) as shapes:
        for _ in range(repeats):
            timed(encode, runs)
    per_run = shapes.shapes[: len(shapes.shapes) // repeats]
    flops = shapes_flops(ctx.encoder.config, per_run)
    lengths = [len(ids) for ids in ctx.tokenizer(held_out, truncation=True,
                                                  max_length=SOURCE_MAX_LENGTH)["input_ids"]]
    useful = sum(forward_flops(ctx.encoder.config, 1, s) for s in lengths)
    achieved = [flops / s / 1e9 for s in runs.seconds]
    check = flop_count_check(ctx)
    base = figure(ceiling_runs, "GFLOP/s")
    course = figure(achieved, "GFLOP/s")
    return {
        "name": "ceiling",
        "what": (f"float32 torch.mm {best_n}x{best_n} (best of {list(ctx.sizes.ceiling_matrix)}) "
                 f"vs sentence_vectors on {len(held_out)} held-out snippets, analytic FLOPs over "
                 "wall time"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 3),
        "ratio_meaning": "fraction of the matmul ceiling reached by the course's encoder inference",
        "target": 0.30,
        "same_result": bool(check["relative_difference"] <= FLOP_COUNT_TOLERANCE
                            and matmul_error < 1e-4),
        "checks": {**check, "tolerance": FLOP_COUNT_TOLERANCE,
                   "matmul_relative_error": matmul_error},
        "peak_rss_mb": None,
        "details": {"matmul_gflops_by_size": {str(n): figure(r, "GFLOP/s")
                                              for n, (r, _) in by_size.items()},
                    "texts": len(held_out), "batch_size": ctx.batch_size,
                    "gflop_per_run": round(flops / 1e9, 2),
                    "useful_share_of_flops": round(useful / flops, 3),
                    "texts_per_second": figure([len(held_out) / s for s in runs.seconds],
                                               "texts/s")},
    }
