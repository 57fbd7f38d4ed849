"""The papermill parameters each lesson is graded with: less data, fewer steps, same code paths.

The checks test the learner's code, not the final accuracy, so grading runs each lesson
on small values of its own ``parameters`` cell (the values the lesson tests use).
``grading_parameters("03")`` returns them after checking that the lesson's notebook still
declares every name (``papermill.inspect_notebook``): a renamed parameter fails loudly
instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..notebook import NotebookError, course_folder, select_notebooks

GRADING_PARAMETERS: dict[str, dict[str, Any]] = {
    "01": {"max_examples": 400, "compare_examples": 200},
    "02": {"max_steps": 20, "eval_every": 10, "heldout_blocks": 32},
    "03": {"max_length": 64},
    "04": {"max_examples": 400, "head_epochs": 3, "compare_examples": 32, "compare_epochs": 1},
    "05": {"max_examples": 400, "max_length": 64, "epochs": 1.0, "comparison_examples": 100,
           "frozen_demo_examples": 64},
    "06": {"max_train_lines": 600, "frozen_epochs": 1, "finetune_epochs": 1},
    "07": {"serving_texts": 32, "latency_calls": 4, "accuracy_texts": 100, "repeats": 1,
           "fallback_examples": 96},
}


def declared_parameters(notebook: Path) -> set[str]:
    """Return the names the ``parameters`` cell of ``notebook`` declares."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def grading_parameters(lesson: str, notebooks: Path | None = None) -> dict[str, Any]:
    """Return the grading parameters of ``lesson``; raise if the lesson no longer declares one."""
    values = dict(GRADING_PARAMETERS.get(lesson, {}))
    if not values:
        return values
    folder = Path(notebooks) if notebooks is not None else course_folder("notebooks")
    try:
        (notebook,) = select_notebooks([lesson], folder)
    except NotebookError:
        return values  # an installed copy without the lessons: nothing to check against
    unknown = sorted(set(values) - declared_parameters(notebook))
    if unknown:
        raise NotebookError(f"The grading parameters of lesson {lesson} name {', '.join(unknown)}, "
                            f"which {notebook.name} no longer declares: update "
                            f"GRADING_PARAMETERS in {Path(__file__).name}.")
    return values
