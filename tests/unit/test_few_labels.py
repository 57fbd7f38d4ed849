"""course_utils.few_labels: the labelled budget, LoRA's targets, and the committed learning curve.

The last tests read the committed curve (the seed sweep ``08_few_labels``) and fail when it no
longer covers what the issue asks: four budgets, three seeds, five methods (whether it ran the
lesson's current defaults is the sweeps test's job, as for every committed sweep).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from course_utils import few_labels
from course_utils.few_labels import (
    GRID_KEYS,
    METHODS,
    RUN_PARAMETERS,
    curve_rows,
    curve_spread,
    curve_summary,
    curve_verdicts,
    draw_per_class,
    format_bytes,
    load_learning_curve,
    lora_targets,
    new_modules,
    shortfall,
    size_on_disk,
    split_labelled,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "08_few_labels.ipynb"


def frame(counts: dict[int, int]) -> pd.DataFrame:
    """Return a training split with ``counts[label]`` texts of each label id, interleaved."""
    rows = [(f"text {label}-{i}", label) for label, n in counts.items() for i in range(n)]
    table = pd.DataFrame(rows, columns=["text", "label_id"]).sample(frac=1.0, random_state=3)
    return table.reset_index(drop=True)


# ---------------------------------------------------------------- the labelled budget
def test_draw_takes_n_texts_per_class_in_the_frames_order():
    train = frame({0: 50, 1: 30, 2: 40})
    drawn = draw_per_class(train, 8, seed=0)
    assert drawn["label_id"].value_counts().to_dict() == {0: 8, 1: 8, 2: 8}
    assert list(drawn.index) == sorted(drawn.index)


def test_a_smaller_budget_is_part_of_a_larger_one_with_the_same_seed():
    train = frame({0: 60, 1: 45})
    for small, large in [(2, 8), (8, 32), (1, 45)]:
        smaller, larger = draw_per_class(train, small, 4), draw_per_class(train, large, 4)
        assert set(smaller.index) < set(larger.index)


def test_another_seed_draws_other_texts_and_the_same_seed_the_same():
    train = frame({0: 60, 1: 45})
    assert draw_per_class(train, 8, 0).equals(draw_per_class(train, 8, 0))
    assert set(draw_per_class(train, 8, 0).index) != set(draw_per_class(train, 8, 1).index)


def test_a_class_with_fewer_texts_gives_all_of_them_and_shortfall_names_it():
    train = frame({0: 40, 1: 5})
    labelled, unlabelled = split_labelled(train, 8, seed=0)
    assert labelled["label_id"].value_counts().to_dict() == {0: 8, 1: 5}
    assert shortfall(labelled, 8, {0: "fresh", 1: "plot"}) == {"plot": 5}
    assert shortfall(labelled, 5, {0: "fresh", 1: "plot"}) == {}


def test_labelled_and_unlabelled_split_the_training_texts_without_overlap():
    train = frame({0: 40, 1: 30})
    labelled, unlabelled = split_labelled(train, 10, seed=2)
    assert len(labelled) + len(unlabelled) == len(train)
    assert set(labelled["text"]).isdisjoint(unlabelled["text"])
    assert set(labelled["text"]) | set(unlabelled["text"]) == set(train["text"])


@pytest.mark.parametrize("per_class", [0, -3, 2.5, True])
def test_a_budget_that_is_not_a_positive_integer_is_refused(per_class):
    with pytest.raises(ValueError, match="per_class"):
        draw_per_class(frame({0: 5, 1: 5}), per_class)


def test_a_frame_without_encoded_labels_is_refused_with_its_columns():
    with pytest.raises(ValueError, match="label_id.*text, label"):
        draw_per_class(pd.DataFrame({"text": ["a"], "label": ["x"]}), 2)


# ---------------------------------------------------------------- what LoRA adapts
def tiny_model(kind: str):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    if kind == "bert":
        return BertForSequenceClassification(BertConfig(
            vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=16))
    return DistilBertForSequenceClassification(DistilBertConfig(
        vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=16))


@pytest.mark.parametrize("kind, expected", [("bert", ["query", "value"]),
                                            ("distilbert", ["q_lin", "v_lin"])])
def test_lora_targets_name_the_query_and_value_projections(kind, expected):
    assert lora_targets(tiny_model(kind)) == expected


def test_a_model_without_known_projections_is_refused_with_what_to_do():
    import torch

    with pytest.raises(ValueError, match="target_modules by hand"):
        lora_targets(torch.nn.Sequential(torch.nn.Linear(4, 4)))


def test_new_modules_are_read_from_the_loading_reports_missing_keys():
    assert new_modules(["classifier.weight", "classifier.bias"]) == ["classifier"]
    assert new_modules(["pre_classifier.weight", "pre_classifier.bias", "classifier.weight"]) \
        == ["classifier", "pre_classifier"]
    assert new_modules([]) == []


def test_size_on_disk_counts_every_file_below_a_folder(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_bytes(b"y" * 24)
    assert size_on_disk(tmp_path) == 1024 and size_on_disk(tmp_path / "a.bin") == 1000
    with pytest.raises(FileNotFoundError, match="save the model"):
        size_on_disk(tmp_path / "absent")


def test_format_bytes_picks_a_readable_unit():
    assert [format_bytes(n) for n in (512, 3_100, 87_300_000)] == ["512 B", "3.1 kB", "87.3 MB"]


# ---------------------------------------------------------------- the learning curve
def grid(accuracies: dict[tuple[int, int], dict[str, float]], tied=None) -> dict:
    """Return a grid.json of lesson 08 with the given accuracies per (labels_per_class, seed)."""
    points = [{"notebook": few_labels.LESSON, "parameters": {"seed": s, "labels_per_class": n},
               "status": "ok", "seconds": 100.0, "error": None, "folder": "/tmp/x", "output": "o",
               "metrics": {"accuracy": acc, "tied_with_best": (tied or {}).get((n, s), {}),
                           "run_parameters": {"max_steps": 80}}}
              for (n, s), acc in accuracies.items()]
    points.append({"notebook": "05_fine_tuning", "parameters": {}, "status": "ok",
                   "seconds": 1.0, "metrics": {}})
    return {"profile": "offline", "grid": {"seed": [0, 1], "labels_per_class": [8, 32]},
            "parameters": {"profile": "offline"}, "points": points}


def sample_grid() -> dict:
    low = {"tfidf": 0.55, "frozen": 0.70, "finetune": 0.60, "lora": 0.58, "setfit": 0.73}
    high = {"tfidf": 0.65, "frozen": 0.74, "finetune": 0.78, "lora": 0.76, "setfit": 0.75}
    tied_low = {"frozen": True, "setfit": True}
    tied_high = {"finetune": True, "lora": True, "setfit": True}
    return grid({(8, 0): low, (8, 1): {**low, "frozen": 0.72},
                 (32, 0): high, (32, 1): {**high, "finetune": 0.80}},
                tied={(8, 0): tied_low, (8, 1): tied_low, (32, 0): tied_high,
                      (32, 1): {"finetune": True, "setfit": True}})


def test_the_summary_has_mean_min_max_and_the_seeds_tied_with_the_best():
    summary = curve_summary(curve_rows(sample_grid()))
    frozen_8 = summary.loc[(8, "frozen")]
    assert frozen_8["seeds"] == 2 and frozen_8["mean"] == pytest.approx(0.71)
    assert (frozen_8["min"], frozen_8["max"]) == (0.70, 0.72)
    assert summary.loc[(32, "lora"), "best_or_tied"] == 1
    assert summary.loc[(32, "finetune"), "best_or_tied"] == 2


def test_verdicts_name_the_leader_and_who_ties_with_it_in_every_seed():
    summary = curve_summary(curve_rows(sample_grid()))
    at_8, at_32 = curve_verdicts(summary)
    assert at_8.startswith("8 labels per class: SetFit leads on average")
    assert "frozen encoder + logistic regression cannot be told from the best in any of the 2" \
        in at_8
    assert at_32.startswith("32 labels per class: full fine-tuning leads on average (0.790")
    assert "SetFit cannot be told" in at_32 and "LoRA" not in at_32


def test_the_spread_is_reported_in_points_with_where_it_is_largest():
    spread = curve_spread(curve_summary(curve_rows(sample_grid())))
    assert spread["largest"] == pytest.approx(2.0) and spread["median"] == 0.0
    assert spread["where"] in ("frozen encoder + logistic regression at 8 labels per class",
                               "full fine-tuning at 32 labels per class")


def test_load_says_how_to_make_the_curve_when_there_is_none(capsys):
    assert load_learning_curve("no_such_sweep") is None
    out = capsys.readouterr().out
    assert "No committed sweep 'no_such_sweep'" in out and "course_utils/few_labels.py" in out


def test_rows_skip_the_points_of_other_lessons():
    rows = curve_rows(sample_grid())
    assert len(rows) == 4 * len(METHODS) and set(rows["seed"]) == {0, 1}


def test_rows_refuse_a_curve_without_finished_points():
    broken = sample_grid()
    for point in broken["points"]:
        point["status"] = "failed"
    with pytest.raises(ValueError, match="no finished point"):
        curve_rows(broken)


# ---------------------------------------------------------------- the committed curve
def notebook_defaults() -> dict:
    """Return the default value of every parameter lesson 08 declares."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign)}


