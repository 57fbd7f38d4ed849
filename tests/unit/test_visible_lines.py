"""The line a lesson is about is on the page: each call below appears in its lesson's code cells.

A helper may still do the same job in later lessons; here the learner sees the call itself.
"""

from __future__ import annotations

import json
import re

import pytest

from course_utils.tools.lessons import lesson_notebooks

# lesson -> (what the learner must see, a pattern over the lesson's code cells)
VISIBLE = {
    "01": [
        ("the Auto class families, built from small configs",
         r"AutoModelForMaskedLM\b[\s\S]*AutoModelForCausalLM\b[\s\S]*AutoModelForSeq2SeqLM\b"),
        ("a model built from a config, without weights", r"\.from_config\("),
    ],
    "02": [
        ("the masked-LM loss from the model call", r"model\(\*\*\w+\)\.loss"),
    ],
    "03": [
        ("load_dataset on the CSV", r"load_dataset\(\s*[\"']csv[\"']"),
        ("a DatasetDict", r"DatasetDict\b"),
        ("the ClassLabel feature", r"ClassLabel\b"),
        ("stratified train_test_split, twice",
         r"train_test_split\([^)]*stratify[\s\S]*train_test_split\([^)]*stratify"),
    ],
    "04": [
        ("loading the pretrained encoder", r"AutoModel\.from_pretrained\("),
        ("freezing its parameters", r"requires_grad\w*\(\s*False\s*\)|requires_grad\s*=\s*False"),
        ("the head's training loop", r"for [\s\S]*loss\.backward\(\)[\s\S]*optimizer\.step\(\)"),
    ],
    "05": [
        ("saving the model", r"\bmodel\w*\.save_pretrained\("),
        ("saving the tokenizer", r"tokenizer\.save_pretrained\("),
        ("tokenizing with Dataset.map", r"\.map\("),
    ],
    "06": [
        ("the tagger class", r"class \w+\((?:torch\.)?nn\.Module\)"),
    ],
    "07": [
        ("one text per pipeline call", r"classifier\(text\)"),
        ("PyTorch's dynamic int8 quantization", r"torch\.ao\.quantization\.quantize_dynamic\("),
        ("the ONNX export", r"torch\.onnx\.export\("),
        ("ONNX Runtime's own quantizer", r"(?m)^\s*quantize_dynamic\(onnx_path"),
    ],
}


def _code(lesson: str) -> str:
    (path,) = [p for p in lesson_notebooks() if p.name.startswith(f"{lesson}_")]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("lesson,what,pattern",
                         [(lesson, what, pattern) for lesson, rows in VISIBLE.items()
                          for what, pattern in rows])
def test_the_lessons_key_line_is_in_its_code_cells(lesson, what, pattern):
    assert re.search(pattern, _code(lesson)), f"lesson {lesson} should show {what} in a code cell"
