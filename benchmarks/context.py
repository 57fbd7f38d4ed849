"""What every benchmark row shares: sizes per mode, the model, the tokenizers and the data.

The rows all use the offline assets: MiniLM (``resolve_model("minilm")``) and the
Rotten Tomatoes snippets (fresh / rotten), cleaned and split by the course's own data
helpers with seed 0. ``Sizes`` says how much work each row does; ``FULL`` is what
``make bench`` runs, ``QUICK`` is a smoke run that proves the harness works.

Example::

    >>> ctx = Context.load(QUICK, threads=1, batch_size=32)    # doctest: +SKIP
    >>> ctx.sample(ctx.splits.test, 8, seed=1)                 # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SOURCE_MAX_LENGTH = 512   # the source lessons pad every text to BERT's limit
SOURCE_BATCH_SIZE = 16    # the source lessons' batch size (DLSU demo, frozen-head notebook)


@dataclass(frozen=True)
class Sizes:
    """How much work each row does, and how often it is repeated."""

    name: str
    repeats: int                 # timed runs per recipe and row (alternating)
    sweep_texts: int             # texts per configuration in the thread / batch sweep
    sweep_threads: tuple[int, ...] | None   # None: 1, 2, 4, ... up to the core count
    sweep_batches: tuple[int, ...]
    tokenize_texts: int          # 0: the whole corpus
    inference_texts: int
    frozen_train_texts: int
    frozen_epochs: int
    frozen_eval_texts: int
    finetune_steps: int
    finetune_batch: int
    optimizer_steps: int         # steps of the optimizer row (batches of finetune_batch)
    ceiling_matrix: tuple[int, ...]   # sizes of the square matmuls; the best is the ceiling
    ceiling_texts: int
    serving_texts: int


FULL = Sizes(name="full", repeats=3, sweep_texts=256, sweep_threads=None,
             sweep_batches=(16, 32, 64, 128), tokenize_texts=4000, inference_texts=128,
             frozen_train_texts=16, frozen_epochs=10, frozen_eval_texts=1000,
             finetune_steps=4, finetune_batch=SOURCE_BATCH_SIZE, optimizer_steps=48,
             ceiling_matrix=(1024, 2048), ceiling_texts=1024, serving_texts=256)
QUICK = Sizes(name="quick", repeats=2, sweep_texts=32, sweep_threads=(1,), sweep_batches=(8, 16),
              tokenize_texts=200, inference_texts=4, frozen_train_texts=4, frozen_epochs=2,
              frozen_eval_texts=32, finetune_steps=1, finetune_batch=2, optimizer_steps=2,
              ceiling_matrix=(256,), ceiling_texts=16, serving_texts=12)
MODES = {"full": FULL, "quick": QUICK}


@dataclass
class Context:
    """The loaded model, tokenizers and data splits, plus the run's settings."""

    sizes: Sizes
    threads: int
    batch_size: int
    seed: int
    model_path: str
    tokenizer: object
    encoder: object
    texts: list[str]
    splits: object
    encoding: object
    workdir: Path
    log: callable = print
    notes: dict = field(default_factory=dict)

    @classmethod
    def load(cls, sizes: Sizes, threads: int, batch_size: int, seed: int = 0,
             log=print) -> Context:
        """Load MiniLM, its fast tokenizer and the cleaned, split review corpus."""
        from transformers import AutoModel, AutoTokenizer

        import course_utils
        from course_utils.corpora import load_reviews
        from course_utils.data import clean_texts, encode_labels, stratified_split

        path = course_utils.resolve_model("minilm")
        tokenizer = AutoTokenizer.from_pretrained(path)
        encoder = AutoModel.from_pretrained(path).eval()
        frame, _ = clean_texts(load_reviews())
        encoding = encode_labels(frame["label"])
        frame = frame.assign(label_id=encoding.ids)
        splits = stratified_split(frame, seed=seed)
        workdir = Path(tempfile.mkdtemp(prefix="course-bench-"))
        return cls(sizes=sizes, threads=threads, batch_size=batch_size, seed=seed,
                   model_path=path, tokenizer=tokenizer, encoder=encoder,
                   texts=frame["text"].tolist(), splits=splits, encoding=encoding,
                   workdir=workdir, log=log)

    def sample(self, frame: pd.DataFrame, n: int, seed: int | None = None) -> pd.DataFrame:
        """Return ``n`` rows of ``frame`` drawn at random (all of them when n is 0 or too big)."""
        if n <= 0 or n >= len(frame):
            return frame.reset_index(drop=True)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)

    def set_threads(self, threads: int | None = None) -> int:
        """Use ``threads`` (default: the chosen count) torch threads from now on."""
        from course_utils.session import set_threads

        return set_threads(threads or self.threads)


def prepare_environment() -> None:
    """Set the variables the lessons' ``setup()`` sets, before transformers is imported."""
    from course_utils.session import COMMON_ENV, OFFLINE_ENV

    for key, value in {**COMMON_ENV, **OFFLINE_ENV}.items():
        os.environ.setdefault(key, value)
