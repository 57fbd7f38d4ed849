"""Row 6, ``serving``: a fine-tuned classifier behind ``pipeline("text-classification")``, one text
per call, against the recipe lesson 07's rule serves.

The classifier is lesson 05's when its folder is saved (``artifacts_dir("models") /
"05-finetuned-minilm"``, with this corpus's labels); otherwise the set-up fine-tunes MiniLM for
one short epoch on a few hundred training snippets, as lesson 07's stand-in does, so that "the
same result" means what it means in lesson 07: the served recipe keeps the fp32 model's labels.
Source recipe: ``classifier(text)`` in a loop. Course recipe: lesson 07's rule
(``course_utils.serving.served_recipe``) applied to three candidates, each classifying the texts
in length-sorted batches (``predict_sorted``): the model exported to ONNX and run by ONNX
Runtime in fp32, PyTorch's dynamic int8 on the encoder's linear layers (per channel), and ONNX
Runtime's dynamic int8 (per channel, pooler and classifier in fp32); and a fourth, the fp32
model under bf16 autocast, where the CPU computes in bf16 (``course_utils.session.bf16_pays``),
as in lesson 07. The rule: agreement with the fp32 model's labels on the test split (the whole
split; ``QUALITY_TEXTS`` in the quick mode) whose 95% lower bound reaches 99%, accuracy not
worse by McNemar's test, then the fastest, speed ties (Welch on the timed passes) broken by
latency, then resident memory. The export and the quantization, once, are not timed. The check:
the served recipe passes the rule, and the pipeline gives the fp32 model's label for every timed
text.
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import torch
from context import SOURCE_MAX_LENGTH
from flops import ShapeRecorder, shapes_flops
from harness import ForwardTimer, compare, figure, memory_increase, peak_memory, throughput

MIN_AGREEMENT = 0.99
QUALITY_TEXTS = {"full": 0, "quick": 400}       # test snippets for agreement; 0: the whole split
FINETUNE_TEXTS = {"full": 400, "quick": 48}     # set-up fine-tune when lesson 05's model is absent
FINETUNE_LEARNING_RATE = 2e-4                   # lesson 07's stand-in: one short epoch, few texts
LATENCY_CALLS = {"full": 64, "quick": 8}        # single-text calls per candidate (tie-break)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def fine_tuned_classifier(ctx):
    """Return (folder, origin) of a fine-tuned classifier: lesson 05's, else a short fine-tune.

    Cached in ``ctx.notes`` so the rows that need it (serving, precision) fine-tune once.
    """
    if "fine_tuned_classifier" in ctx.notes:
        return ctx.notes["fine_tuned_classifier"]
    from transformers import AutoConfig

    from course_utils.artifacts import artifacts_dir

    lesson_05 = artifacts_dir("models") / "05-finetuned-minilm"
    if (lesson_05 / "config.json").is_file():
        saved = AutoConfig.from_pretrained(lesson_05).id2label
        if {int(k): v for k, v in saved.items()} == ctx.encoding.id2label:
            ctx.notes["fine_tuned_classifier"] = (lesson_05, "lesson 05's saved classifier")
            return ctx.notes["fine_tuned_classifier"]
    n = FINETUNE_TEXTS[ctx.sizes.name]
    folder = short_fine_tune(ctx, ctx.splits.train.iloc[:n], ctx.workdir / "classifier")
    ctx.notes["fine_tuned_classifier"] = (folder, f"fine-tuned in the set-up on {n} snippets, "
                                                  "one epoch (lesson 05's model was not saved)")
    return ctx.notes["fine_tuned_classifier"]


def short_fine_tune(ctx, frame, folder):
    """Fine-tune MiniLM for one epoch on ``frame`` (lesson 07's stand-in recipe); save to folder."""
    from torch.utils.data import DataLoader
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

    from course_utils.batching import length_grouped_sampler
    from course_utils.checkpoints import save_pretrained_atomically
    from course_utils.training import make_optimizer, make_scheduler, train_one_epoch

    torch.manual_seed(ctx.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        ctx.model_path, num_labels=ctx.encoding.num_labels,
        id2label=ctx.encoding.id2label, label2id=ctx.encoding.label2id)
    encoded = ctx.tokenizer(frame["text"].tolist(), truncation=True, max_length=SOURCE_MAX_LENGTH)
    rows = [{"input_ids": ids, "attention_mask": mask, "labels": int(label)} for ids, mask, label
            in zip(encoded["input_ids"], encoded["attention_mask"], frame["label_id"])]
    loader = DataLoader(rows, batch_size=16, collate_fn=DataCollatorWithPadding(ctx.tokenizer),
                        sampler=length_grouped_sampler([len(r["input_ids"]) for r in rows], 16,
                                                       seed=ctx.seed))
    optimizer = make_optimizer(model, FINETUNE_LEARNING_RATE)
    train_one_epoch(model, loader, optimizer, make_scheduler(optimizer, len(loader), 0.1),
                    progress=False)
    return save_pretrained_atomically(folder, model.eval(), ctx.tokenizer)


def source_recipe(classifier, texts):
    """Classify one text per call."""
    return [classifier(text)[0] for text in texts]


def export_onnx(ctx, model, path):
    """Export a classifier to ONNX at ``path`` (dynamic batch and length); return the path."""
    batch = ctx.tokenizer(["a short text", "and a second one"], padding=True, return_tensors="pt")
    example = {name: batch[name] for name in INPUTS if name in batch}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(model).cpu(), (), str(path), kwargs=example,
                          input_names=list(example), output_names=["logits"], opset_version=17,
                          dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example})
    return path


