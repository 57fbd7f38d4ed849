"""The training helpers on a tiny random BERT: loss falls, schedule, groups, best epoch, -100."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification, BertModel

from course_utils import training

torch.set_num_threads(1)

VOCAB, SIGNAL_TOKEN = 50, 7


def tiny_bert(num_labels: int = 2, seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        num_labels=num_labels)
    return BertForSequenceClassification(config)


def toy_batches(n_batches: int = 8, batch_size: int = 16, length: int = 10, seed: int = 1):
    """Label 1 when the sequence contains SIGNAL_TOKEN: a task a tiny model learns quickly."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        ids = torch.randint(10, VOCAB, (batch_size, length), generator=generator)
        labels = torch.randint(0, 2, (batch_size,), generator=generator)
        ids[labels == 1, 3] = SIGNAL_TOKEN
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    return batches


class TinyTagger(nn.Module):
    """A token tagger returning raw logits (no .loss), as lesson 06 builds one."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = BertModel(BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1,
                                            num_attention_heads=2, intermediate_size=32,
                                            max_position_embeddings=32))
        self.head = nn.Linear(16, 3)

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return self.head(hidden.last_hidden_state)


def test_no_decay_groups_hold_biases_and_layernorm_weights_only():
    model = tiny_bert()
    groups = training.no_decay_parameter_groups(model, weight_decay=0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {names[id(p)] for p in groups[0]["params"]}
    no_decay = {names[id(p)] for p in groups[1]["params"]}
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0
    assert "bert.embeddings.LayerNorm.weight" in no_decay
    assert "bert.encoder.layer.0.attention.self.query.bias" in no_decay
    assert "classifier.bias" in no_decay
    assert "bert.encoder.layer.0.attention.self.query.weight" in decay
    assert "bert.embeddings.word_embeddings.weight" in decay
    assert all(n.endswith("bias") or "LayerNorm" in n for n in no_decay)
    assert not any(n.endswith("bias") or "LayerNorm" in n for n in decay)
    assert len(decay) + len(no_decay) == len(list(model.parameters()))


def test_no_decay_groups_skip_frozen_parameters_and_refuse_an_all_frozen_model():
    model = tiny_bert()
    for p in model.bert.embeddings.parameters():
        p.requires_grad = False
    groups = training.no_decay_parameter_groups(model, 0.01)
    n_grouped = sum(len(g["params"]) for g in groups)
    assert n_grouped == sum(1 for p in model.parameters() if p.requires_grad)
    for p in model.parameters():
        p.requires_grad = False
    with pytest.raises(training.TrainingError, match="no trainable parameters"):
        training.make_optimizer(model, lr=1e-3)


def test_optimizer_is_fused_by_default_and_updates_like_the_plain_one():
    plain_model, fused_model = tiny_bert(), tiny_bert()
    fused_model.load_state_dict(plain_model.state_dict())
    plain = training.make_optimizer(plain_model, lr=1e-2, fused=False)
    fused = training.make_optimizer(fused_model, lr=1e-2)
    assert fused.defaults["fused"] is True and not plain.defaults["fused"]
    for model, optimizer in ((plain_model, plain), (fused_model, fused)):
        torch.manual_seed(0)
        for _ in range(3):
            ids = torch.randint(5, 50, (4, 6))
            loss = model(input_ids=ids, labels=torch.tensor([0, 1, 0, 1])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for (name, a), b in zip(plain_model.named_parameters(), fused_model.parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_schedule_warms_up_to_the_peak_then_decays_to_zero():
    model = tiny_bert()
    optimizer = training.make_optimizer(model, lr=1e-3)
    scheduler = training.make_scheduler(optimizer, num_training_steps=100, warmup_ratio=0.1)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == 0.0
    assert all(a < b for a, b in zip(rates[:10], rates[1:11]))        # rises for 10 steps
    assert rates[10] == pytest.approx(1e-3, rel=1e-6)                  # the peak
    assert all(a > b for a, b in zip(rates[10:99], rates[11:100]))     # then falls
    assert rates[-1] < 2e-5


def test_scheduler_rejects_a_ratio_outside_zero_one():
    optimizer = training.make_optimizer(tiny_bert(), lr=1e-3)
    with pytest.raises(training.TrainingError, match="warmup_ratio"):
        training.make_scheduler(optimizer, 10, warmup_ratio=10)


def test_training_lowers_the_loss_and_learns_the_toy_task():
    model = tiny_bert()
    batches = toy_batches()
    optimizer = training.make_optimizer(model, lr=3e-3)
    before = training.evaluate(model, batches)
    for _ in range(6):
        loss = training.train_one_epoch(model, batches, optimizer, progress=False)
    after = training.evaluate(model, batches)
    assert after["loss"] < 0.5 * before["loss"]
    assert loss < 0.4
    assert after["accuracy"] >= 0.9


def test_epoch_loss_is_weighted_by_examples_not_by_batches():
    model = tiny_bert()
    trainer = training.make_optimizer(model, lr=3e-3)
    for _ in range(4):
        training.train_one_epoch(model, toy_batches(), trainer, progress=False)
    big = toy_batches(n_batches=1, batch_size=30)[0]
    small = toy_batches(n_batches=1, batch_size=2, seed=5)[0]
    small["labels"] = 1 - small["labels"]                            # wrong on purpose: high loss
    model.eval()
    with torch.no_grad():
        per_batch = [training.compute_loss(model, b)[0].item() for b in (big, small)]
    by_example = (per_batch[0] * 30 + per_batch[1] * 2) / 32
    by_batch = (per_batch[0] + per_batch[1]) / 2
    assert abs(by_example - by_batch) > 1e-3                         # the two differ here
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)          # no update: losses stay put
    epoch_loss = training.train_one_epoch(model, [big, small], optimizer, progress=False)
    assert epoch_loss == pytest.approx(by_example, rel=1e-5)
    assert training.evaluate(model, [big, small])["loss"] == pytest.approx(by_example, rel=1e-5)


def test_fit_records_every_epoch_and_ends_on_the_best_one():
    model = tiny_bert()
    train, valid = toy_batches(seed=1), toy_batches(n_batches=2, seed=2)
    optimizer = training.make_optimizer(model, lr=3e-3)
    history = training.fit(model, train, valid, epochs=3, optimizer=optimizer, progress=False)
    assert len(history.train_loss) == len(history.valid_accuracy) == 3
    assert history.valid_accuracy[history.best_epoch - 1] == max(history.valid_accuracy)
    assert training.evaluate(model, valid)["accuracy"] == pytest.approx(max(history.valid_accuracy))
    assert history.seconds >= history.training_seconds > 0


def test_fit_keeps_an_earlier_epoch_when_later_ones_are_worse():
    model = tiny_bert()
    train, valid = toy_batches(seed=1), toy_batches(n_batches=2, seed=2)

    class WreckInLastEpoch(torch.optim.AdamW):
        """AdamW whose learning rate jumps to 5.0 for the last of 5 epochs."""

        steps = 0

        def step(self, closure=None):
            WreckInLastEpoch.steps += 1
            if WreckInLastEpoch.steps == 4 * len(train) + 1:
                for group in self.param_groups:
                    group["lr"] = 5.0
            return super().step(closure)

    optimizer = WreckInLastEpoch(model.parameters(), lr=5e-3)
    history = training.fit(model, train, valid, epochs=5, optimizer=optimizer, progress=False)
    assert max(history.valid_accuracy[:4]) >= 0.8
    assert history.valid_accuracy[4] < max(history.valid_accuracy[:4])
    assert history.best_epoch <= 4
    restored = training.evaluate(model, valid)["accuracy"]
    assert restored == pytest.approx(history.valid_accuracy[history.best_epoch - 1])
    assert restored > history.valid_accuracy[4]
    assert list(history.table().index) == [1, 2, 3, 4, 5]
    assert list(history.table().columns) == ["train loss", "train accuracy", "valid loss",
                                             "valid accuracy"]


def test_token_loss_and_accuracy_ignore_minus_100_positions():
    model = TinyTagger()
    ids = torch.randint(10, VOCAB, (4, 6), generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 3, (4, 6), generator=torch.Generator().manual_seed(1))
    labels[:, 4:] = -100
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    loss, logits = training.compute_loss(model, batch)
    assert logits.shape == (4, 6, 3)
    kept = labels != -100
    expected = nn.functional.cross_entropy(logits[kept], labels[kept])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    # Changing what sits under -100 changes nothing.
    garbage = dict(batch, labels=labels.masked_fill(~kept, -100))
    result = training.evaluate(model, [garbage])
    assert result["labels"].shape == (int(kept.sum()),)
    assert result["probabilities"].shape == (int(kept.sum()), 3)
    manual = (logits.argmax(-1)[kept] == labels[kept]).float().mean().item()
    assert result["accuracy"] == pytest.approx(manual)


def test_tagger_trains_with_the_same_loop():
    model = TinyTagger()
    generator = torch.Generator().manual_seed(3)
    batches = []
    for _ in range(6):
        ids = torch.randint(10, VOCAB, (8, 8), generator=generator)
        labels = (ids % 3).masked_fill(torch.arange(8) >= 6, -100)
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    optimizer = training.make_optimizer(model, lr=5e-3)
    first = training.train_one_epoch(model, batches, optimizer, progress=False)
    for _ in range(8):
        last = training.train_one_epoch(model, batches, optimizer, progress=False)
    assert last < 0.5 * first


def test_label_count_mismatch_is_a_clear_error():
    model = tiny_bert(num_labels=2)
    with pytest.raises(training.TrainingError, match="num_labels=2"):
        training.check_num_labels(model, [0, 1, 2])
    training.check_num_labels(model, [0, 1, 1, -100])


def test_history_without_validation_has_no_best_epoch_and_a_table_of_what_it_recorded():
    history = training.History(train_loss=[0.9, 0.5], epoch_seconds=[1.0, 2.0],
                               train_seconds=[0.5, 1.5])
    assert history.seconds == 3.0 and history.training_seconds == 2.0
    assert list(history.table().columns) == ["train loss"]
    with pytest.raises(training.TrainingError, match="No epoch was chosen"):
        _ = history.best_valid_accuracy


def test_ignore_index_is_what_cross_entropy_skips():
    assert training.IGNORE_INDEX == nn.CrossEntropyLoss().ignore_index == -100


@pytest.mark.kernel
def test_progress_bar_redraws_at_its_interval_not_at_every_batch():
    """A forced redraw per batch stored hundreds of lines, each with a stale '0/N' count.

    tqdm reads TQDM_* variables when it is imported, as in a batch run's kernel, whose
    environment sets them before it starts: so the loop runs in a fresh process here.
    """
    script = (
        "import sys, torch\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_training import tiny_bert, toy_batches\n"
        "from course_utils import training\n"
        "model = tiny_bert()\n"
        "optimizer = training.make_optimizer(model, lr=3e-3)\n"
        "training.train_one_epoch(model, toy_batches(n_batches=20), optimizer, progress=True)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "TQDM_MININTERVAL": "60"}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    stored = run.stderr
    assert stored.count("loss=") <= 2
    assert "0/20" in stored and "it/s, loss=" not in stored.split("0/20", 1)[1].split("\r")[0]