def test_the_lesson_records_every_parameter_but_the_grids():
    assert set(RUN_PARAMETERS) == set(notebook_defaults()) - set(GRID_KEYS)


def test_the_committed_curve_covers_four_budgets_three_seeds_and_every_method():
    curve = load_learning_curve()
    assert curve["grid"] == {"seed": [0, 1, 2], "labels_per_class": [8, 32, 128, 512]}
    assert curve["profile"] == "offline" and curve["lessons"] == [few_labels.LESSON]
    assert len(curve["points"]) == 12
    for point in curve["points"]:
        assert point["status"] == "ok", point
        assert set(point["metrics"]["accuracy"]) == set(METHODS)
        recorded = point["metrics"]["run_parameters"]
        assert set(recorded) == set(RUN_PARAMETERS)


def test_the_committed_lesson_shows_the_committed_curve():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    shown = "\n".join("".join(output.get("text", "")) for cell in cells
                      if cell["cell_type"] == "code" and "load_learning_curve()" in
                      "".join(cell["source"]) for output in cell.get("outputs", []))
    assert load_learning_curve()["command"] in shown, (
        "lesson 08 shows another curve than the committed one: make notebooks ONLY=08")


def test_only_lesson_08_and_its_checks_import_peft_and_setfit():
    import re

    pattern = re.compile(r"^\s*(?:import|from)\s+(?:peft|setfit)\b", re.MULTILINE)
    for path in sorted((ROOT / "notebooks").glob("0[1-7]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "code")
        assert not pattern.search(code), f"{path.name} imports peft or setfit"
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        top_level = [line for line in path.read_text().splitlines() if not line.startswith(" ")]
        assert not pattern.search("\n".join(top_level)), f"{path.name} imports peft or setfit"
