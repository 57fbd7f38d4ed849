"""Row 3, ``frozen_head``: a classifier head on the frozen encoder for 10 epochs, the encoder
run again inside every epoch against features computed once and reused.

Source recipe (the frozen-head notebook): texts padded to 512, and in every batch of
every epoch the encoder runs under ``torch.no_grad()`` before the head's step.
Course recipe (lesson 04): ``course_utils.features.sentence_vectors`` once (length-sorted,
dynamic padding), then the head trains on the cached vectors.
Both use the same head (``course_utils.models.ClassifierHead``), the same loop
(``course_utils.models.train_head``: AdamW, batches of 16, the same seed, hence the same
batch order and dropout masks) and the same mean pooling, so they must end with the same
accuracy: checked on held-out snippets whose features are computed once, untimed.
"""

from __future__ import annotations

import numpy as np
import torch
from context import SOURCE_BATCH_SIZE, SOURCE_MAX_LENGTH
from harness import compare, figure, memory_increase, peak_memory

ACCURACY_TOLERANCE = 0.01     # the two heads' test accuracies may differ by at most 1 point
LEARNING_RATE = 1e-3


def new_head(ctx):
    """Return the course's classifier head for MiniLM features, freshly seeded."""
    from course_utils.models import ClassifierHead

    torch.manual_seed(ctx.seed)
    return ClassifierHead.for_encoder(ctx.encoder.config, ctx.encoding.num_labels)


def source_recipe(ctx, texts: list[str], labels: np.ndarray, epochs: int, batch_size: int):
    """Pad to 512 once, then run the encoder on each batch of each epoch while training the head."""
    from course_utils.features import mean_pool
    from course_utils.models import train_head

    encoded = ctx.tokenizer(texts, padding="max_length", truncation=True,
                            max_length=SOURCE_MAX_LENGTH, return_tensors="pt")

    def features_of(batch_indices: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():   # the encoder is frozen, but it still runs every time
            batch = {key: value[batch_indices] for key, value in encoded.items()}
            return mean_pool(ctx.encoder(**batch).last_hidden_state, batch["attention_mask"])

    head = new_head(ctx)
    train_head(head, features_of, labels, epochs=epochs, batch_size=batch_size,
               lr=LEARNING_RATE, seed=ctx.seed)
    return head


def course_recipe(ctx, texts: list[str], labels: np.ndarray, epochs: int, batch_size: int):
    """Encode once with the course's helper, then train the head on the cached vectors."""
    from course_utils.features import sentence_vectors
    from course_utils.models import train_head

    features = sentence_vectors(texts, ctx.tokenizer, ctx.encoder, pooling="mean",
                                max_length=SOURCE_MAX_LENGTH, batch_size=ctx.batch_size)
    head = new_head(ctx)
    train_head(head, features, labels, epochs=epochs, batch_size=batch_size,
               lr=LEARNING_RATE, seed=ctx.seed)
    return head


def run(ctx) -> dict:
    """Measure row 3 and return its results.json record."""
    from course_utils.features import sentence_vectors
    from course_utils.models import predict_proba

    train = ctx.sample(ctx.splits.train, ctx.sizes.frozen_train_texts)
    held_out = ctx.sample(ctx.splits.test, ctx.sizes.frozen_eval_texts, seed=ctx.seed + 1)
    texts, labels = train["text"].tolist(), train["label_id"].to_numpy().copy()
    epochs = ctx.sizes.frozen_epochs
    batch = min(SOURCE_BATCH_SIZE, len(texts))
    pair = compare(lambda: source_recipe(ctx, texts, labels, epochs, batch),
                   lambda: course_recipe(ctx, texts, labels, epochs, batch), ctx.sizes.repeats,
                   warmup=lambda: course_recipe(ctx, texts[:2], labels[:2], 1, 2))
    eval_features = sentence_vectors(held_out["text"].tolist(), ctx.tokenizer, ctx.encoder,
                                     pooling="mean", max_length=SOURCE_MAX_LENGTH,
                                     batch_size=ctx.batch_size)
    y = held_out["label_id"].to_numpy()
    predictions = {name: predict_proba(runs.result, eval_features).argmax(1)
                   for name, runs in (("baseline", pair.baseline), ("course", pair.course))}
    accuracy = {name: float((p == y).mean()) for name, p in predictions.items()}
    agreement = float((predictions["baseline"] == predictions["course"]).mean())
    base, course = (figure(runs.seconds, "s", higher_is_better=False)
                    for runs in (pair.baseline, pair.course))
    return {
        "name": "frozen_head",
        "what": (f"{epochs} epochs of a head on frozen MiniLM, {len(texts)} training snippets, "
                 f"batches of {batch}: encoder on 512-padded batches inside every epoch vs "
                 f"sentence_vectors once + cached features"),
        "baseline": base,
        "course": course,
        "ratio": round(base["median"] / course["median"], 2),
        "ratio_meaning": "speed-up: baseline seconds over course seconds",
        "target": 10.0,
        "same_result": abs(accuracy["baseline"] - accuracy["course"]) <= ACCURACY_TOLERANCE,
        "checks": {"held_out_texts": len(y), "accuracy": accuracy,
                   "prediction_agreement": agreement, "tolerance": ACCURACY_TOLERANCE},
        "peak_rss_mb": peak_memory(pair),
        "details": {"train_texts": len(texts), "epochs": epochs, "head_batch_size": batch,
                    "encoder_passes_over_the_data": {"baseline": epochs, "course": 1},
                    "rss_increase_mb": memory_increase(pair)},
    }
