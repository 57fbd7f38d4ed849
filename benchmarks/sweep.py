"""Choose the thread count and batch size from measurements, not guesses.

For every thread count (1, 2, 4, ... up to the cores) and every candidate batch size,
the course's inference recipe (``course_utils.features.sentence_vectors``) encodes the same
sample of training snippets twice; the fastest configuration (by median texts/s) is
used for every row, by both recipes.

Example::

    >>> sweep = run_sweep(ctx)              # doctest: +SKIP
    >>> sweep["chosen"]                     # doctest: +SKIP
    {'threads': 2, 'batch_size': 64, 'texts_per_second': 131.2}
"""

from __future__ import annotations

import statistics
import time

from context import SOURCE_MAX_LENGTH
from harness import usable_cores


def thread_candidates(cores: int) -> list[int]:
    """Return 1, 2, 4, ... below ``cores``, and ``cores`` itself."""
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


def run_sweep(ctx) -> dict:
    """Time the course's encoding per (threads, batch size); return the table and the choice."""
    from course_utils.features import sentence_vectors

    texts = ctx.sample(ctx.splits.train, ctx.sizes.sweep_texts, seed=ctx.seed + 5)["text"].tolist()
    threads = list(ctx.sizes.sweep_threads or thread_candidates(usable_cores()))
    table = []
    for n_threads in threads:
        ctx.set_threads(n_threads)
        sentence_vectors(texts[:16], ctx.tokenizer, ctx.encoder,  # warm-up
                         max_length=SOURCE_MAX_LENGTH)
        for batch_size in ctx.sizes.sweep_batches:
            rates = []
            for _ in range(2):
                start = time.perf_counter()
                sentence_vectors(texts, ctx.tokenizer, ctx.encoder, pooling="mean",
                                 max_length=SOURCE_MAX_LENGTH, batch_size=batch_size)
                rates.append(len(texts) / (time.perf_counter() - start))
            table.append({"threads": n_threads, "batch_size": batch_size,
                          "texts_per_second": round(statistics.median(rates), 1),
                          "runs": [round(r, 1) for r in rates]})
            ctx.log(f"  sweep: {n_threads} thread(s), batch {batch_size:4d}: "
                    f"{table[-1]['texts_per_second']:8.1f} texts/s")
    best = max(table, key=lambda row: row["texts_per_second"])
    return {"texts": len(texts), "table": table,
            "chosen": {key: best[key] for key in ("threads", "batch_size", "texts_per_second")}}
