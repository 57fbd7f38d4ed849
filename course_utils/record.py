"""Record the numbers a notebook reports, so the batch runner and the tests can read them.

``record(name, value)`` prints the value and stores it in the cell's output metadata
under ``course_metric`` (``METRIC_KEY``); ``read_metrics(path)`` reads them back
from an executed notebook. Values are JSON numbers, strings, booleans, or a flat dict of those.

Example::

    >>> record("tokenize_speedup", 31.4)       # doctest: +SKIP
    tokenize_speedup = 31.4
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

METRIC_KEY = "course_metric"  # output metadata of record(name, value)


def _plain(value: Any) -> Any:
    """Return ``value`` as a JSON-friendly Python scalar (numpy and torch scalars included)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Cannot record a non-finite number: {value}.")
        return value
    raise TypeError(f"record() takes a number, string or bool, not {type(value).__name__}.")


def _in_notebook() -> bool:
    """Return True inside an IPython kernel, where outputs carry metadata."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _rounded(value: Any, digits: int) -> Any:
    """Return a recordable value, floats rounded; a flat dict of scalars is allowed."""
    if isinstance(value, dict):
        return {str(k): _rounded(_plain(v), digits) for k, v in value.items()}
    value = _plain(value)
    return round(value, digits) if isinstance(value, float) else value


def record(name: str, value: Any, digits: int = 4) -> None:
    """Store ``value`` (a number, string, bool or flat dict of them) under ``name`` and show it."""
    if not name.isidentifier():
        raise ValueError(f"Metric names are identifiers like 'test_accuracy', not {name!r}.")
    value = _rounded(value, digits)
    if not _in_notebook():
        print(f"{name} = {value!r}")
        return
    from IPython.display import display

    display({"text/plain": f"{name} = {value!r}"},
            metadata={METRIC_KEY: {"name": name, "value": value}}, raw=True)


def read_metrics(notebook: str | Path) -> dict[str, Any]:
    """Return every metric recorded in an executed notebook, by name (last value wins)."""
    return recorded_metrics(json.loads(Path(notebook).read_text(encoding="utf-8")))


def recorded_metrics(nb: dict[str, Any]) -> dict[str, Any]:
    """Return every metric recorded in an executed notebook already read, by name."""
    metrics: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            entry = output.get("metadata", {}).get(METRIC_KEY)
            if entry:
                metrics[entry["name"]] = entry["value"]
    return metrics
