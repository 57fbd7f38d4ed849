"""Shared fixtures: the real offline assets, and a papermill runner for lesson notebooks.

The session-wide rules (offline hub libraries, temporary ``COURSE_ARTIFACTS`` for every kernel,
the guard on the learner's folders, nbval's recorded metrics) live in the repository's root
``conftest.py``, which also applies when only notebooks are tested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_utils import assets
from course_utils.record import read_metrics
from course_utils.tools.runner import NOTEBOOK_DIR, run_notebook, select_notebooks


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """Return the cached MiniLM folder (fetched by `make test` before pytest starts)."""
    return assets.asset_path("minilm", fetch_missing=False)


@pytest.fixture(scope="session")
def tokenizer(minilm_dir):
    """Return MiniLM's (fast, uncased WordPiece) tokenizer, shared by the tests."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir)


@pytest.fixture(scope="session")
def model(minilm_dir):
    """Return MiniLM with a new (untrained) masked-LM head, in eval mode; tests only read it."""
    import torch
    from transformers import AutoModelForMaskedLM

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return AutoModelForMaskedLM.from_pretrained(minilm_dir).eval()


@pytest.fixture(scope="session")
def reviews_csv() -> Path:
    """Return the cached review corpus."""
    return assets.asset_path("reviews", fetch_missing=False)


@pytest.fixture(scope="session")
def hamlet_txt() -> Path:
    """Return the cached Hamlet text."""
    return assets.asset_path("hamlet", fetch_missing=False)


@pytest.fixture(scope="session")
def pad_fixed_length():
    """Return lesson 03's padding as a function: (sequences, max_length, pad_id) -> int64 array,
    every sequence padded (and cut) at its end by keras' ``pad_sequences``."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # keras 3 without TensorFlow
    from keras.utils import pad_sequences  # imported here: importing keras takes seconds

    def pad(sequences, max_length: int, pad_id: int):
        return pad_sequences(sequences, maxlen=max_length, dtype="int64", value=pad_id,
                             padding="post", truncating="post")

    return pad


@pytest.fixture(scope="session")
def fixed_length_dataset(pad_fixed_length):
    """Return lesson 03's fixed-length recipe as a function: (tokenizer, texts, label_ids,
    max_length) -> TensorDataset of (input_ids, attention_mask, labels), all padded to
    max_length. The tests compare the course's dynamic padding with it."""
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

    from course_utils.batching import attention_mask_from_lengths, token_ids

    def build(tokenizer, texts, label_ids, max_length: int) -> TensorDataset:
        sequences = token_ids(texts, tokenizer, max_length)
        input_ids = torch.tensor(pad_fixed_length(sequences, max_length, tokenizer.pad_token_id))
        attention_mask = attention_mask_from_lengths([len(s) for s in sequences], max_length)
        labels = torch.tensor(np.array(label_ids, dtype=np.int64))
        return TensorDataset(input_ids, attention_mask, labels)

    return build


@pytest.fixture
def run_lesson(tmp_path, monkeypatch):
    """Execute a lesson with papermill and other parameters; return its recorded metrics.

    Usage: ``metrics = run_lesson("03", data_path=str(csv), seed=1)``. The kernel writes its
    outputs into ``artifacts`` (default: ``tmp_path / "artifacts"``, this test's own folder,
    never nbval's or the learner's). The executed notebook is kept at
    ``tmp_path / <name>.ipynb``; a failing cell fails the test with the notebook's error.
    """

    def _run(selector: str, artifacts: Path | None = None, **parameters) -> dict:
        monkeypatch.setenv("COURSE_ARTIFACTS", str(artifacts or tmp_path / "artifacts"))
        (notebook,) = select_notebooks([selector], NOTEBOOK_DIR)
        output = tmp_path / notebook.name
        result = run_notebook(notebook, output, parameters, progress=False)
        assert result.status == "ok", f"{notebook.name} failed: {result.error} (see {output})"
        return read_metrics(output)

    return _run
