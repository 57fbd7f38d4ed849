"""The code lessons 04 and 06 write out gives the same results as the package's copy of it.

Each lesson shows its key lines (the head's training loop, the tagger class) in a code cell; the
package keeps the same code for later lessons. These tests run the notebook's cell source next
to the package's function on the same small input, so the two copies cannot drift apart.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import TokenClassifierOutput

from course_utils.measure import Timer
from course_utils.metrics import accuracy
from course_utils.models import ClassifierHead, predict_proba, train_head
from course_utils.tagging import NUM_LABELS
from course_utils.tagging import TokenTagger as PackageTagger
from course_utils.tools.lessons import lesson_notebooks
from course_utils.training import IGNORE_INDEX, History


def _definition(lesson: str, header: str) -> str:
    """Return the source of the top-level definition starting with ``header`` in a lesson."""
    (path,) = [p for p in lesson_notebooks() if p.name.startswith(f"{lesson}_")]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    found = [s for s in sources if header in s]
    assert len(found) == 1, f"lesson {lesson} should define `{header}` in exactly one code cell"
    lines = found[0][found[0].index(header):].splitlines()
    # the definition ends at the first line that is not indented (or at the cell's end)
    return "\n".join([lines[0]] + _until_dedent(lines[1:])) + "\n"


def _until_dedent(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        kept.append(line)
    return kept


def _namespace() -> dict:
    return {"torch": torch, "F": F, "nn": nn, "copy": copy, "History": History, "Timer": Timer,
            "accuracy": accuracy, "predict_proba": predict_proba, "NUM_LABELS": NUM_LABELS,
            "IGNORE_INDEX": IGNORE_INDEX, "TokenClassifierOutput": TokenClassifierOutput}


def _notebook(lesson: str, header: str, name: str):
    namespace = _namespace()
    exec(compile(_definition(lesson, header), f"lesson {lesson}", "exec"), namespace)
    return namespace[name]


def _features(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 24, generator=generator)
    y = (x[:, 0] + 0.5 * torch.randn(n, generator=generator) > 0).long()
    return x, y


def test_lesson_04_loop_trains_the_head_exactly_as_train_head_does():
    by_hand = _notebook("04", "def train_head_by_hand(", "train_head_by_hand")
    (train_x, train_y), (valid_x, valid_y) = _features(300, 1), _features(100, 2)
    heads = []
    for _ in range(2):
        torch.manual_seed(0)
        heads.append(ClassifierHead(24, 2, hidden_size=16, dropout=0.2))
    ours = by_hand(heads[0], train_x, train_y, valid_x, valid_y, 6, 32, 1e-2, 0)
    package = train_head(heads[1], train_x, train_y, epochs=6, batch_size=32, lr=1e-2,
                         valid=(valid_x, valid_y), seed=0, keep_best=True)
    assert ours.train_loss == pytest.approx(package.train_loss, rel=1e-6)
    assert ours.valid_accuracy == package.valid_accuracy
    assert ours.best_epoch == package.best_epoch
    assert len(ours.epoch_seconds) == 6
    for (name, a), (_, b) in zip(heads[0].state_dict().items(), heads[1].state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_lesson_04_loop_differs_from_train_head_with_another_seed():
    """The comparison above can fail: another shuffling gives other numbers."""
    by_hand = _notebook("04", "def train_head_by_hand(", "train_head_by_hand")
    (train_x, train_y), (valid_x, valid_y) = _features(300, 1), _features(100, 2)
    torch.manual_seed(0)
    head = ClassifierHead(24, 2, hidden_size=16, dropout=0.2)
    twin = copy.deepcopy(head)
    ours = by_hand(head, train_x, train_y, valid_x, valid_y, 6, 32, 1e-2, 1)
    package = train_head(twin, train_x, train_y, epochs=6, batch_size=32, lr=1e-2,
                         valid=(valid_x, valid_y), seed=0, keep_best=True)
    assert ours.train_loss != pytest.approx(package.train_loss, rel=1e-6)


def _tiny_encoder() -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32,
                                max_position_embeddings=32))


@pytest.mark.parametrize("frozen", [True, False])
def test_lesson_06_tagger_class_gives_the_packages_logits_and_loss(frozen):
    NotebookTagger = _notebook("06", "class TokenTagger(nn.Module):", "TokenTagger")
    ours = NotebookTagger(_tiny_encoder(), freeze_encoder=frozen)
    package = PackageTagger(_tiny_encoder(), freeze_encoder=frozen)
    assert set(ours.state_dict()) == set(package.state_dict())
    ours.load_state_dict(package.state_dict())                  # the same weights
    input_ids = torch.randint(5, 60, (3, 7), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(input_ids)
    mask[0, 5:] = 0
    labels = torch.randint(0, NUM_LABELS, (3, 7), generator=torch.Generator().manual_seed(4))
    labels[:, 0] = labels[0, 5:] = IGNORE_INDEX
    for model in (ours, package):
        model.eval()
    a = ours(input_ids=input_ids, attention_mask=mask, labels=labels)
    b = package(input_ids=input_ids, attention_mask=mask, labels=labels)
    assert torch.allclose(a.logits, b.logits) and torch.allclose(a.loss, b.loss)
    ours.train(), package.train()
    assert ours.encoder.training == package.encoder.training == (not frozen)
    trainable = [sum(p.requires_grad for p in m.parameters()) for m in (ours, package)]
    assert trainable[0] == trainable[1]
