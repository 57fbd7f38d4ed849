"""The README's measured sections are the ones the committed notebooks and make notebooks wrote."""

import json
from pathlib import Path

import pytest

from course_utils.tools import readme

ROOT = Path(__file__).resolve().parents[2]


def test_readme_generated_sections_match_the_committed_notebooks():
    text = (ROOT / "README.md").read_text()
    assert "<!-- generated: lesson-metrics -->" in text
    assert "<!-- generated: lesson-times -->" in text
    assert readme.stale_sections(ROOT / "README.md") == [], \
        "run `.venv/bin/python -m course_utils readme` (make notebooks does it)"


def test_every_lesson_has_a_measured_time():
    record = json.loads((ROOT / readme.TIMES_FILE).read_text())
    lessons = {p.stem[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert set(record["seconds"]) == lessons and record["machine"]


def test_a_stale_section_is_found_and_rewritten(tmp_path):
    times = tmp_path / "times.json"
    readme.write_times({"01": 17.04, "02": 186.0}, "a test CPU", times)
    readme.write_times({"02": 190.0}, "another CPU", times)
    assert json.loads(times.read_text()) == {"machine": "another CPU",
                                             "seconds": {"01": 17.0, "02": 190.0}}
    table = readme.times_table(times)
    assert "02 Masked language modelling" in table and "207 (3.5 min)" in table
    page = tmp_path / "README.md"
    page.write_text("intro\n<!-- generated: lesson-metrics -->\nold\n<!-- /generated -->\nend\n")
    assert readme.stale_sections(page) == ["lesson-metrics"]
    assert readme.update_readme(page) and readme.stale_sections(page) == []
    assert page.read_text().startswith("intro\n") and page.read_text().endswith("end\n")
    assert "`tokenize_speedup`" in page.read_text()


def test_an_unknown_section_or_a_lost_metric_is_named(tmp_path, monkeypatch):
    page = tmp_path / "README.md"
    page.write_text("<!-- generated: lesson-secrets -->\n<!-- /generated -->\n")
    with pytest.raises(readme.ReadmeError, match="lesson-secrets"):
        readme.update_readme(page)
    monkeypatch.setattr(readme, "METRIC_ROWS", [("01", ("no_such_metric",), "x")])
    with pytest.raises(readme.ReadmeError, match="no longer records no_such_metric"):
        readme.metrics_table()
