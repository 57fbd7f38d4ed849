"""course_utils.serving and course_utils.flops: batching by length, forward functions on a real
(tiny, random) BERT, its ONNX export in ONNX Runtime, timings, verdicts and the recipe plan."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
import torch

from course_utils import serving
from course_utils.flops import encoder_sizes, forward_flops, matmul_gflops, shapes_flops

TEXTS = ["a fine film", "dull", "the best thing I have seen this year, and I have seen a lot",
         "not good at all", "moving and funny", "why"]


@pytest.fixture(scope="module")
def tiny_classifier(minilm_dir):
    """Return the MiniLM tokenizer and a tiny random 2-layer BERT classifier on its vocabulary."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=3)
    return tokenizer, BertForSequenceClassification(config).eval()


def test_length_sorted_batches_cover_every_text_once_shortest_first():
    batches = serving.length_sorted_batches([5, 1, 4, 1, 3], batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 2], [0]]


def test_length_sorted_batches_refuse_an_empty_batch():
    with pytest.raises(ValueError, match="batch_size"):
        serving.length_sorted_batches([1, 2], batch_size=0)


def test_predict_sorted_puts_logits_back_in_input_order(tiny_classifier):
    tokenizer, model = tiny_classifier
    forward = serving.torch_forward(model)
    batched = serving.predict_sorted(TEXTS, tokenizer, forward, batch_size=4, max_length=32)
    one_by_one = np.concatenate([serving.predict_sorted([t], tokenizer, forward, 1, 32).logits
                                 for t in TEXTS])
    assert batched.logits.shape == (len(TEXTS), 3)
    assert np.abs(batched.logits - one_by_one).max() < 1e-4
    assert [b for b, _ in batched.shapes] == [4, 2]
    lengths = [s for _, s in batched.shapes]
    assert lengths == sorted(lengths)          # shortest texts first, so little padding


def test_onnx_export_runs_in_onnx_runtime_with_the_same_logits(tiny_classifier, tmp_path):
    tokenizer, model = tiny_classifier
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    example = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    path = tmp_path / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the tracer's notes on Python-level checks
        torch.onnx.export(model, (), str(path), kwargs=example, input_names=list(example),
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example})
    session = serving.onnx_session(path, threads=1)
    runtime = serving.predict_sorted(TEXTS, tokenizer, serving.onnx_forward(session), 4, 32)
    eager = serving.predict_sorted(TEXTS, tokenizer, serving.torch_forward(model), 4, 32)
    assert np.abs(runtime.logits - eager.logits).max() < 1e-4
    assert serving.size_on_disk_mb(path) > 0


def test_alternate_runs_time_each_recipe_once_per_round():
    calls = []
    seconds = serving.alternate_runs({"a": lambda: calls.append("a"),
                                      "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b"] * 3
    assert {name: len(runs) for name, runs in seconds.items()} == {"a": 3, "b": 3}
    assert all(s >= 0 for runs in seconds.values() for s in runs)


def test_call_seconds_times_each_call():
    seconds = serving.call_seconds(lambda s: __import__("time").sleep(s), [0.0, 0.02])
    assert len(seconds) == 2 and seconds[1] >= 0.02 > seconds[0]


def test_latency_is_reported_in_milliseconds_with_the_95th_percentile():
    summary = serving.latency_ms([0.001] * 19 + [0.1])
    assert summary["median_ms"] == pytest.approx(1.0)
    assert 1.0 < summary["p95_ms"] < 100.0
    assert summary["p95_ms"] == pytest.approx(np.percentile([1.0] * 19 + [100.0], 95))


def test_speed_verdict_is_a_tie_when_the_runs_overlap():
    assert serving.speed_verdict([10, 12], [5, 6]) == "faster"
    assert serving.speed_verdict([4, 4.5], [5, 6]) == "slower"
    assert serving.speed_verdict([5.5, 7], [5, 6]) == "tie"
    with pytest.raises(ValueError):
        serving.speed_verdict([], [1.0])


def test_agreement_counts_equal_labels_and_refuses_mismatched_lists():
    assert serving.agreement([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    with pytest.raises(ValueError, match="same non-zero length"):
        serving.agreement([0, 1], [0, 1, 1])


def test_peak_memory_sees_a_large_allocation():
    result, rise = serving.peak_memory_mb(lambda: np.ones(40_000_000).sum())   # 320 MB
    assert result == 40_000_000
    assert math.isnan(rise) or rise > 100


def test_size_on_disk_counts_every_file_below_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 1_000_000)
    (tmp_path / "sub" / "b.bin").write_bytes(b"x" * 500_000)
    assert serving.size_on_disk_mb(tmp_path) == pytest.approx(1.5)
    assert serving.size_on_disk_mb(tmp_path / "a.bin") == pytest.approx(1.0)


def test_quiet_logging_hides_warnings_only_inside_the_block(caplog):
    with caplog.at_level(logging.WARNING), serving.quiet_logging():
        logging.getLogger("some.library").warning("advice")
    assert "advice" not in caplog.text
    with caplog.at_level(logging.WARNING):
        logging.getLogger("some.library").warning("after")
    assert "after" in caplog.text


def test_recipe_plan_uses_int8_on_a_cpu_and_fp16_on_a_gpu():
    cpu = serving.recipe_plan("cpu", ["CPUExecutionProvider"])
    assert list(cpu) == ["one text per call", "sorted batches", "int8 weights", "ONNX Runtime",
                         "ONNX Runtime int8"]
    gpu = serving.recipe_plan("cuda", ["CPUExecutionProvider"])
    assert list(gpu) == ["one text per call", "sorted batches", "fp16 weights"]
    gpu_ort = serving.recipe_plan("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert "ONNX Runtime" in gpu_ort and "ONNX Runtime int8" not in gpu_ort


def test_flop_count_reads_bert_and_distilbert_configs():
    from transformers import BertConfig, DistilBertConfig

    bert = BertConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=128)
    distil = DistilBertConfig(dim=64, n_layers=2, hidden_dim=128, n_heads=2)
    assert encoder_sizes(bert) == encoder_sizes(distil) == (2, 64, 128)
    assert forward_flops(bert, 3, 10) == forward_flops(distil, 3, 10)
    per_layer = 8 * 10 * 64 * 64 + 4 * 10 * 10 * 64 + 4 * 10 * 64 * 128
    assert forward_flops(bert, 1, 10, pooler=False) == 2 * per_layer
    assert shapes_flops(bert, [(1, 10), (2, 10)]) == 3 * forward_flops(bert, 1, 10)


def test_matmul_ceiling_is_positive_and_the_product_correct():
    rates, error = matmul_gflops(128, repeats=2, flops_per_timing=2e8)
    assert len(rates) == 2 and min(rates) > 0
    assert error < 1e-4
