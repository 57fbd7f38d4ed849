"""Checks for lesson 08 (few labels): a graded experiment on the labelled budget, LoRA's count.

08.1 recomputes the paired test from the learner's own predictions and grades the stated verdict
against it; 08.2 builds small BERT-like models with LoRA adapters and counts what trains. Example::

    >>> evaluate("08.1", namespace)                                           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import paired_comparison
from .core import Feedback, exercise

VERDICTS = {"better": "better", "worse": "worse", "tie": "cannot tell"}


def _labels(values: Any, name: str, n: int) -> np.ndarray | Feedback:
    """Return ``values`` as one integer label per test text, or feedback saying what is off."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`{name}` should be one predicted label id per test text.")
    if array.ndim != 1 or len(array) != n:
        return Feedback.wrong(f"`{name}` holds {array.shape} values: give one predicted label id "
                              f"per test text ({n}), in the test split's order.")
    if not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
            return array.astype(int)
        return Feedback.wrong(f"`{name}` holds {array.dtype} values: give label ids (the integer "
                              "a model predicts, e.g. from .predict), not probabilities or names.")
    return array


@exercise("08.1", lesson="08",
          names=["my_labelled", "my_predictions", "my_verdict", "labelled", "unlabelled",
                 "labels_per_class", "frozen_predictions", "tfidf_predictions", "test_labels"],
          hint="Section 1 says where the next texts to label come from and why a smaller budget "
               "is part of a larger one. For the verdict, two models scored on the same texts "
               "are compared by the texts where exactly one of them is right: the course's "
               "paired test, as in the table of section 6.")
def more_labels_for_counting_words(my_labelled, my_predictions, my_verdict, labelled,
                                   unlabelled, labels_per_class, frozen_predictions,
                                   tfidf_predictions, test_labels):
    """TF-IDF with four times the labels against the frozen encoder: better, worse, cannot tell."""
    if not isinstance(my_labelled, pd.DataFrame) or "text" not in my_labelled \
            or "label_id" not in my_labelled:
        return Feedback.wrong("`my_labelled` should be the table of texts you labelled (a "
                              "DataFrame with the `text` and `label_id` columns, like `labelled`).")
    target = 4 * int(labels_per_class)
    sizes = labelled["label_id"].value_counts().add(unlabelled["label_id"].value_counts(),
                                                    fill_value=0)
    wanted = {int(k): int(min(target, n)) for k, n in sizes.items()}
    got = {int(k): int(n) for k, n in my_labelled["label_id"].value_counts().items()}
    if got != wanted:
        return Feedback.wrong(f"`my_labelled` holds {dict(sorted(got.items()))} texts per label "
                              f"id: the experiment asks for {target} per class (all of a class "
                              "that has fewer training texts).")
    if not set(my_labelled["text"]) <= set(labelled["text"]) | set(unlabelled["text"]):
        return Feedback.wrong("Some texts of `my_labelled` are not from the training split: new "
                              "labels come from the unlabelled pool, never from the validation "
                              "or test texts that judge the model.")
    if not set(labelled["text"]) <= set(my_labelled["text"]):
        return Feedback.wrong("`my_labelled` leaves out texts of the lesson's budget: a larger "
                              "budget keeps the texts already labelled and adds new ones from the "
                              "unlabelled pool.")
    y = np.asarray(test_labels)
    predictions = _labels(my_predictions, "my_predictions", len(y))
    if isinstance(predictions, Feedback):
        return predictions
    if np.array_equal(predictions, y):
        return Feedback.wrong("`my_predictions` are the test labels themselves: the experiment "
                              "needs what your model predicts for the test texts.")
    if np.array_equal(predictions, np.asarray(frozen_predictions)):
        return Feedback.wrong("`my_predictions` are the frozen encoder's predictions: the "
                              "experiment compares a TF-IDF model trained on the larger budget "
                              "with them.")
    if np.array_equal(predictions, np.asarray(tfidf_predictions)):
        return Feedback.wrong("`my_predictions` are those of the TF-IDF model on the lesson's "
                              "budget: train it again on `my_labelled`, then predict.")
    verdict = str(my_verdict).strip().lower() if isinstance(my_verdict, str) else my_verdict
    if verdict not in VERDICTS.values():
        choices = ", ".join(map(repr, VERDICTS.values()))
        return Feedback.wrong(f"`my_verdict` should be one of {choices}, not {my_verdict!r}.")
    paired = paired_comparison(y, predictions, np.asarray(frozen_predictions))
    expected = VERDICTS[paired.verdict]
    summary = (f"TF-IDF on {len(my_labelled)} texts {paired.accuracy_a:.3f} against the frozen "
               f"encoder {paired.accuracy_b:.3f}")
    if verdict == expected:
        return Feedback.right(f"{summary}: {expected}, as the paired test on your predictions says "
                              f"({paired.only_a_right} texts only TF-IDF gets right, "
                              f"{paired.only_b_right} only the frozen encoder). Labels bought "
                              "this much; a pretrained encoder is free.")
    if verdict == "cannot tell":
        return Feedback.wrong(f"{summary}: the paired test finds a difference beyond the noise "
                              "here, so 'cannot tell' undersells what these texts show.")
    if expected == "cannot tell":
        return Feedback.wrong(f"{summary}: a gap in accuracy alone is not a verdict. Look at the "
                              "texts where the two models disagree and ask whether that split "
                              "could come from chance.")
    return Feedback.wrong(f"{summary}: your verdict points the wrong way; which model gets "
                          "more of the disputed texts right?")


