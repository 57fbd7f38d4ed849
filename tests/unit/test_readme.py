"""The numbers the README quotes are the ones the committed notebooks recorded."""

import re
from pathlib import Path

from course_utils.record import read_metrics
from course_utils.tools.runner import lesson_notebooks

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (\d\d) \| (.+?) \| ([\d.]+(?: → [\d.]+)?) \|$")


def test_readme_results_table_matches_the_recorded_metrics():
    notebooks = {p.stem[:2]: p for p in lesson_notebooks()}
    quoted = 0
    for line in (ROOT / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if not match:
            continue
        lesson, names_cell, values_cell = match.groups()
        names = re.findall(r"`(\w+)`", names_cell)
        values = [v.strip() for v in values_cell.split("→")]
        metrics = read_metrics(notebooks[lesson])
        assert len(names) == len(values), line
        for name, value in zip(names, values):
            assert float(value) == metrics[name], (f"README says {name} = {value}, lesson "
                                                   f"{lesson} recorded {metrics[name]}")
            quoted += 1
    assert quoted >= 10
