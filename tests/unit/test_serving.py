"""course_utils.serving and course_utils.flops: batching by length, forward functions on a real
(tiny, random) BERT, its ONNX export in ONNX Runtime, static int8 and the drift of its layers,
the memory a loaded model holds, the recipe plan and the served recipe.
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


INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@pytest.fixture(scope="module")
def tiny_onnx(tiny_classifier, tmp_path_factory):
    """Return the tiny classifier exported to ONNX (a path)."""
    tokenizer, model = tiny_classifier
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    example = {name: batch[name] for name in INPUTS}
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the tracer's notes on Python-level checks
        torch.onnx.export(model, (), str(path), kwargs=example, input_names=list(example),
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example})
    return path


def test_onnx_export_runs_in_onnx_runtime_with_the_same_logits(tiny_classifier, tiny_onnx):
    tokenizer, model = tiny_classifier
    session = serving.onnx_session(tiny_onnx, threads=1)
    runtime = serving.predict_sorted(TEXTS, tokenizer, serving.onnx_forward(session), 4, 32)
    eager = serving.predict_sorted(TEXTS, tokenizer, serving.torch_forward(model), 4, 32)
    assert np.abs(runtime.logits - eager.logits).max() < 1e-4
    assert serving.size_on_disk_mb(tiny_onnx) > 0


def test_torch_forward_under_bf16_autocast_stays_close_to_fp32(tiny_classifier):
    tokenizer, model = tiny_classifier
    fp32 = serving.predict_sorted(TEXTS, tokenizer, serving.torch_forward(model), 4, 32)
    bf16 = serving.predict_sorted(TEXTS, tokenizer, serving.torch_forward(
        model, autocast_dtype=torch.bfloat16), 4, 32)
    assert bf16.logits.dtype == np.float32
    assert 0 < np.abs(bf16.logits - fp32.logits).max() < 0.1   # rounded, not broken


def test_matmul_nodes_tell_linear_layers_from_attention_and_gemm(tiny_onnx):
    kinds = serving.matmul_nodes(tiny_onnx)
    assert len(kinds["linear"]) == 2 * 6          # 2 layers: query, key, value, out, up, down
    assert len(kinds["attention"]) == 2 * 2       # scores and weighted values per layer
    assert len(kinds["gemm"]) == 2                # the pooler and the classifier
    assert any("classifier" in name for name in kinds["gemm"])


def test_token_batches_feed_sorted_int64_batches_and_rewind(tiny_classifier):
    tokenizer, _ = tiny_classifier
    reader = serving.token_batches(TEXTS, tokenizer, INPUTS, batch_size=4, max_length=32)
    batches = list(reader)
    assert len(batches) == len(reader) == 2 and reader.get_next() is None
    assert set(batches[0]) == set(INPUTS)
    assert all(b[name].dtype == np.int64 for b in batches for name in INPUTS)
    assert batches[0]["input_ids"].shape[1] <= batches[1]["input_ids"].shape[1]   # sorted
    assert len(list(reader.rewind())) == 2


def test_static_int8_and_its_drift_table_rank_the_layers(tiny_classifier, tiny_onnx, tmp_path):
    from onnxruntime.quantization import QuantFormat, QuantType, qdq_loss_debug, quantize_static

    tokenizer, _ = tiny_classifier
    reader = serving.token_batches(TEXTS * 4, tokenizer, INPUTS, batch_size=8, max_length=32)
    linear = serving.matmul_nodes(tiny_onnx)["linear"]
    int8 = tmp_path / "tiny-int8.onnx"
    with serving.quiet_logging():
        quantize_static(tiny_onnx, int8, reader, quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        per_channel=True, nodes_to_quantize=linear, op_types_to_quantize=["MatMul"],
                        extra_options={"OpTypesToExcludeOutputQuantization": ["MatMul"]})
    augmented = {name: str(tmp_path / f"{name}-augmented.onnx") for name in ("fp32", "int8")}
    qdq_loss_debug.modify_model_output_intermediate_tensors(str(tiny_onnx), augmented["fp32"])
    qdq_loss_debug.modify_model_output_intermediate_tensors(str(int8), augmented["int8"])
    activations = {name: qdq_loss_debug.collect_activations(path, reader.rewind())
                   for name, path in augmented.items()}
    errors = qdq_loss_debug.compute_activation_error(
        qdq_loss_debug.create_activation_matching(activations["int8"], activations["fp32"]))
    weight_errors = qdq_loss_debug.compute_weight_error(
        qdq_loss_debug.create_weight_matching(str(tiny_onnx), str(int8)))
    table = serving.drift_table(errors, weight_errors, tiny_onnx)
    assert set(table.index) == set(linear)        # one row per quantized layer, no others
    assert table["input_sqnr_db"].is_monotonic_increasing   # the most disturbed first
    assert (table["weight_sqnr_db"] > 20).all()   # int8 per channel keeps weights close
    with pytest.raises(ValueError, match="float graph"):
        serving.drift_table({"nothing": {"qdq_err": 1.0}}, {}, tiny_onnx)


def test_resident_rise_counts_memory_the_loaded_object_keeps():
    kept, rise = serving.resident_rise_mb(lambda: np.ones(64 * 1024 * 1024 // 8))   # 64 MB
    assert kept.nbytes == 64 * 1024 * 1024
    assert 48 <= rise <= 96
    _, transient = serving.resident_rise_mb(lambda: float(np.ones(8_000_000).sum()))
    assert transient < 16                          # freed at once: not held


def test_resident_rise_counts_a_mapped_file_once_a_warm_up_reads_it(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(np.ones(32 * 1024 * 1024 // 8).tobytes())        # 32 MB on disk
    mapped, untouched = serving.resident_rise_mb(
        lambda: np.memmap(path, dtype=np.float64, mode="r"))
    assert untouched < 8                           # mapped, not read: not resident yet
    _, read = serving.resident_rise_mb(lambda: np.memmap(path, dtype=np.float64, mode="r"),
                                       warm_up=lambda weights: float(weights.sum()))
    assert 24 <= read <= 48
    del mapped


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
    assert list(cpu) == ["one text per call", "sorted batches", "ONNX Runtime", "int8 encoder",
                         "ORT int8 dynamic", "ORT int8 static"]
    gpu = serving.recipe_plan("cuda", ["CPUExecutionProvider"])
    assert list(gpu) == ["one text per call", "sorted batches", "fp16 weights"]
    gpu_ort = serving.recipe_plan("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert "ONNX Runtime" in gpu_ort and not any("int8" in name for name in gpu_ort)


def test_lesson_07_gets_its_measurements_from_measure_through_serving():
    for name in ("alternate_runs", "call_seconds", "latency_ms", "peak_memory_mb",
                 "release_memory", "speed_verdict"):
        assert getattr(serving, name) is getattr(measure, name)


def _row(rates, agreement_low, median_ms, memory, accuracy="tie"):
    return {"rates": rates, "agreement_low": agreement_low, "accuracy_vs_fp32": accuracy,
            "median_ms": median_ms, "memory_mb": memory}


def test_served_recipe_is_the_fastest_whose_agreement_bound_reaches_99_percent():
    table = {"one text per call": _row([10.0, 10.5, 9.8], 0.995, 20.0, 300),
             "sorted batches": _row([50.0, 51.0, 49.5], 0.995, 25.0, 350),
             "ORT int8 dynamic": _row([150.0, 149.0, 152.0], 0.97, 8.0, 200)}
    assert serving.served_recipe(table) == "sorted batches"
    assert serving.served_recipe(table, min_agreement=0.96) == "ORT int8 dynamic"


def test_served_recipe_refuses_a_recipe_whose_accuracy_is_worse_by_the_paired_test():
    table = {"sorted batches": _row([50.0, 51.0, 49.5], 0.995, 25.0, 350),
             "int8 encoder": _row([150.0, 149.0, 152.0], 0.992, 8.0, 200, accuracy="worse")}
    assert serving.served_recipe(table) == "sorted batches"
    table["int8 encoder"]["accuracy_vs_fp32"] = "better"
    assert serving.served_recipe(table) == "int8 encoder"


def test_served_recipe_breaks_a_speed_tie_by_latency_then_memory():
    table = {"sorted batches": _row([50.0, 53.0, 48.0], 0.995, 25.0, 350),
             "ONNX Runtime": _row([51.0, 49.0, 52.0], 0.995, 12.0, 400),
             "int8 encoder": _row([49.0, 52.0, 50.5], 0.995, 12.0, 250),
             "one text per call": _row([10.0, 10.5, 9.8], 0.995, 5.0, 100)}
    assert measure.speed_verdict(table["ONNX Runtime"]["rates"],
                                 table["sorted batches"]["rates"]) == "tie"
    assert serving.served_recipe(table) == "int8 encoder"   # 12 ms like ONNX, less memory
    import pandas as pd

    assert serving.served_recipe(pd.DataFrame(table).T) == "int8 encoder"


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