def candidate_forwards(ctx, model, onnx_path, model_file) -> dict:
    """Return {candidate: (forward, resident MB of its loaded model, size on disk MB)}.

    ``model_file`` is the fp32 model's weights file, what the bf16 candidate loads.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from course_utils.serving import (
        matmul_nodes,
        onnx_forward,
        onnx_session,
        quiet_logging,
        resident_rise_mb,
        size_on_disk_mb,
        torch_forward,
    )
    from course_utils.session import bf16_pays, cpu_features

    encoded = ctx.tokenizer(["a short text", "and a second one"], padding=True, return_tensors="np")
    first = {name: ids.astype(np.int64) for name, ids in encoded.items()}   # a first request

    def onnx_candidate(path):
        session, memory = resident_rise_mb(lambda: onnx_session(path, ctx.threads),
                                           warm_up=lambda s: onnx_forward(s)(first))
        return onnx_forward(session), memory, size_on_disk_mb(path)

    candidates = {"ONNX Runtime": onnx_candidate(onnx_path)}
    encoder = {name: torch.ao.quantization.per_channel_dynamic_qconfig
               for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)
               and name.startswith(f"{model.base_model_prefix}.") and ".pooler." not in name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # torch.ao.quantization's deprecation notice
        int8, int8_mb = resident_rise_mb(lambda: torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), encoder, dtype=torch.qint8),
            warm_up=lambda m: torch_forward(m)(first))
    int8_path = ctx.workdir / "int8-encoder.pt"
    torch.save(int8.state_dict(), int8_path)
    candidates["int8 encoder"] = (torch_forward(int8), int8_mb, size_on_disk_mb(int8_path))
    dynamic_path = onnx_path.with_name("classifier-int8-dynamic.onnx")
    gemm = matmul_nodes(onnx_path)["gemm"]       # quantize_dynamic renames a Gemm <name>_MatMul
    with quiet_logging():
        quantize_dynamic(onnx_path, dynamic_path, weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=[f"{name}_MatMul" for name in gemm])
    candidates["ORT int8 dynamic"] = onnx_candidate(dynamic_path)
    if bf16_pays(cpu_features())[0]:
        bf16, bf16_mb = resident_rise_mb(
            lambda: copy.deepcopy(model),            # the fp32 weights, computing in bf16
            warm_up=lambda m: torch_forward(m, autocast_dtype=torch.bfloat16)(first))
        candidates["bf16 autocast"] = (torch_forward(bf16, autocast_dtype=torch.bfloat16),
                                       bf16_mb, size_on_disk_mb(model_file))
    return candidates


def choose_recipe(ctx, model, candidates, quality_frame, serve_texts, batch_size) -> dict:
    """Apply lesson 07's rule to the candidates; return the served name and every row."""
    from course_utils.metrics import agreement, paired_comparison
    from course_utils.serving import (
        alternate_runs,
        call_seconds,
        latency_ms,
        predict_sorted,
        served_recipe,
        torch_forward,
    )

    def labels(forward, texts):
        return predict_sorted(texts, ctx.tokenizer, forward, batch_size, SOURCE_MAX_LENGTH).labels

    texts, truth = quality_frame["text"].tolist(), quality_frame["label_id"].to_numpy()
    reference = labels(torch_forward(model), texts)
    rows = {}
    for name, (forward, memory_mb, size_mb) in candidates.items():
        predicted = labels(forward, texts)
        agreed, paired = agreement(predicted, reference), paired_comparison(truth, predicted,
                                                                            reference)
        rows[name] = {"agreement": round(agreed.rate, 5),
                      "agreement_low": round(agreed.interval[0], 5),
                      "accuracy": round(paired.accuracy_a, 5), "accuracy_vs_fp32": paired.verdict,
                      "memory_mb": round(memory_mb, 1), "size_mb": round(size_mb, 1)}
    seconds = alternate_runs({name: (lambda f=forward: labels(f, serve_texts))
                              for name, (forward, _, _) in candidates.items()},
                             max(3, ctx.sizes.repeats))      # speed_verdict needs 3 passes
    calls = serve_texts[:LATENCY_CALLS[ctx.sizes.name]]
    for name, (forward, _, _) in candidates.items():
        rows[name]["rates"] = [round(len(serve_texts) / s, 2) for s in seconds[name]]
        rows[name]["median_ms"] = round(latency_ms(call_seconds(
            lambda text, f=forward: labels(f, [text]), calls))["median_ms"], 2)
    served = served_recipe(rows, MIN_AGREEMENT)
    return {"served": served, "rows": rows, "fp32_accuracy": float((reference == truth).mean()),
            "texts": len(texts)}


