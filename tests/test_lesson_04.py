"""Lesson 04 run by papermill on subsets: accuracy bands, the cache speed-up band, any CSV.

Bands come from measured runs of these exact parameters on a 2-core CPU (values in comments),
with a margin; each can fail: a head that learns nothing scores about 0.55-0.6 (the majority
class), a cache that does not skip the encoder gives a speed-up near 1 and a slow warm rerun.
"""

from __future__ import annotations

import pandas as pd

from course_utils.data import load_reviews

SMALL = dict(max_examples=800, head_epochs=15, compare_examples=96, compare_epochs=4)


def test_lesson_04_on_a_review_subset_meets_its_bands(run_lesson, tmp_path):
    metrics = run_lesson("04", artifacts=tmp_path / "artifacts", **SMALL)
    # measured (2-core CPU, contended): head 0.7475, logreg 0.7075, TF-IDF 0.5975, speed-up 4.7
    assert 0.70 <= metrics["frozen_head_accuracy"] <= 0.82
    assert 0.65 <= metrics["logreg_accuracy"] <= 0.80
    assert 0.54 <= metrics["tfidf_accuracy"] <= 0.68
    # with 800 training texts, pretrained features beat counting words by far (measured: 15 points)
    assert metrics["frozen_head_accuracy"] - metrics["tfidf_accuracy"] >= 0.07
    assert 2.5 <= metrics["cache_speedup"] <= 10.0
    assert metrics["feature_seconds"] > 0 and metrics["head_train_seconds"] > 0

    # A rerun finds every feature in the disk cache: the encoding time collapses.
    again = run_lesson("04", artifacts=tmp_path / "artifacts", **SMALL)
    assert again["feature_seconds"] <= 0.3 * metrics["feature_seconds"]
    assert again["frozen_head_accuracy"] == metrics["frozen_head_accuracy"]


def test_lesson_04_runs_unchanged_on_a_three_class_csv(run_lesson, tmp_path):
    corpus = load_reviews(("fresh", "rotten", "plot"))
    per_class = corpus.groupby("label", group_keys=False).head(300)
    csv = tmp_path / "three_classes.csv"
    per_class.rename(columns={"text": "snippet", "label": "kind"}).to_csv(csv, index=False)
    metrics = run_lesson("04", data_path=str(csv), text_column="snippet", label_column="kind",
                         max_examples=0, head_epochs=15, compare_examples=64, compare_epochs=2)
    # measured: head 0.833, TF-IDF 0.778 (180 test texts); 3 balanced classes: chance is 0.33
    assert 0.72 <= metrics["frozen_head_accuracy"] <= 0.93
    assert 0.62 <= metrics["tfidf_accuracy"] <= 0.90
