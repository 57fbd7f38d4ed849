"""CSVs of different shapes, built from the course's own data, for lessons 04 and 05.

Each case varies what a learner's CSV varies: size, number of classes (one of them rare),
text length (short snippets, long speeches truncated at ``max_length``), label type (strings,
-1/0/1) and column names. ``tests/test_csv_suite.py`` runs lessons 04 and 05 on each; run this
file to print the README's table from a fresh run (``make csv-suite``, about 5 minutes)::

    .venv/bin/python tests/csv_suite.py --out runs/csv-suite
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course_utils.corpora import hamlet_speeches, load_reviews  # noqa: E402

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
    """Return 1,200 reviews: fresh and rotten snippets, and 40 plot synopses (a rare class)."""
    reviews = load_reviews(("fresh", "rotten", "plot"))
    parts = [_sample(reviews[reviews["label"] == "fresh"], 600, 1),
             _sample(reviews[reviews["label"] == "rotten"], 560, 2),
             _sample(reviews[reviews["label"] == "plot"], 40, 3)]
    frame = pd.concat(parts).sample(frac=1.0, random_state=4)
    return frame.rename(columns={"text": "review", "label": "verdict"})[["review", "verdict"]]


def reviews_signed() -> pd.DataFrame:
    """Return 600 texts labelled -1 (rotten), 0 (plot synopsis) and 1 (fresh), 200 of each."""
    reviews = load_reviews(("fresh", "rotten", "plot"))
    signs = {"rotten": -1, "plot": 0, "fresh": 1}
    parts = [_sample(reviews[reviews["label"] == name], 200, 10 + sign)
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
    Case("reviews-rare-class", "1,200 review snippets, 3 classes, the third 3% (string labels)",
         reviews_with_rare_plots, "review", "verdict"),
    Case("reviews-signed", "600 snippets and synopses, labels -1/0/1, balanced",
         reviews_signed, "sentence", "polarity"),
    Case("reviews-binary", "2,400 review snippets, 2 classes",
         reviews_binary, "text", "sentiment"),
    Case("hamlet-speakers", "656 speeches of 4 speakers, median 10 words, longest 461, "
         "truncated at max_length 64", hamlet_by_speaker, "speech", "speaker",
         {"max_length": 64}),
)


def write_case(case: Case, folder: Path) -> Path:
    """Write ``case``'s CSV into ``folder``; return its path."""
    path = folder / f"{case.name}.csv"
    case.build().to_csv(path, index=False)
    return path


def lesson_parameters(case: Case, csv: Path, lesson: str) -> dict:
    """Return the papermill parameters of lesson ``"04"`` or ``"05"`` for one case."""
    small = LESSON_04_SMALL if lesson == "04" else LESSON_05_SMALL
    return {"data_path": str(csv), "text_column": case.text_column,
            "label_column": case.label_column, **small, **case.parameters}


def summary_row(case: Case, frame: pd.DataFrame, metrics_04: dict, metrics_05: dict) -> dict:
    """Return one row of the README's table from the two lessons' recorded metrics."""
    return {"csv": case.name, "rows": len(frame), "classes": frame.iloc[:, 1].nunique(),
            "majority": metrics_05["majority_accuracy"],
            "tfidf": metrics_04["tfidf_accuracy"],
            "frozen_head": metrics_04["frozen_head_accuracy"],
            "fine_tuned": metrics_05["finetune_accuracy"],
            "verdict": metrics_05.get("finetune_vs_frozen", "missing"),
            "finetune_seconds": metrics_05["finetune_seconds"]}


def markdown_table(rows: list[dict]) -> str:
    """Return ``rows`` as a markdown table, accuracies with three decimals."""
    header = list(rows[0])
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main() -> None:
    """Run lessons 04 and 05 on every case and print the README's markdown table."""
    import os

    from course_utils.record import read_metrics
    from course_utils.runner import NOTEBOOK_DIR, run_notebook, select_notebooks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "csv-suite")
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    rows = []
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
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
