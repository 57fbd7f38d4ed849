"""Row 1, ``tokenize``: the pure-Python tokenizer padding every text to 512, against the
fast tokenizer on the whole list with padding left to batch time.

Source recipe: transformers v5 has one ``BertTokenizer`` (Rust ``tokenizers`` backend;
``use_fast=False`` is ignored). The pure-Python WordPiece that the source lessons' slow
``BertTokenizer`` was lives on as ``BertTokenizerLegacy`` (a ``PythonBackend``). It is
called one text at a time with ``padding="max_length", max_length=512`` (lesson 01's
"original recipe"; the source's list call loops over the texts the same way inside).

Course recipe: ``tokenizer(texts, truncation=True, max_length=512)`` on the fast
tokenizer (lesson 01 and ``course_utils.batching.token_ids``): no padding at all.

Both produce the same token ids once the baseline's padding is removed (checked for
every text). The row's ``ceiling_share`` compares the course recipe with the Rust tokenizer's
own ``encode_batch`` on the same texts and settings (truncation at 512, no padding, special
tokens, ids read out as lists), timed alternately with it: the share of the tokenizer's own
speed that the course's call through transformers keeps (target 0.9). A third pair, in
``details``, times the step up to model-ready tensors:
the baseline's padded lists to ``torch.LongTensor`` (the source's next cell) against
``DataCollatorWithPadding`` over batches in corpus order (what the course's loaders do).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from statistics import median

import torch
from context import SOURCE_MAX_LENGTH
from harness import compare, figure, memory_increase, peak_memory, throughput


def slow_tokenizer(model_path: str):
    """Return the pure-Python WordPiece tokenizer of ``model_path``."""
    from transformers import BertTokenizerLegacy

    return BertTokenizerLegacy.from_pretrained(model_path)


def source_recipe(slow, texts: list[str]) -> list[dict]:
    """Tokenize one text at a time with the pure-Python tokenizer, padding each to 512."""
    return [slow(text, padding="max_length", truncation=True, max_length=SOURCE_MAX_LENGTH)
            for text in texts]


def course_recipe(tokenizer, texts: list[str]):
    """Tokenize the whole list with the fast tokenizer, no padding (the course's recipe)."""
    from course_utils.batching import token_ids

    return token_ids(texts, tokenizer, max_length=SOURCE_MAX_LENGTH)


def rust_encode_batch(tokenizer, texts: list[str]):
    """Return a call of the Rust tokenizer's own ``encode_batch`` with the course's settings.

    A copy of the tokenizer behind ``tokenizer`` (``backend_tokenizer``), truncating at 512,
    no padding, special tokens added: the ids the course recipe returns, read out as lists.
    """
    from tokenizers import Tokenizer

    rust = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    rust.enable_truncation(SOURCE_MAX_LENGTH)
    rust.no_padding()
    return lambda: [encoding.ids for encoding in rust.encode_batch(texts, add_special_tokens=True)]


def source_tensors(encoded: list[dict]) -> tuple[torch.Tensor, ...]:
    """Stack the padded lists into LongTensors, as the source does before its DataLoader."""
    return tuple(torch.LongTensor([row[key] for row in encoded]) for key in encoded[0])


def course_batches(tokenizer, ids: list[list[int]], batch_size: int) -> list[dict]:
    """Pad each batch (in corpus order) to its longest text with DataCollatorWithPadding."""
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    rows = [{"input_ids": row} for row in ids]
    return [collator(rows[start:start + batch_size]) for start in range(0, len(rows), batch_size)]


def profile_share(function, names: tuple[str, ...]) -> dict[str, float]:
    """Return the share of ``function``'s time spent inside the functions called ``names``."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(function)
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats
    shares = {}
    for name in names:
        inside = max((cumtime for (_, _, func), (_, _, _, cumtime, _) in stats.items()
                      # C methods: "<method 'x' ...>"
                      if func == name or f"'{name}'" in func), default=0.0)
        shares[name] = round(inside / total, 3)
    return shares


def run(ctx) -> dict:
    """Measure row 1 and return its results.json record."""
    texts = ctx.texts if not ctx.sizes.tokenize_texts else \
        ctx.sample(ctx.splits.train, ctx.sizes.tokenize_texts)["text"].tolist()
    slow = slow_tokenizer(ctx.model_path)
    pair = compare(lambda: source_recipe(slow, texts), lambda: course_recipe(ctx.tokenizer, texts),
                   ctx.sizes.repeats,
                   warmup=lambda: (source_recipe(slow, texts[:8]),
                                   course_recipe(ctx.tokenizer, texts[:8])))
    baseline_rows, course_ids = pair.baseline.result, pair.course.result
    # the check: same ids once the baseline's padding is cut away, padding only at the end
    mismatches = sum(
        row["input_ids"][:sum(row["attention_mask"])] != ids
        or len(row["input_ids"]) != SOURCE_MAX_LENGTH
        for row, ids in zip(baseline_rows, course_ids, strict=True))
    lengths = [len(ids) for ids in course_ids]

    # the ceiling: the Rust tokenizer alone on the same texts, same settings, no Python around it
    ceiling = compare(rust_encode_batch(ctx.tokenizer, texts),
                      lambda: course_recipe(ctx.tokenizer, texts), ctx.sizes.repeats)
    ceiling_same_ids = ceiling.baseline.result == ceiling.course.result
    ceiling_share = median(ceiling.baseline.seconds) / median(ceiling.course.seconds)

    # to model-ready tensors: the source's LongTensor cell against per-batch padding
    tensors = compare(lambda: source_tensors(baseline_rows),
                      lambda: course_batches(ctx.tokenizer, course_ids, ctx.batch_size),
                      ctx.sizes.repeats)
    course_positions = sum(batch["input_ids"].numel() for batch in tensors.course.result)
    base_ids = tensors.baseline.result[0]
    same_tensors = all(
        torch.equal(batch["input_ids"][i, :int(batch["attention_mask"][i].sum())],
                    base_ids[start + i, :int(batch["attention_mask"][i].sum())])
        for start, batch in zip(range(0, len(texts), ctx.batch_size), tensors.course.result)
        for i in range(len(batch["input_ids"])))

    # where the time goes (one profiled run of each; profiling slows both, shares are what count)
    sample = texts[: min(len(texts), 1000)]
    slow_profile = profile_share(lambda: source_recipe(slow, sample),
                                 ("tokenize", "prepare_for_model", "convert_tokens_to_ids"))
    fast_profile = profile_share(lambda: course_recipe(ctx.tokenizer, sample),
                                 ("encode_batch", "_convert_encoding"))
    n = len(texts)
    base_median = figure(throughput(n, pair.baseline.seconds), "texts/s")
    course_median = figure(throughput(n, pair.course.seconds), "texts/s")
    to_tensor_base = [a + b for a, b in zip(pair.baseline.seconds, tensors.baseline.seconds)]
    to_tensor_course = [a + b for a, b in zip(pair.course.seconds, tensors.course.seconds)]
    return {
        "name": "tokenize",
        "what": ("BertTokenizerLegacy (pure Python) one text at a time, padded to 512, vs the "
                 "fast tokenizer on the whole list, unpadded (lesson 01's pair)"),
        "baseline": base_median,
        "course": course_median,
        "ratio": round(course_median["median"] / base_median["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 20.0,
        "ceiling_share": round(ceiling_share, 3),
        "ceiling_share_meaning": ("course texts/s over the Rust tokenizer's own encode_batch "
                                  "texts/s, same texts and settings"),
        "ceiling_share_target": 0.9,
        "same_result": mismatches == 0 and same_tensors and ceiling_same_ids,
        "checks": {"texts_compared": n, "texts_with_different_ids": int(mismatches),
                   "tensors_identical_after_trimming_padding": bool(same_tensors),
                   "ceiling_gives_the_same_ids": bool(ceiling_same_ids)},
        "peak_rss_mb": peak_memory(pair),
        "details": {
            "texts": n,
            "tokens_materialised": {"baseline": n * SOURCE_MAX_LENGTH, "course": int(sum(lengths)),
                                    "course_after_batch_padding": int(course_positions)},
            "mean_tokens_per_text": round(sum(lengths) / n, 2),
            "rss_increase_mb": memory_increase(pair),
            "to_model_ready_tensors": {
                "baseline": figure(throughput(n, to_tensor_base), "texts/s"),
                "course": figure(throughput(n, to_tensor_course), "texts/s"),
                "ratio": round(median(to_tensor_base) / median(to_tensor_course), 2),
                "peak_rss_mb": peak_memory(tensors),
                "batch_size": ctx.batch_size},
            "microseconds_per_text": {
                "baseline": round(1e6 / base_median["median"], 1),
                "course": round(1e6 / course_median["median"], 1)},
            "time_shares_profiled": {"baseline": slow_profile, "course": fast_profile},
            "rust_encode_batch": {
                "ceiling": figure(throughput(n, ceiling.baseline.seconds), "texts/s"),
                "course": figure(throughput(n, ceiling.course.seconds), "texts/s")},
        },
    }
