"""Lesson 03: the default run's split (nbval's, in this session), and papermill runs on a CSV of
its own (other column names, labels -1/0/1/2, bad rows) and on a CSV missing a column."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from course_utils.corpora import load_reviews
from course_utils.tools.runner import NOTEBOOK_DIR, run_notebook, select_notebooks

PER_CLASS = 40
LABELS = (-1, 0, 1, 2)

pytestmark = pytest.mark.notebook


def test_lesson_03_default_run_splits_and_pads_as_recorded(default_run):
    metrics = default_run("03")
    # The split and the cleaning are deterministic (seed 0): exact values, as recorded.
    assert (metrics["n_train"], metrics["n_valid"], metrics["n_test"]) == (8925, 1276, 2551)
    assert metrics["n_classes"] == 2 and metrics["n_dropped"] == 56
    assert 0.77 <= metrics["padding_waste_fixed"] <= 0.81     # recorded: 0.7893
    assert 0.46 <= metrics["padding_waste_dynamic"] <= 0.50   # recorded: 0.4822


@pytest.fixture
def tweets_csv(tmp_path):
    """Write 160 distinct texts (40 per label) plus 5 rows cleaning must drop."""
    texts = load_reviews()["text"].drop_duplicates().head(PER_CLASS * len(LABELS)).tolist()
    rows = [{"message": text, "sentiment": LABELS[i // PER_CLASS], "user": f"u{i}"}
            for i, text in enumerate(texts)]
    rows += [{"message": "", "sentiment": 1, "user": "empty"},           # read as missing
             {"message": "   ", "sentiment": 0, "user": "blank"},
             {"message": texts[0], "sentiment": -1, "user": "again"},     # duplicates
             {"message": texts[50], "sentiment": 0, "user": "again"},
             {"message": "a text without a label", "sentiment": None, "user": "nolabel"}]
    path = tmp_path / "tweets.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.more
def test_lesson_runs_unchanged_on_another_csv(run_lesson, tweets_csv):
    metrics = run_lesson("03", data_path=str(tweets_csv), text_column="message",
                         label_column="sentiment", max_length=64, batch_size=16, seed=1)
    assert metrics["n_classes"] == 4
    assert metrics["n_dropped"] == 5
    # 160 rows: test 20% = 32, validation 10% of all = 16 (12.5% of the remaining 128), train 112
    assert (metrics["n_train"], metrics["n_valid"], metrics["n_test"]) == (112, 16, 32)
    assert 0.0 < metrics["padding_waste_dynamic"] < metrics["padding_waste_fixed"] < 1.0


def test_a_missing_column_stops_the_lesson_before_the_tokenizer(tmp_path, tweets_csv, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path / "artifacts"))
    (notebook,) = select_notebooks(["03"], NOTEBOOK_DIR)
    output = tmp_path / "failed.ipynb"
    result = run_notebook(notebook, output, {"data_path": str(tweets_csv), "text_column": "text",
                                             "label_column": "sentiment"}, progress=False)
    assert result.status == "failed"
    assert "DataError" in result.error and "['message', 'sentiment', 'user']" in result.error
    cells = nbformat.read(str(output), as_version=4).cells
    (tokenizer_cell,) = [c for c in cells if "AutoTokenizer.from_pretrained" in c.source]
    assert tokenizer_cell.execution_count is None and not tokenizer_cell.outputs
