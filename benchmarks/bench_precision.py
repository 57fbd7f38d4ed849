"""Row 8, ``precision``: bf16 autocast against fp32, on inference and on fine-tuning steps.

bf16 pays on a CPU only with AVX512-BF16 or AMX-BF16 (``course_utils.session.bf16_pays``);
without them PyTorch converts around every product and bf16 is slower than fp32, so on such a
CPU the row is *not applicable*: it records why, from the CPU's features, and times nothing.

Where it applies, on the fine-tuned classifier of the ``serving`` row (lesson 05's, or a short
fine-tune in the set-up): the source recipe is fp32, the course recipe the same code under
``torch.autocast("cpu", dtype=torch.bfloat16)``. Inference: the test snippets of the row in
length-sorted batches (``predict_sorted``), the ratio being bf16 texts/s over fp32 texts/s.
Fine-tuning: ``finetune_steps`` optimizer steps of ``finetune_batch`` snippets from the same
weights, fp32 and bf16 (forward and loss under autocast, fp32 master weights), timed apart
(``details``). The check, lesson 07's rule: bf16's labels agree with fp32's on the test split
(the whole split; ``QUALITY_TEXTS`` in the quick mode) with a 95% lower bound of at least 99%,
its accuracy is not worse by McNemar's test, and the first step's losses differ by < 0.05.
"""

from __future__ import annotations

import copy
import time

import torch
from bench_serving import MIN_AGREEMENT, QUALITY_TEXTS, fine_tuned_classifier
from context import SOURCE_MAX_LENGTH
from harness import compare, figure, memory_increase, peak_memory, throughput

LOSS_TOLERANCE = 0.05          # bf16 keeps 8 bits of mantissa: a loss moves in its third digit
TARGET = 1.2                   # bf16 units should beat fp32 by a fifth at least


def not_applicable(reason: str) -> dict:
    """Return the row's record on a CPU where bf16 cannot pay."""
    return {"name": "precision", "applicable": False,
            "reason": f"not applicable on this CPU: {reason} (bf16 autocast would convert to "
                      "fp32 around every matrix product and run slower than fp32)",
            "what": "bf16 autocast vs fp32 on inference and fine-tuning steps", "same_result": None}


def training_steps(model, batches, autocast: bool) -> tuple[float, float]:
    """Train a copy of ``model`` on ``batches``; return (seconds, loss of the first step)."""
    from course_utils.training import make_optimizer

    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, 5e-5)
    first_loss = None
    start = time.perf_counter()
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first_loss = float(loss) if first_loss is None else first_loss
    return time.perf_counter() - start, first_loss


def run(ctx) -> dict:
    """Measure row 8 and return its results.json record."""
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

    from course_utils.metrics import agreement, paired_comparison
    from course_utils.serving import predict_sorted, torch_forward
    from course_utils.session import bf16_pays, cpu_features

    pays, reason = bf16_pays(cpu_features())
    if not pays:
        return not_applicable(reason)
    folder, origin = fine_tuned_classifier(ctx)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    fp32, bf16 = torch_forward(model), torch_forward(model, autocast_dtype=torch.bfloat16)

    def labels(forward, texts):
        return predict_sorted(texts, ctx.tokenizer, forward, ctx.batch_size,
                              SOURCE_MAX_LENGTH).labels

    texts = ctx.sample(ctx.splits.test, ctx.sizes.inference_texts,
                       seed=ctx.seed + 6)["text"].tolist()
    pair = compare(lambda: labels(fp32, texts), lambda: labels(bf16, texts), ctx.sizes.repeats,
                   warmup=lambda: (labels(fp32, texts[:2]), labels(bf16, texts[:2])))
    quality = ctx.sample(ctx.splits.test, QUALITY_TEXTS[ctx.sizes.name], seed=ctx.seed + 5)
    reference, lower = (labels(f, quality["text"].tolist()) for f in (fp32, bf16))
    agreed = agreement(lower, reference)
    paired = paired_comparison(quality["label_id"].to_numpy(), lower, reference)

    pool = ctx.sample(ctx.splits.train, ctx.sizes.finetune_steps * ctx.sizes.finetune_batch,
                      seed=ctx.seed + 7)
    collate = DataCollatorWithPadding(ctx.tokenizer)
    encoded = ctx.tokenizer(pool["text"].tolist(), truncation=True, max_length=SOURCE_MAX_LENGTH)
    rows = [{"input_ids": i, "attention_mask": m, "labels": int(y)} for i, m, y
            in zip(encoded["input_ids"], encoded["attention_mask"], pool["label_id"])]
    batches = [collate(rows[i:i + ctx.sizes.finetune_batch])
               for i in range(0, len(rows), ctx.sizes.finetune_batch)]
    (fp32_seconds, fp32_loss), (bf16_seconds, bf16_loss) = (training_steps(model, batches, flag)
                                                            for flag in (False, True))
    n = len(texts)
    base, course = (figure(throughput(n, runs.seconds), "texts/s")
                    for runs in (pair.baseline, pair.course))
    loss_gap = abs(fp32_loss - bf16_loss)
    return {
        "name": "precision",
        "applicable": True,
        "reason": reason,
        "what": (f"fp32 vs bf16 autocast: inference on {n} test snippets in length-sorted batches "
                 f"of {ctx.batch_size}, and {len(batches)} fine-tuning steps; the classifier: "
                 f"{origin}"),
        "baseline": base,
        "course": course,
        "ratio": round(course["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: bf16 texts/s over fp32 texts/s",
        "target": TARGET,
        "same_result": bool(agreed.at_least(MIN_AGREEMENT) and paired.verdict != "worse"
                            and loss_gap < LOSS_TOLERANCE),
        "checks": {"texts_compared": agreed.n, "agreement": round(agreed.rate, 5),
                   "agreement_low": round(agreed.interval[0], 5), "min_agreement": MIN_AGREEMENT,
                   "accuracy_vs_fp32": paired.verdict,
                   "accuracy": {"baseline": round(paired.accuracy_b, 5),
                                "course": round(paired.accuracy_a, 5)},
                   "first_step_loss_difference": round(loss_gap, 5),
                   "loss_tolerance": LOSS_TOLERANCE},
        "peak_rss_mb": peak_memory(pair),
        "details": {"texts": n, "batch_size": ctx.batch_size,
                    "finetune_steps": len(batches), "finetune_batch": ctx.sizes.finetune_batch,
                    "finetune_seconds": {"baseline": round(fp32_seconds, 3),
                                         "course": round(bf16_seconds, 3)},
                    "finetune_ratio": round(fp32_seconds / bf16_seconds, 2),
                    "rss_increase_mb": memory_increase(pair)},
    }
