"""Lesson 04: the default run's bands (nbval's run, in this session) and the feature cache on a
rerun (papermill, small parameters). Other CSVs (other columns, 2-4 classes, -1/0/1 labels, a rare
class, long texts): `make csv-suite`, with lesson 05.

Default-run bands come from the committed notebook's recorded values (in the comments): 2,551 test
texts give a 95% half-width of about 1.6 points, so accuracies get +/- 3 points; timings get
generous ceilings, and the cache speed-up a floor (a cache that does not skip the encoder gives
about 1). A head that learns nothing scores about 0.58 (the majority class). Verdicts between two
models come from McNemar's exact test on the texts only one of them gets right, and must follow
from the counts the lesson recorded.
"""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from course_utils.metrics import VERDICTS

pytestmark = pytest.mark.notebook

SMALL = dict(max_examples=400, head_epochs=3, compare_examples=32, compare_epochs=1)


def test_lesson_04_default_run_meets_its_bands(default_run):
    metrics = default_run("04")
    assert 0.75 <= metrics["frozen_head_accuracy"] <= 0.81   # recorded: 0.7852
    assert 0.75 <= metrics["logreg_accuracy"] <= 0.81        # recorded: 0.7809
    assert 0.73 <= metrics["tfidf_accuracy"] <= 0.79         # recorded: 0.7593
    assert 0.77 <= metrics["ensemble_accuracy"] <= 0.83      # recorded: 0.8013
    assert metrics["cache_speedup"] >= 2.5                   # recorded: 4.6
    assert 0 < metrics["feature_seconds"] < 600              # recorded: 81.9 (a first run)
    assert 0 < metrics["head_train_seconds"] < 300           # recorded: 15.91


def test_lesson_04_verdicts_follow_the_paired_counts(default_run):
    metrics = default_run("04")
    assert metrics["head_vs_tfidf"] in VERDICTS and metrics["head_vs_logreg"] in VERDICTS
    ensemble = metrics["ensemble_vs_better"]
    only_ensemble, only_better = ensemble["only_ensemble_right"], ensemble["only_better_right"]
    # the counts are those of the ensemble and the better single model on the 2,551 test texts
    better = max(metrics["frozen_head_accuracy"], metrics["tfidf_accuracy"])
    assert (only_ensemble - only_better) / 2551 == pytest.approx(
        metrics["ensemble_accuracy"] - better, abs=1e-3)
    p = binomtest(only_ensemble, only_ensemble + only_better).pvalue
    assert ensemble["verdict"] == ("tie" if p >= 0.05 else
                                   "better" if only_ensemble > only_better else "worse")


@pytest.mark.more
def test_lesson_04_rerun_reads_every_feature_from_the_disk_cache(run_lesson, tmp_path):
    # The default run always starts with an empty cache; only a second run can hit it.
    first = run_lesson("04", artifacts=tmp_path / "artifacts", **SMALL)
    again = run_lesson("04", artifacts=tmp_path / "artifacts", **SMALL)
    assert again["feature_seconds"] <= 0.3 * first["feature_seconds"]
    assert again["frozen_head_accuracy"] == first["frozen_head_accuracy"]
