"""The README's measured sections, written from what the committed notebooks recorded.

Numbers that change with every run are never typed into the README: they sit between
``<!-- generated: NAME -->`` and ``<!-- /generated -->`` markers, and ``python -m course_utils
readme`` rewrites them (``make notebooks`` does it after re-executing the lessons; ``--check``
changes nothing and exits 1 when a section is stale, which a test runs):

- ``lesson-metrics``: the headline numbers each lesson records with ``course_utils.record``;
- ``lesson-times``: each lesson's measured seconds, from ``docs/lesson_times.json``, which
  ``make notebooks`` writes with the CPU it ran on.

Example::

    >>> stale_sections(Path("README.md"))            # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..atomic import write_text_atomically
from ..record import read_metrics
from ..seeds import flat_metrics
from .lessons import LESSONS, course_folder, lesson_notebooks
from .tables import markdown_table

SECTION = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)",
                     re.DOTALL)
TIMES_FILE = Path("docs") / "lesson_times.json"

# (lesson, metric names shown as "a → b", what they are)
METRIC_ROWS: list[tuple[str, tuple[str, ...], str]] = [
    ("01", ("tokenize_speedup",),
     "batched fast tokenizer vs per-text pure-Python loop padding to 512"),
    ("02", ("mlm_top5_before", "mlm_top5_after"), "held-out masked tokens, top-5 accuracy"),
    ("02", ("mlm_train_seconds",), "seconds of masked-LM training"),
    ("04", ("tfidf_accuracy",), "TF-IDF + logistic regression, test accuracy"),
    ("04", ("frozen_head_accuracy",), "frozen MiniLM + your own head, test accuracy"),
    ("04", ("cache_speedup",), "cached features vs the encoder in every epoch"),
    ("05", ("finetune_accuracy",), "full fine-tuning, test accuracy"),
    ("05", ("finetune_seconds",), "seconds of fine-tuning (validation included)"),
    ("06", ("tagging_majority_baseline", "tagging_accuracy"),
     "token tagging: majority letter → fine-tuned tagger (real tokens only)"),
    ("07", ("serving_speedup",), "the served recipe against one text per call"),
    ("07", ("serving_agreement",), "the served recipe's labels vs the fp32 model's"),
    ("08", ("accuracy.frozen",), "32 labelled texts per class: frozen encoder + logistic "
                                 "regression, test accuracy"),
    ("08", ("accuracy.setfit",), "32 labelled texts per class: SetFit, test accuracy"),
    ("08", ("accuracy.finetune",), "32 labelled texts per class: full fine-tuning, test accuracy"),
    ("08", ("accuracy.lora",), "32 labelled texts per class: LoRA, test accuracy"),
    ("08", ("adapter_bytes",), "LoRA's adapter on disk, bytes"),
]


class ReadmeError(ValueError):
    """A generated section cannot be written: a metric or a marker is missing."""


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def metrics_table(notebooks: Path | None = None) -> str:
    """Return the Markdown table of the lessons' recorded headline numbers."""
    found = {p.stem[:2]: p for p in lesson_notebooks(notebooks)}
    rows = []
    for lesson, names, about in METRIC_ROWS:
        if lesson not in found:
            continue
        metrics = flat_metrics(read_metrics(found[lesson]))     # a dict's entries as name.key
        missing = [name for name in names if name not in metrics]
        if missing:
            raise ReadmeError(f"lesson {lesson} no longer records {', '.join(missing)}: update "
                              f"METRIC_ROWS in {Path(__file__).name}.")
        shown = " → ".join(f"`{name}`" for name in names)
        values = " → ".join(_value(metrics[name]) for name in names)
        rows.append({"lesson": lesson, "number": f"{shown} ({about})", "value": values})
    return markdown_table(rows, cell_limit=None) + "\n"


def times_table(times_file: Path | None = None) -> str:
    """Return the Markdown table of each lesson's measured time, with the machine it ran on."""
    path = times_file or course_folder(".") / TIMES_FILE
    if not path.is_file():
        raise ReadmeError(f"No {path}: run `make notebooks`, which measures the lessons.")
    record = json.loads(path.read_text())
    rows, total = [], 0.0
    for lesson in sorted(record["seconds"]):
        seconds = float(record["seconds"][lesson])
        total += seconds
        title = LESSONS[lesson].title if lesson in LESSONS else lesson
        rows.append({"lesson": f"{lesson} {title}", "seconds (2-core CPU)": f"{seconds:.0f}"})
    rows.append({"lesson": "all lessons", "seconds (2-core CPU)":
                 f"{total:.0f} ({total / 60:.1f} min)"})
    machine = f"Measured by `make notebooks` on: {record['machine']}."
    return markdown_table(rows, cell_limit=None) + f"\n\n{machine}\n"


def write_times(seconds: dict[str, float], machine: str, times_file: Path | None = None) -> Path:
    """Record each lesson's seconds (merged into what is there) and the machine; return the path."""
    path = times_file or course_folder(".") / TIMES_FILE
    record = json.loads(path.read_text()) if path.is_file() else {"seconds": {}}
    record["seconds"].update({k: round(float(v), 1) for k, v in seconds.items()})
    record["machine"] = machine
    write_text_atomically(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


GENERATORS = {"lesson-metrics": metrics_table, "lesson-times": times_table}


def regenerated(text: str) -> str:
    """Return ``text`` with every generated section written anew."""
    names = [m.group("name") for m in SECTION.finditer(text)]
    unknown = sorted(set(names) - set(GENERATORS))
    if unknown:
        raise ReadmeError(f"Unknown generated section(s) {unknown}: known are "
                          f"{sorted(GENERATORS)}.")
    return SECTION.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + m.group(4), text)


def stale_sections(readme: Path) -> list[str]:
    """Return the names of the sections of ``readme`` that differ from a fresh generation."""
    text = readme.read_text(encoding="utf-8")
    fresh = regenerated(text)
    old = {m.group("name"): m.group("body") for m in SECTION.finditer(text)}
    new = {m.group("name"): m.group("body") for m in SECTION.finditer(fresh)}
    return [name for name in old if old[name] != new[name]]


def update_readme(readme: Path) -> bool:
    """Rewrite the generated sections of ``readme``; return whether anything changed."""
    text = readme.read_text(encoding="utf-8")
    fresh = regenerated(text)
    if fresh != text:
        write_text_atomically(readme, fresh)
    return fresh != text
