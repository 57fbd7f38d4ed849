"""course_utils.serving and course_utils.flops: batching by length, forward functions on a real
(tiny, random) BERT, its ONNX export in ONNX Runtime, the recipe plan and the served recipe.
The timings and verdicts themselves are course_utils.measure's (test_measure.py)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch

from course_utils import measure, serving
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


def test_restore_input_order_undoes_the_length_sort_for_arrays_and_tensors():
    lengths = [7, 2, 9, 2, 5, 1, 8]
    batches = serving.length_sorted_batches(lengths, batch_size=3)
    positions = np.concatenate(batches)
    assert sorted(positions.tolist()) == list(range(len(lengths)))
    outputs = np.array([[10 * i, lengths[i]] for i in positions])   # computed in batch order
    restored = serving.restore_input_order(outputs, batches)
    assert restored[:, 0].tolist() == [10 * i for i in range(len(lengths))]
    assert restored[:, 1].tolist() == lengths
    tensor = serving.restore_input_order(torch.as_tensor(outputs), batches)
    assert torch.equal(tensor, torch.as_tensor(restored))
    with pytest.raises(ValueError, match="rows for"):
        serving.restore_input_order(outputs[:-1], batches)


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


def test_agreement_counts_equal_labels_and_refuses_mismatched_lists():
    assert serving.agreement([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    with pytest.raises(ValueError, match="same non-zero length"):
        serving.agreement([0, 1], [0, 1, 1])


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


def test_lesson_07_gets_its_measurements_from_measure_through_serving():
    for name in ("alternate_runs", "call_seconds", "latency_ms", "peak_memory_mb",
                 "speed_verdict"):
        assert getattr(serving, name) is getattr(measure, name)


def _row(rates, agreement_low, median_ms, memory):
    return {"rates": rates, "agreement_low": agreement_low, "median_ms": median_ms,
            "peak_memory_mb": memory}


def test_served_recipe_is_the_fastest_whose_agreement_bound_reaches_99_percent():
    table = {"one text per call": _row([10.0, 10.5, 9.8], 0.995, 20.0, 300),
             "sorted batches": _row([50.0, 51.0, 49.5], 0.995, 25.0, 350),
             "ONNX Runtime int8": _row([150.0, 149.0, 152.0], 0.97, 8.0, 200)}
    assert serving.served_recipe(table) == "sorted batches"
    assert serving.served_recipe(table, min_agreement=0.96) == "ONNX Runtime int8"


def test_served_recipe_breaks_a_speed_tie_by_latency_then_memory():
    table = {"sorted batches": _row([50.0, 53.0, 48.0], 0.995, 25.0, 350),
             "ONNX Runtime": _row([51.0, 49.0, 52.0], 0.995, 12.0, 400),
             "int8 weights": _row([49.0, 52.0, 50.5], 0.995, 12.0, 250),
             "one text per call": _row([10.0, 10.5, 9.8], 0.995, 5.0, 100)}
    assert measure.speed_verdict(table["ONNX Runtime"]["rates"],
                                 table["sorted batches"]["rates"]) == "tie"
    assert serving.served_recipe(table) == "int8 weights"   # 12 ms like ONNX, less memory
    import pandas as pd

    assert serving.served_recipe(pd.DataFrame(table).T) == "int8 weights"


def test_served_recipe_explains_a_missing_column_and_no_eligible_recipe():
    with pytest.raises(ValueError, match="agreement_low"):
        serving.served_recipe({"fp32": {"rates": [1.0, 1.0, 1.0]}})
    with pytest.raises(ValueError, match="99.0%"):
        serving.served_recipe({"int8": _row([5.0, 5.0, 5.0], 0.9, 1.0, 1.0)})


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
