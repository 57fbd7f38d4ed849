"""Every lesson follows the course's conventions (CONTRIBUTING.md)."""

import json
import re
from pathlib import Path

import pytest

from course_utils.record import read_metrics
from course_utils.tools.headers import BADGE_IMAGE, INSTALL, ROLE_KEY, colab_url, repository_url
from course_utils.tools.runner import lesson_notebooks

NOTEBOOKS = lesson_notebooks()
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?%|(?<![\w.])\d+\.\d+(?![\w.])")
EXERCISE_ID = re.compile(r"^\d\d\.\d$")
# Numbers that markdown may state because they are facts or parameter defaults, not results.
STATIC_FACTS = {
    "01_tokenization": {"40%", "60%", "97%"},   # DistilBERT's paper, cited as such
    "02_masked_language_modelling": {"15%", "80%", "10%", "6%", "3.3", "30%"},
    "04_frozen_backbone_head": {"0.5"},
    "05_fine_tuning": {"100%", "0.01", "0.0", "95%", "99%", "5%"},   # 99%, 5%: the recipe's rules
    "07_serving_fast": {"95%"},
}
EXPECTED_METRICS = {
    "01_tokenization": {"n_texts", "suggested_max_length", "tokenize_speedup", "padding_waste"},
    "02_masked_language_modelling": {"mlm_loss_before", "mlm_loss_after", "mlm_top1_before",
                                     "mlm_top1_after", "mlm_top5_before", "mlm_top5_after",
                                     "mlm_train_seconds"},
    "03_your_own_data": {"n_train", "n_valid", "n_test", "n_classes", "n_dropped",
                         "padding_waste_fixed", "padding_waste_dynamic"},
    "04_frozen_backbone_head": {"frozen_head_accuracy", "logreg_accuracy", "tfidf_accuracy",
                                "cache_speedup", "feature_seconds", "head_train_seconds"},
    "05_fine_tuning": {"finetune_accuracy", "trainer_accuracy", "reload_agreement",
                       "finetune_seconds", "adapted_finetune_accuracy", "majority_accuracy",
                       "n_test", "frozen_head_accuracy", "finetune_vs_frozen",
                       "own_head_accuracy", "own_head_vs_pooler", "finetune_vs_tfidf"},
    "06_token_tagging": {"tagging_accuracy", "tagging_majority_baseline", "tagging_train_seconds"},
    "07_serving_fast": {"serving_speedup", "serving_agreement", "serving_accuracy",
                        "fastest_speedup", "from_lesson_05"},
    "08_few_labels": {"run_parameters", "n_labelled", "majority_accuracy", "accuracy",
                      "train_seconds", "trainable_parameters", "saved_bytes", "adapter_bytes",
                      "lora_reload_agreement", "tied_with_best", "verdicts"},
}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_every_lesson_exists():
    assert [p.stem for p in NOTEBOOKS] == sorted(EXPECTED_METRICS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_is_committed_executed_without_errors(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "re-run with `make notebooks`"
    errors = [o for c in code for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_progress_bars_keep_one_final_line_per_loop(path):
    """A stored bar is its final state, not its redraws (``notebook.final_stream_lines``)."""
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                assert "\r" not in "".join(output["text"]), "re-run with `make notebooks`"


# The main path of a lesson ends at the first of these headings; what follows is read on demand.
MAIN_PATH_END = re.compile(r"^#+\s*(Appendix|What to remember|Exercises)", re.IGNORECASE | re.M)
MAIN_PATH_WORDS = 2000


def main_path_words(cells: list[dict]) -> int:
    """Return the words of markdown from the title to "What to remember", an appendix or the
    exercises, whichever comes first (the badge cell left out)."""
    words = 0
    for cell in cells[1:]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        end = MAIN_PATH_END.search(text)
        words += len((text[:end.start()] if end else text).split())
        if end:
            break
    return words


def test_main_path_counts_words_up_to_the_first_closing_heading():
    cells = [{"cell_type": "markdown", "source": "badge words here"},
             {"cell_type": "markdown", "source": "# Title\n\none two three"},
             {"cell_type": "code", "source": "x = 1 2 3 4"},
             {"cell_type": "markdown", "source": "four five\n## Appendix: more\nsix seven"},
             {"cell_type": "markdown", "source": "eight"}]
    assert main_path_words(cells) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_lesson_reads_in_at_most_2000_words_before_its_appendix(path):
    words = main_path_words(_cells(path))
    assert words <= MAIN_PATH_WORDS, (
        f"{path.name}: {words} words of markdown before 'What to remember' (at most "
        f"{MAIN_PATH_WORDS}): move side topics to an appendix after it")


# A tqdm bar as stored: "epoch 1/1:  38%|###   | 210/558 [...]"
STORED_BAR = re.compile(r"(\d+)%\|[^|\n]*\|\s*(\d+)/(\d+)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stored_progress_bar_stops_short_of_its_end(path):
    """A bar a loop finished is stored at its end, or not at all (a bar that cleared itself)."""
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) if output.get("output_type") == "stream" else ""
            for bar in STORED_BAR.finditer(text):
                assert bar.group(2) == bar.group(3), (
                    f"cell {index} stores an unfinished bar {bar.group()!r}: re-run with "
                    "`make notebooks`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_has_the_install_cell_then_parameters_then_the_setup_cell(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert code[0]["metadata"].get(ROLE_KEY) == INSTALL, "run `python -m course_utils headers`"
    assert 'find_spec("course_utils") is None' in "".join(code[0]["source"])
    assert "parameters" in code[1]["metadata"].get("tags", [])
    assert 'profile = "offline"' in "".join(code[1]["source"])
    setup_cell = "".join(code[2]["source"])
    assert setup_cell.startswith("import course_utils") and "course_utils.setup(" in setup_cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_opens_with_its_colab_badge(path):
    first = _cells(path)[0]
    badge = (f"[![Open In Colab]({BADGE_IMAGE})]"
             f"({colab_url(repository_url(), path.name)})")
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith(badge)
    markdown = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")
    assert "OWNER/REPO" not in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_records_its_numbers(path):
    assert EXPECTED_METRICS[path.stem] <= set(read_metrics(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_quotes_no_result_numbers(path):
    """Results are printed by code from the run; markdown states only facts and defaults."""
    allowed = STATIC_FACTS.get(path.stem, set())
    quoted = {m.group().replace(" ", "") for c in _cells(path) if c["cell_type"] == "markdown"
              for m in NUMBER.finditer("".join(c["source"]))}
    assert {q for q in quoted if not EXERCISE_ID.match(q)} <= allowed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_ends_with_checked_exercises(path):
    sources = ["".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code"]
    solutions = [s for s in sources if "# BEGIN SOLUTION" in s]
    checks = re.findall(r'check\("(\d\d\.\d)"\)', "\n".join(sources))
    assert 2 <= len(solutions) <= 4 and len(checks) == len(solutions)
    assert all(c.startswith(path.stem[:2] + ".") for c in checks)
