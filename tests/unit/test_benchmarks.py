"""The benchmark harness: the quick mode runs every row and writes results.json as documented.

Speeds are not asserted here (they depend on the machine and its load); what is asserted
is the schema, that every row ran its equality check and that the two recipes agreed, and that
a row which cannot apply on this CPU (``precision`` without bf16 units) says why instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
ROWS = ["tokenize", "inference", "frozen_head", "finetune", "ceiling", "serving", "optimizer",
        "precision"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, minilm_dir, reviews_csv):
    """Run ``benchmarks/run.py --quick`` into a temporary file; return process, results, README."""
    output = tmp_path_factory.mktemp("bench") / "results.json"
    readme_before = (BENCH / "README.md").read_text(encoding="utf-8")
    command = [sys.executable, str(BENCH / "run.py"), "--quick", "--output", str(output)]
    process = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    results = json.loads(output.read_text(encoding="utf-8")) if output.exists() else None
    return process, results, readme_before


@pytest.mark.slow
def test_quick_run_succeeds_and_prints_the_table(quick_run):
    process, results, _ = quick_run
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert results is not None
    for name in ROWS:
        assert f"| {name} |" in process.stdout


@pytest.mark.slow
def test_machine_block(quick_run):
    _, results, _ = quick_run
    machine = results["machine"]
    assert machine["cores"] >= 1
    assert 1 <= machine["threads"] <= machine["cores"]
    assert machine["torch"] and machine["transformers"]
    assert len(machine["load_average"]["start"]) == 3 and len(machine["load_average"]["end"]) == 3
    assert results["mode"] == "quick"
    chosen = results["sweep"]["chosen"]
    assert (chosen["threads"], chosen["batch_size"]) == (machine["threads"], results["batch_size"])


@pytest.mark.slow
def test_every_row_has_figures_ratio_and_memory(quick_run):
    _, results, _ = quick_run
    assert [row["name"] for row in results["rows"]] == ROWS
    for row in results["rows"]:
        assert "error" not in row, row.get("error")
        if row.get("applicable") is False:
            continue                            # test_a_row_that_cannot_apply_says_why
        for side in ("baseline", "course"):
            figure = row[side]
            assert isinstance(figure["unit"], str) and figure["unit"]
            assert figure["median"] > 0
            assert figure["min"] <= figure["median"] <= figure["max"]
            assert len(figure["runs"]) == results["sizes"]["repeats"]
        assert isinstance(row["ratio"], (int, float)) and row["ratio"] > 0
        if row["name"] == "ceiling":
            assert row["peak_rss_mb"] is None
        else:
            assert row["peak_rss_mb"]["baseline"] > 0 and row["peak_rss_mb"]["course"] > 0


@pytest.mark.slow
def test_every_row_ran_its_equality_check_and_agreed(quick_run):
    _, results, _ = quick_run
    applicable = [row for row in results["rows"] if row.get("applicable", True)]
    checks = {row["name"]: row["checks"] for row in applicable}
    assert all(row["same_result"] is True for row in applicable)
    assert checks["tokenize"]["texts_with_different_ids"] == 0
    assert checks["tokenize"]["texts_compared"] == results["sizes"]["tokenize_texts"]
    assert checks["tokenize"]["ceiling_gives_the_same_ids"] is True
    tokenize = next(row for row in results["rows"] if row["name"] == "tokenize")
    assert tokenize["ceiling_share"] > 0 and tokenize["ceiling_share_target"] == 0.9
    assert checks["inference"]["max_abs_difference"] <= checks["inference"]["tolerance"]
    accuracy = checks["frozen_head"]["accuracy"]
    assert abs(accuracy["baseline"] - accuracy["course"]) <= checks["frozen_head"]["tolerance"]
    assert checks["frozen_head"]["held_out_texts"] == results["sizes"]["frozen_eval_texts"]
    assert checks["finetune"]["same_snippets_in_both_passes"] is True
    finetune = checks["finetune"]
    assert finetune["loss_difference_padded_512_vs_longest"] <= finetune["tolerance"]
    assert checks["ceiling"]["relative_difference"] <= checks["ceiling"]["tolerance"]
    serving = checks["serving"]
    assert serving["served_recipe"] in ("ONNX Runtime", "int8 encoder", "ORT int8 dynamic",
                                        "bf16 autocast")
    assert serving["agreement_low"] >= serving["min_agreement"] == 0.99
    assert serving["accuracy_vs_fp32"] in ("tie", "better")
    assert serving["baseline_same_labels_as_fp32"] == serving["baseline_texts"] > 0
    if "precision" in checks:
        precision = checks["precision"]
        assert precision["agreement_low"] >= precision["min_agreement"]
        assert precision["first_step_loss_difference"] < precision["loss_tolerance"]
    assert checks["optimizer"]["same_snippets_in_both_passes"] is True
    assert checks["optimizer"]["max_abs_parameter_difference"] <= checks["optimizer"]["tolerance"]
    optimizer = next(row for row in results["rows"] if row["name"] == "optimizer")
    assert optimizer["details"]["fused"] == {"baseline": False, "course": True}


@pytest.mark.slow
def test_a_row_that_cannot_apply_says_why(quick_run):
    process, results, _ = quick_run
    from course_utils.session import bf16_pays, cpu_features

    precision = next(row for row in results["rows"] if row["name"] == "precision")
    pays, reason = bf16_pays(cpu_features())
    assert precision["applicable"] is pays
    if not pays:
        assert reason in precision["reason"] and precision["same_result"] is None
        assert "| precision | not applicable on this CPU" in process.stdout


def test_precision_row_is_not_applicable_without_bf16_units(monkeypatch):
    sys.path.insert(0, str(BENCH))
    try:
        import bench_precision
    finally:
        sys.path.remove(str(BENCH))
    monkeypatch.setattr("course_utils.session.cpu_features",
                        lambda: {"avx2": True, "avx512_bf16": False, "amx_bf16": False})
    record = bench_precision.run(ctx=None)      # decides before it touches the context
    assert record["applicable"] is False and record["same_result"] is None
    assert "no AVX512-BF16 or AMX-BF16" in record["reason"]


@pytest.mark.slow
def test_quick_mode_leaves_the_readme_alone(quick_run):
    _, _, readme_before = quick_run
    assert (BENCH / "README.md").read_text(encoding="utf-8") == readme_before


def test_analytic_flops_match_torch_flop_counter():
    import torch
    from transformers import BertConfig, BertModel

    sys.path.insert(0, str(BENCH))
    try:
        from flops import counted_flops, forward_flops
    finally:
        sys.path.remove(str(BENCH))
    config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, attn_implementation="eager")
    torch.manual_seed(0)
    model = BertModel(config).eval()
    for batch, length in ((1, 7), (3, 40)):
        inputs = {"input_ids": torch.randint(5, 100, (batch, length)),
                  "attention_mask": torch.ones(batch, length, dtype=torch.long)}
        counted = counted_flops(model, inputs)
        analytic = forward_flops(config, batch, length)
        assert abs(analytic - counted) <= 0.01 * counted, (batch, length, analytic, counted)


def test_finetune_variants_pairs_two_saved_runs_and_refuses_other_test_texts(tmp_path):
    import numpy as np

    sys.path.insert(0, str(BENCH))
    import finetune_variants

    labels = np.array([0, 1] * 50)
    runs = {"cls": labels.copy(), "mean": labels.copy()}
    runs["cls"][:20] = 1 - labels[:20]                 # 20 texts only the mean head gets right
    for name, predictions in runs.items():
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "labels.npy", labels)
        np.save(tmp_path / name / "predictions.npy", predictions)
    sentence = finetune_variants.pair(tmp_path / "mean", tmp_path / "cls")
    assert sentence.startswith("mean 1.000 vs cls 0.800 on 100 texts: mean is better")
    np.save(tmp_path / "cls" / "labels.npy", labels[::-1])
    with pytest.raises(SystemExit, match="not scored on the same test texts"):
        finetune_variants.pair(tmp_path / "mean", tmp_path / "cls")
    with pytest.raises(SystemExit):
        finetune_variants.parse_args(["--head", "mean"])        # neither --out nor --pair
