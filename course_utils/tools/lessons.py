"""The one registry of per-lesson facts, and finding the lesson notebooks.

Every fact about one lesson lives in ``LESSONS``: its notebook file, title, whether it reads a
CSV of the learner's, its small parameters (the values tests, grading, the CSV suite and the
runtime tests use: less data, fewer steps, the same code paths), its time budget on a 2-core
CPU, and the lessons whose artifacts it reads. The Makefile reaches them through
``python -m course_utils run --small``.

Example::

    >>> LESSONS["05"].depends_on
    ('02', '04')
    >>> small_parameters("03")
    {'max_length': 64}
    >>> with_dependencies(["07"])
    ['02', '04', '05', '07']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_PARENT = Path(__file__).resolve().parents[2]
LESSON_PREFIX = re.compile(r"^(?P<lesson>\d\d)_")


class NotebookError(ValueError):
    """Bad input about notebooks (a selector, a parameter, a path), explained with a fix."""


@dataclass(frozen=True)
class Lesson:
    """One lesson's facts: ``small`` are its small parameters, ``budget_s`` its time on 2 cores."""

    number: str
    file: str
    title: str
    budget_s: int
    small: dict[str, Any] = field(default_factory=dict)
    reads_csv: bool = False
    depends_on: tuple[str, ...] = ()


LESSONS: dict[str, Lesson] = {lesson.number: lesson for lesson in (
    Lesson("01", "01_tokenization.ipynb", "Tokenization", 60,
           {"max_examples": 400, "compare_examples": 200}),
    Lesson("02", "02_masked_language_modelling.ipynb", "Masked language modelling", 240,
           {"max_steps": 20, "eval_every": 10, "heldout_blocks": 32}),
    Lesson("03", "03_your_own_data.ipynb", "Your own data", 60,
           {"max_length": 64}, reads_csv=True),
    Lesson("04", "04_frozen_backbone_head.ipynb", "Frozen backbone, your own head", 150,
           {"max_examples": 400, "head_epochs": 3, "compare_examples": 32, "compare_epochs": 1},
           reads_csv=True),
    Lesson("05", "05_fine_tuning.ipynb", "Fine-tuning", 360,
           {"max_examples": 400, "max_length": 64, "epochs": 1.0, "comparison_examples": 100,
            "frozen_demo_examples": 64}, reads_csv=True, depends_on=("02", "04")),
    Lesson("06", "06_token_tagging.ipynb", "Token tagging", 150,
           {"max_train_lines": 600, "frozen_epochs": 1, "finetune_epochs": 1}),
    Lesson("07", "07_serving_fast.ipynb", "Serving fast", 150,
           {"serving_texts": 32, "latency_calls": 4, "accuracy_texts": 100, "repeats": 1,
            "calibration_texts": 32, "drift_texts": 16, "fallback_examples": 96},
           depends_on=("05",)),
    Lesson("08", "08_few_labels.ipynb", "Few labels: frozen features, LoRA and SetFit", 150,
           {"labels_per_class": 8, "max_steps": 8, "setfit_iterations": 1,
            "setfit_max_steps": 4}, reads_csv=True),
)}
CSV_LESSONS = tuple(n for n, lesson in LESSONS.items() if lesson.reads_csv)


def with_dependencies(lessons: list[str]) -> list[str]:
    """Return ``lessons`` and every lesson whose artifacts they read (transitively), in order."""
    needed: set[str] = set()
    pending = list(lessons)
    while pending:
        lesson = pending.pop()
        if lesson not in needed:
            needed.add(lesson)
            pending.extend(LESSONS[lesson].depends_on if lesson in LESSONS else ())
    return sorted(needed)


def checkout_root() -> Path | None:
    """Return the repository checkout holding this package, or None for an installed copy."""
    is_checkout = (PACKAGE_PARENT / "pyproject.toml").is_file() and \
        (PACKAGE_PARENT / "notebooks").is_dir()
    return PACKAGE_PARENT if is_checkout else None


def course_folder(name: str) -> Path:
    """Return ``name`` (``notebooks``, ``runs``) in the checkout, else in the current folder."""
    return (checkout_root() or Path.cwd()) / name


def lesson_of(path: Path) -> str | None:
    """Return the lesson number a notebook's file name starts with ("01_x.ipynb" -> "01")."""
    match = LESSON_PREFIX.match(Path(path).name)
    return match.group("lesson") if match else None


def lesson_notebooks(folder: Path | None = None) -> list[Path]:
    """Return the numbered lesson notebooks (``NN_*.ipynb``) of ``folder``, in order."""
    folder = Path(folder) if folder is not None else course_folder("notebooks")
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(only: list[str] | None, folder: Path | None = None) -> list[Path]:
    """Return the notebooks whose number or name matches a selector ("01", "02_masked...")."""
    folder = Path(folder) if folder is not None else course_folder("notebooks")
    available = lesson_notebooks(folder)
    if not available:
        raise NotebookError(f"No lesson notebooks (NN_*.ipynb) in {folder}: run from the "
                            "course's folder or pass the folder of the notebooks.")
    if not only:
        return available
    chosen: list[Path] = []
    for selector in only:
        matches = [p for p in available if selector in (p.stem, lesson_of(p))]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise NotebookError(f"No notebook matches {selector!r}. Use a number or a name: "
                                f"{names}.")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


def declared_parameter_names(notebook: Path) -> set[str]:
    """Return the names the ``parameters`` cell of ``notebook`` declares (papermill)."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def small_parameters(lesson: str, notebooks: Path | None = None) -> dict[str, Any]:
    """Return the small parameters of ``lesson``; raise if its notebook no longer declares one.

    A renamed parameter fails loudly instead of being ignored. An installed copy without the
    lessons has nothing to check against and gets the registry's values.
    """
    if lesson not in LESSONS:
        return {}
    values = dict(LESSONS[lesson].small)
    folder = Path(notebooks) if notebooks is not None else course_folder("notebooks")
    try:
        (notebook,) = select_notebooks([lesson], folder)
    except NotebookError:
        return values
    unknown = sorted(set(values) - declared_parameter_names(notebook))
    if unknown:
        raise NotebookError(f"The small parameters of lesson {lesson} name {', '.join(unknown)}, "
                            f"which {notebook.name} no longer declares: update LESSONS in "
                            f"{Path(__file__).name}.")
    return values
