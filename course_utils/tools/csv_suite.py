"""CSVs of different shapes, built from the course's own data, for lessons 04 and 05.

Each case varies what a learner's CSV varies: size, number of classes (one of them rare),
text length (short snippets, long speeches truncated at ``max_length``), label type (strings,
-1/0/1) and column names. ``make csv-suite`` (a CI job) runs lessons 04 and 05 on every case,
each pair in its own artifacts folder, fails when ``problems`` finds one (the fine-tune worse
than the frozen head by the paired test, a model not beating the majority class, a printed
verdict its numbers do not give), and prints the README's table::

    .venv/bin/python -m course_utils.tools.csv_suite --out runs/csv-suite
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..corpora import hamlet_speeches, load_reviews
from ..metrics import mcnemar_verdict
from .lessons import course_folder
from .tables import markdown_table

# Lesson 05's comparisons on a subset, and lesson 04's timing of the in-loop recipe, are not what
# the suite checks: small sizes keep them to seconds.
LESSON_04_SMALL = {"compare_examples": 64, "compare_epochs": 1}
LESSON_05_SMALL = {"comparison_examples": 64, "frozen_demo_examples": 32}


@dataclass(frozen=True)
class Case:
    """One CSV of the suite: how to build it and how the lessons are told to read it."""

    name: str
    description: str
    build: Callable[[], pd.DataFrame]
    text_column: str
    label_column: str
    parameters: dict = field(default_factory=dict)   # extra parameters for both lessons


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Return ``n`` rows of ``frame`` drawn with ``seed``."""
    return frame.sample(n=n, random_state=seed)


def reviews_with_rare_plots() -> pd.DataFrame:
    """Return 900 reviews: fresh and rotten snippets, and 30 plot synopses (a rare class)."""
    reviews = load_reviews(("fresh", "rotten", "plot"))
    parts = [_sample(reviews[reviews["label"] == "fresh"], 450, 1),
             _sample(reviews[reviews["label"] == "rotten"], 420, 2),
             _sample(reviews[reviews["label"] == "plot"], 30, 3)]
    frame = pd.concat(parts).sample(frac=1.0, random_state=4)
    return frame.rename(columns={"text": "review", "label": "verdict"})[["review", "verdict"]]


def reviews_signed() -> pd.DataFrame:
    """Return 700 texts labelled -1 (rotten), 1 (fresh) and 0 (plot synopsis, 3%: a rare class)."""
    reviews = load_reviews(("fresh", "rotten", "plot"))
    signs = {"rotten": -1, "plot": 0, "fresh": 1}
    sizes = {"rotten": 340, "plot": 22, "fresh": 338}
    parts = [_sample(reviews[reviews["label"] == name], sizes[name], 10 + sign)
             for name, sign in signs.items()]
    frame = pd.concat(parts).sample(frac=1.0, random_state=5)
    return pd.DataFrame({"sentence": frame["text"], "polarity": frame["label"].map(signs)})


def reviews_binary() -> pd.DataFrame:
    """Return 2,400 fresh and rotten snippets in their corpus proportions."""
    reviews = load_reviews(("fresh", "rotten"))
    return _sample(reviews, 2400, 6).rename(columns={"label": "sentiment"})[["text", "sentiment"]]


def hamlet_by_speaker() -> pd.DataFrame:
    """Return Hamlet's speeches by its four most frequent speakers (656 speeches, long tail)."""
    speeches = hamlet_speeches()
    speakers = ("HAMLET", "HORATIO", "KING CLAUDIUS", "LORD POLONIUS")
    return speeches[speeches["speaker"].isin(speakers)].rename(columns={"text": "speech"})


CASES = (
    Case("reviews-signed", "700 review snippets and synopses, labels -1/1 and 0 for the 3% of "
         "synopses (a rare class)", reviews_signed, "sentence", "polarity"),
    Case("hamlet-speakers", "656 speeches of 4 speakers, median 10 words, longest 461, "
         "truncated at max_length 64", hamlet_by_speaker, "speech", "speaker",
         {"max_length": 64}),
    Case("reviews-rare-class", "900 review snippets and synopses, 3 classes, the synopses 3% "
         "(string labels)", reviews_with_rare_plots, "review", "verdict"),
    Case("reviews-binary", "2,400 review snippets, 2 classes in the corpus's proportions",
         reviews_binary, "text", "sentiment"),
)


def write_case(case: Case, folder: Path) -> Path:
    """Write ``case``'s CSV into ``folder``; return its path."""
    path = (folder / f"{case.name}.csv").resolve()
    case.build().to_csv(path, index=False)
    return path


