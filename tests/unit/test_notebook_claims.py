"""Numbers in a lesson's prose come from its run, or are facts the test names with their source.

A result typed into markdown drifts the day the code changes; a number printed by a cell does
not. So every number the markdown quotes (decimals, percentages, thousands, any number of three
digits or more, outside code spans and links) must appear in the notebook's own code or stored
outputs (a percentage also as its fraction: "15%" as 0.15), or be listed below with where it
comes from. Exercise ids ("05.1"), years and source lesson names ("lesson 002") are not claims.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Facts from outside the run, quoted in the prose: {lesson: {number: where it comes from}}.
QUOTED = {
    "01": {"30,000": "BERT's WordPiece vocabulary, about 30,000 entries (Devlin et al., 2019)",
           "40%": "DistilBERT's size against BERT's (Sanh et al., 2019), cited in the prose",
           "60%": "DistilBERT's speed against BERT's (Sanh et al., 2019), cited in the prose",
           "97%": "DistilBERT's GLUE score against BERT's (Sanh et al., 2019), cited in the prose"},
    "02": {"3.3": "BERT's pretraining corpus, 3.3 billion words (Devlin et al., 2019)"},
    "03": {"1,000": "the batch size of datasets' Dataset.map(batched=True) by default"},
    "05": {"9,000": "the reviews' training split, rounded (lesson 03 prints its size)"},
}
NUMBER = re.compile(r"(?<![\w.\-/])(\d+(?:\.\d+)?%|\d{1,3}(?:,\d{3})+|\d+\.\d+|\d{3,})(?!\w)")
NOT_CLAIMS = re.compile(r"^(0\d\.\d+|(19|20)\d\d)$")        # exercise ids, years


def _text(output: dict) -> str:
    data = output.get("data", {})
    parts = [output.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", "")]
    return " ".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


def claims(markdown: str) -> list[str]:
    """Return the numbers a markdown cell states, outside code spans, links and lesson names."""
    prose = re.sub(r"\]\([^)]*\)", "]", markdown)          # link targets
    prose = re.sub(r"`[^`]*`", "", prose)                   # code spans
    prose = re.sub(r"lessons? \d{3}", "", prose)            # the source lessons' names
    return [n for n in NUMBER.findall(prose) if not NOT_CLAIMS.match(n)]


def forms(number: str) -> set[str]:
    """Return the ways code or output may write ``number`` ("15%" also as 0.15)."""
    plain = number.rstrip("%")
    written = {number, plain, plain.replace(",", "")}
    if number.endswith("%"):
        fraction = float(plain) / 100
        written |= {f"{fraction:g}", repr(fraction)}
    return written


def stated(number: str, run: str) -> bool:
    """Return whether the run's code or outputs write ``number`` as a whole number, in any form."""
    return any(re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", run) for form in forms(number))


def test_the_claim_finder_sees_what_a_learner_reads():
    text = ("Accuracy 0.8173 (81.7%) on 2,551 texts, like source lesson 002 in 2019; "
            "exercise 05.1; `max_length=512`; [link](https://x.org/3.14).")
    assert claims(text) == ["0.8173", "81.7%", "2,551"]
    assert forms("15%") >= {"15%", "15", "0.15"}
    assert stated("0.83", "accuracy 0.83 on") and not stated("0.83", "accuracy 0.832 on")
    assert stated("15%", "mlm_probability=0.15") and not stated("2,551", "2,5510")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_comes_from_the_run_or_a_named_source(path):
    cells = json.loads(path.read_text())["cells"]
    run = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    run += " ".join(_text(output) for c in cells if c["cell_type"] == "code"
                    for output in c.get("outputs", []))
    quoted = QUOTED.get(path.stem[:2], {})
    unexplained = sorted({n for c in cells if c["cell_type"] == "markdown"
                          for n in claims("".join(c["source"]))
                          if n not in quoted and not stated(n, run)})
    assert not unexplained, (
        f"{path.name}: the prose states {unexplained}, which neither its code nor its outputs "
        "contain: print the number from the run (and refer to it), or, for a fact from a paper or "
        "a library, add it to QUOTED with its source")
    stale = sorted(set(quoted) - {n for c in cells if c["cell_type"] == "markdown"
                                  for n in claims("".join(c["source"]))})
    assert not stale, f"{path.name}: QUOTED lists {stale}, which the prose no longer states"