more_labels_for_counting_words.kind = "judgement"  # a graded experiment; counted in the README


def _lora_count(rank: int, hidden: int, layers: int, labels: int) -> int:
    """Return what LoRA on query and value, with the classifier saved, trains in a tiny BERT."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertConfig, BertForSequenceClassification

    from ..parameters import count_parameters

    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=2 * hidden,
                        max_position_embeddings=32, num_labels=labels)
    model = get_peft_model(BertForSequenceClassification(config),
                           LoraConfig(task_type="SEQ_CLS", r=rank, lora_alpha=2 * rank,
                                      target_modules=["query", "value"],
                                      modules_to_save=["classifier"]))
    return count_parameters(model).trainable


CASES = ((4, 32, 2, 2), (1, 48, 3, 3), (8, 16, 1, 5))


@exercise("08.2", lesson="08", names=["lora_trainable"],
          hint="Section 4: LoRA leaves each adapted weight matrix as it is and adds the product of "
               "two thin matrices of the same overall shape; the rank is their shared side. Count "
               "what is added to one projection of one layer, then how many projections and "
               "layers there are, then what the new head trains.")
def lora_trainable_parameters(lora_trainable):
    """Predict LoRA's trainable parameters from the rank and the encoder's sizes."""
    if not callable(lora_trainable):
        return Feedback.wrong("`lora_trainable` should be a function of (rank, hidden_size, "
                              f"num_layers, num_labels), not a {type(lora_trainable).__name__}.")
    for rank, hidden, layers, labels in CASES:
        got = lora_trainable(rank, hidden, layers, labels)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer, float)) or \
                float(got) != int(float(got)):
            return Feedback.wrong(f"lora_trainable returned {got!r}: a count is a whole number.")
        expected = _lora_count(rank, hidden, layers, labels)
        if int(got) == expected:
            continue
        case = (f"for rank {rank}, hidden size {hidden}, {layers} layer(s) and {labels} labels "
                f"you count {int(got):,}, the model trains {expected:,}")
        head = hidden * labels + labels
        if int(got) == expected - head:
            return Feedback.wrong(f"{case}: the new classifier head trains too.")
        if int(got) == expected + head:
            return Feedback.wrong(f"{case}: the head is counted twice.")
        if int(got) * 2 - head == expected or int(got) == (expected - head) // 2 + head:
            return Feedback.wrong(f"{case}: each adapted matrix gets two small matrices, "
                                  "not one.")
        return Feedback.wrong(f"{case} ({'too few' if int(got) < expected else 'too many'}).")
    return Feedback.right("Your count matches peft's for every size tried: LoRA's cost grows "
                          "with the rank and the hidden size, never with the vocabulary or the "
                          "feed-forward layers it leaves alone.")