def course_recipe(forward, tokenizer, id2label, texts, batch_size):
    """Classify the whole list with the served forward in length-sorted batches."""
    from course_utils.serving import predict_sorted

    run = predict_sorted(texts, tokenizer, forward, batch_size, SOURCE_MAX_LENGTH)
    logits = run.logits - run.logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return [{"label": id2label[int(i)], "score": float(p[i])}
            for i, p in zip(probabilities.argmax(axis=-1), probabilities)]


def where_time_goes(classifier, recipe) -> dict:
    """Run the baseline once more, untimed by the row: wall time, time inside the model, FLOPs."""
    with ShapeRecorder(classifier.model) as shapes, ForwardTimer(classifier.model) as inside:
        start = time.perf_counter()
        recipe()
        seconds = time.perf_counter() - start
    flops = shapes_flops(classifier.model.config, shapes.shapes)
    return {"seconds": round(seconds, 3), "model_forward_share": round(inside.seconds / seconds, 3),
            "forward_calls": inside.calls, "achieved_gflops": round(flops / seconds / 1e9, 1)}


def course_gflops(forward, tokenizer, config, texts, batch_size) -> dict:
    """Run the course recipe once more, untimed by the row: wall time and achieved GFLOP/s."""
    from course_utils.serving import predict_sorted

    start = time.perf_counter()
    run = predict_sorted(texts, tokenizer, forward, batch_size, SOURCE_MAX_LENGTH)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "forward_calls": len(run.shapes),
            "achieved_gflops": round(shapes_flops(config, run.shapes) / seconds / 1e9, 1)}


