"""Read the rows of Markdown tables back, for tests of the reports that write them."""

from __future__ import annotations


def table_rows(markdown: str) -> list[list[str]]:
    """Return every table row of ``markdown`` as its stripped cells (separator rows left out)."""
    rows = []
    for line in markdown.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [cell.strip() for cell in line[1:-1].split("|")]
        if all(set(cell) <= set(":-") and cell for cell in cells):
            continue
        rows.append(cells)
    return rows