def lesson_parameters(case: Case, csv: Path, lesson: str) -> dict:
    """Return the papermill parameters of lesson ``"04"`` or ``"05"`` for one case."""
    small = LESSON_04_SMALL if lesson == "04" else LESSON_05_SMALL
    return {"data_path": str(csv), "text_column": case.text_column,
            "label_column": case.label_column, **small, **case.parameters}


def problems(case: Case, metrics_04: dict, metrics_05: dict) -> list[str]:
    """Return what is wrong with one case's results (empty: fine-tuning held its own, honestly).

    The fine-tune is not worse than the frozen head beyond the paired noise (McNemar's exact
    test on the texts only one of the two gets right); both beat the majority class; lesson 05
    read lesson 04's result and printed the verdict its numbers give.
    """
    found = []
    n_test, tuned = metrics_05["n_test"], metrics_05["finetune_accuracy"]
    frozen, majority = metrics_04["frozen_head_accuracy"], metrics_05["majority_accuracy"]
    if metrics_05.get("frozen_head_accuracy") != frozen:
        found.append(f"lesson 05 read frozen head {metrics_05.get('frozen_head_accuracy')}, "
                     f"lesson 04 recorded {frozen}")
    for name, accuracy in (("fine-tuned", tuned), ("frozen head", frozen)):
        if accuracy <= majority:
            found.append(f"{name} {accuracy:.3f} does not beat the majority class {majority:.3f}")
    found += verdict_problems(metrics_05, n_test, tuned, frozen)
    return [f"{case.name}: {problem}" for problem in found]


def verdict_problems(metrics_05: dict, n_test: int, tuned: float, frozen: float) -> list[str]:
    """Return how lesson 05's fine-tuned-vs-frozen verdict disagrees with its recorded counts."""
    counts = metrics_05.get("finetune_vs_frozen_counts")
    printed = metrics_05.get("finetune_vs_frozen")
    if not counts:
        return [f"lesson 05 recorded no paired counts (printed {printed!r})"]
    only_tuned, only_frozen = counts["only_finetuned_right"], counts["only_frozen_right"]
    found = []
    if abs((only_tuned - only_frozen) / n_test - (tuned - frozen)) > 1e-3:
        found.append(f"lesson 05's counts ({only_tuned} texts only the fine-tune gets right, "
                     f"{only_frozen} only the frozen head) do not give its accuracies "
                     f"{tuned:.4f} and {frozen:.4f}")
    verdict, _ = mcnemar_verdict(only_tuned, only_frozen)
    if printed != verdict:
        found.append(f"lesson 05 printed {printed!r}, its numbers say {verdict!r}")
    if verdict == "worse":
        found.append(f"fine-tuned {tuned:.3f} is worse than the frozen head {frozen:.3f} beyond "
                     f"the paired noise ({only_tuned} texts only the fine-tune gets right, "
                     f"{only_frozen} only the frozen head)")
    return found


def summary_row(case: Case, frame: pd.DataFrame, metrics_04: dict, metrics_05: dict) -> dict:
    """Return one row of the README's table from the two lessons' recorded metrics."""
    return {"csv": case.name, "rows": len(frame), "classes": frame[case.label_column].nunique(),
            "majority": metrics_05["majority_accuracy"],
            "tfidf": metrics_04["tfidf_accuracy"],
            "frozen_head": metrics_04["frozen_head_accuracy"],
            "fine_tuned": metrics_05["finetune_accuracy"],
            "verdict": metrics_05.get("finetune_vs_frozen", "missing"),
            "finetune_seconds": metrics_05["finetune_seconds"]}


def main() -> None:
    """Run lessons 04 and 05 on every case and print the README's markdown table."""
    import os

    from ..record import read_metrics
    from .runner import NOTEBOOK_DIR, run_notebook, select_notebooks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=course_folder("runs") / "csv-suite")
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    args.out = args.out.absolute()  # the kernels run in notebooks/
    rows, failures = [], []
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        folder = args.out / case.name
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["COURSE_ARTIFACTS"] = str(folder / "artifacts")
        csv = write_case(case, folder)
        metrics = {}
        for lesson in ("04", "05"):
            (notebook,) = select_notebooks([lesson], NOTEBOOK_DIR)
            output = folder / notebook.name
            result = run_notebook(notebook, output, lesson_parameters(case, csv, lesson),
                                  progress=False)
            if result.status != "ok":
                raise SystemExit(f"{case.name}: lesson {lesson} failed: {result.error} ({output})")
            metrics[lesson] = read_metrics(output)
        rows.append(summary_row(case, pd.read_csv(csv), metrics["04"], metrics["05"]))
        failures += problems(case, metrics["04"], metrics["05"])
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(markdown_table([{key: f"{value:.3f}" if isinstance(value, float) else value
                          for key, value in row.items()} for row in rows]))
    if failures:
        raise SystemExit("\n".join(["The suite failed:"] + failures))


if __name__ == "__main__":
    main()