def run(ctx) -> dict:
    """Measure row 6 and return its results.json record."""
    from transformers import AutoModelForSequenceClassification, pipeline

    folder, origin = fine_tuned_classifier(ctx)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    classifier = pipeline("text-classification", model=model, tokenizer=ctx.tokenizer,
                          device="cpu")
    start = time.perf_counter()
    candidates = candidate_forwards(ctx, model, export_onnx(ctx, model,
                                                            ctx.workdir / "classifier.onnx"),
                                    folder / "model.safetensors")
    prepare_seconds = time.perf_counter() - start
    id2label = model.config.id2label
    texts = ctx.sample(ctx.splits.test, ctx.sizes.serving_texts, seed=ctx.seed + 4)["text"].tolist()
    quality = ctx.sample(ctx.splits.test, QUALITY_TEXTS[ctx.sizes.name], seed=ctx.seed + 5)
    choice = choose_recipe(ctx, model, candidates, quality, texts, ctx.batch_size)
    served = choice["served"]
    forward = candidates[served][0]
    course = lambda subset, size: course_recipe(forward, ctx.tokenizer, id2label,  # noqa: E731
                                                subset, size)
    pair = compare(lambda: source_recipe(classifier, texts),
                   lambda: course(texts, ctx.batch_size), ctx.sizes.repeats,
                   warmup=lambda: (source_recipe(classifier, texts[:2]), course(texts[:2], 2)))
    analysis = {"baseline": where_time_goes(classifier, lambda: source_recipe(classifier, texts)),
                "course": course_gflops(forward, ctx.tokenizer, model.config, texts,
                                        ctx.batch_size)}
    from course_utils.serving import predict_sorted, torch_forward

    fp32 = predict_sorted(texts, ctx.tokenizer, torch_forward(model), ctx.batch_size,
                          SOURCE_MAX_LENGTH).labels
    baseline_same = [model.config.label2id[r["label"]] == int(label)
                     for r, label in zip(pair.baseline.result, fp32, strict=True)]
    row = choice["rows"][served]
    n = len(texts)
    base, course_figure = (figure(throughput(n, runs.seconds), "texts/s")
                           for runs in (pair.baseline, pair.course))
    return {
        "name": "serving",
        "what": (f"pipeline('text-classification'), one call per text, vs the recipe lesson 07's "
                 f"rule serves ({served}, length-sorted batches of {ctx.batch_size}) on {n} test "
                 f"snippets; the classifier: {origin}"),
        "baseline": base,
        "course": course_figure,
        "ratio": round(course_figure["median"] / base["median"], 2),
        "ratio_meaning": "speed-up: course texts/s over baseline texts/s",
        "target": 4.0,
        "same_result": bool(row["agreement_low"] >= MIN_AGREEMENT
                            and row["accuracy_vs_fp32"] != "worse" and all(baseline_same)),
        "checks": {"served_recipe": served, "texts_compared": choice["texts"],
                   "agreement": row["agreement"], "agreement_low": row["agreement_low"],
                   "min_agreement": MIN_AGREEMENT, "accuracy_vs_fp32": row["accuracy_vs_fp32"],
                   "fp32_accuracy": round(choice["fp32_accuracy"], 5),
                   "baseline_texts": n, "baseline_same_labels_as_fp32": int(sum(baseline_same))},
        "peak_rss_mb": peak_memory(pair),
        "details": {"texts": n, "batch_size": ctx.batch_size, "classifier": origin,
                    "candidates": choice["rows"],
                    "rss_increase_mb": memory_increase(pair),
                    "export_and_quantize_seconds": round(prepare_seconds, 2),
                    "where_time_goes": analysis},
    }
