"""Lesson 05's fine-tune on the reviews, one variant per call, for decisions about its recipe.

    .venv/bin/python benchmarks/finetune_variants.py --head cls --out runs/variants/cls
    .venv/bin/python benchmarks/finetune_variants.py --head mean --freeze-word-embeddings \\
        --out runs/variants/mean-frozen
    .venv/bin/python benchmarks/finetune_variants.py --pair runs/variants/cls runs/variants/mean

A run trains MiniLM on lesson 05's split (seed 0, ``max_length`` 64, batches of 16 grouped by
length, AdamW with the lesson's groups and linear schedule, validation twice an epoch, the best
weights kept) with one variant: the head (``cls``: ``AutoModelForSequenceClassification``, the
pooler on ``[CLS]``; ``mean``: the backbone without its pooler, mean pooling, a linear layer, as
lesson 05's own-head section), the word-embedding matrix frozen or not, the epochs and the
learning rate. It prints one JSON line (validation curve, test accuracy, seconds, milliseconds
per optimizer step without validation) and saves it with the test predictions in ``--out``.
``--pair`` judges two saved runs text by text with the course's paired test. One seed per call:
a verdict from one pair of runs is a hint, not a result; run other seeds with ``--seed``.
Run one at a time, with nothing else on the machine, and compare seconds only within one machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def parse_args(argv=None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--head", choices=("cls", "mean"), default="cls")
    parser.add_argument("--freeze-word-embeddings", action="store_true")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="folder for result.json and predictions.npy")
    parser.add_argument("--pair", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"),
                        help="judge two saved runs with the paired test; trains nothing")
    args = parser.parse_args(argv)
    if args.pair is None and args.out is None:
        parser.error("give --out for a run, or --pair RUN_A RUN_B")
    return args


def mean_pooling_classifier(source: str, num_labels: int):
    """Return lesson 05's own head: the backbone without its pooler, mean pooling, a linear."""
    from torch import nn
    from transformers import AutoModel

    from course_utils.features import mean_pool

    class MeanPoolingClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = AutoModel.from_pretrained(source)
            if getattr(self.backbone, "pooler", None) is not None:
                self.backbone.pooler = None
            self.dropout = nn.Dropout(0.1)
            self.classifier = nn.Linear(self.backbone.config.hidden_size, num_labels)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            hidden = self.backbone(input_ids=input_ids,
                                   attention_mask=attention_mask).last_hidden_state
            return self.classifier(self.dropout(mean_pool(hidden, attention_mask)))

    return MeanPoolingClassifier()


def train(args: argparse.Namespace) -> dict:
    """Fine-tune one variant; write its result and test predictions to ``args.out``."""
    import numpy as np
    import torch
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
    )

    import course_utils
    from course_utils.atomic import write_text_atomically
    from course_utils.batching import length_grouped_sampler
    from course_utils.corpora import load_labelled_splits
    from course_utils.session import machine_report
    from course_utils.training import compute_loss, evaluate, make_optimizer, make_scheduler

    torch.set_num_threads(args.threads)
    source = course_utils.resolve_model("minilm")
    splits, encoding, _ = load_labelled_splits(None, "text", "label", seed=args.seed)
    tokenizer = AutoTokenizer.from_pretrained(source)

    def to_dataset(frame):
        data = Dataset.from_pandas(frame[["text", "label_id"]], preserve_index=False)
        data = data.map(lambda b: tokenizer(b["text"], truncation=True, max_length=64),
                        batched=True, remove_columns=["text"])
        return data.rename_column("label_id", "labels")

    train_data, valid_data, test_data = (to_dataset(f)
                                         for f in (splits.train, splits.valid, splits.test))
    collator = DataCollatorWithPadding(tokenizer)
    lengths = [len(ids) for ids in train_data["input_ids"]]
    train_loader = DataLoader(train_data, batch_size=16, collate_fn=collator,
                              sampler=length_grouped_sampler(lengths, 16, seed=args.seed))
    valid_loader, test_loader = (DataLoader(d, batch_size=64, collate_fn=collator)
                                 for d in (valid_data, test_data))
    course_utils.seed_everything(args.seed)
    if args.head == "mean":
        model = mean_pooling_classifier(source, encoding.num_labels)
        words = model.backbone.embeddings.word_embeddings
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=encoding.num_labels)
        words = model.base_model.embeddings.word_embeddings
    words.weight.requires_grad = not args.freeze_word_embeddings
    optimizer = make_optimizer(model, args.learning_rate, 0.01)
    steps = math.ceil(len(train_loader) * args.epochs)
    scheduler = make_scheduler(optimizer, steps, 0.1)
    n_evaluations = math.ceil(args.epochs * 2)
    evaluate_at = {round(steps * k / n_evaluations) for k in range(1, n_evaluations + 1)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    step, curve, best, best_state, validation_seconds = 0, [], -1.0, None, 0.0
    start = time.perf_counter()
    model.train()
    while step < steps:
        for batch in train_loader:
            loss, _ = compute_loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if step in evaluate_at:
                began = time.perf_counter()
                accuracy = evaluate(model, valid_loader)["accuracy"]
                validation_seconds += time.perf_counter() - began
                curve.append(round(accuracy, 4))
                model.train()
                if accuracy > best:
                    best = accuracy
                    best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            if step >= steps:
                break
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    test = evaluate(model, test_loader)
    result = {"head": args.head, "freeze_word_embeddings": args.freeze_word_embeddings,
              "epochs": args.epochs, "learning_rate": args.learning_rate, "seed": args.seed,
              "steps": steps, "trainable_parameters": sum(p.numel() for p in trainable),
              "valid_curve": curve, "test_accuracy": round(test["accuracy"], 4),
              "seconds": round(seconds, 1), "validation_seconds": round(validation_seconds, 1),
              "step_ms": round(1000 * (seconds - validation_seconds) / steps, 1),
              "machine": machine_report()}
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "predictions.npy", test["predictions"])
    np.save(args.out / "labels.npy", test["labels"])
    write_text_atomically(args.out / "result.json", json.dumps(result, indent=2))
    return result


def pair(first: Path, second: Path) -> str:
    """Return the paired test's sentence for two saved runs on the same test texts."""
    import numpy as np

    from course_utils.metrics import paired_comparison

    labels = np.load(first / "labels.npy")
    if not (labels == np.load(second / "labels.npy")).all():
        raise SystemExit(f"{first} and {second} were not scored on the same test texts.")
    return paired_comparison(labels, np.load(first / "predictions.npy"),
                             np.load(second / "predictions.npy")).sentence(first.name, second.name)


def main(argv=None) -> int:
    """Run one variant, or pair two saved runs."""
    args = parse_args(argv)
    print(pair(*args.pair) if args.pair else json.dumps(train(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
