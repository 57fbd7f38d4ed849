"""One Markdown table writer for the machinery's reports (pandas' ``to_markdown``, tabulate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def markdown_cell(value: Any, limit: int | None = 200) -> str:
    """Return ``value`` as one table cell: floats to 6 significant digits, no ``|`` or newline,
    at most ``limit`` characters (None: all of it)."""
    text = f"{value:.6g}" if isinstance(value, float) else "" if value is None else str(value)
    return text.replace("|", "/").replace("\n", " ")[:limit]


def markdown_table(rows: Sequence[Mapping[str, Any]], cell_limit: int | None = 200) -> str:
    """Return ``rows`` (one mapping per row, the first's keys as the header) as a Markdown table.

    Cells are written as ``markdown_cell`` gives them, cut at ``cell_limit`` characters (format
    a float beforehand to show it otherwise); an empty ``rows`` gives an empty string.
    """
    import pandas as pd

    if not rows:
        return ""
    frame = pd.DataFrame([{key: markdown_cell(value, cell_limit) for key, value in row.items()}
                          for row in rows])
    return frame.to_markdown(index=False, disable_numparse=True)
