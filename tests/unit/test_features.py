"""Sentence features: pooling, length-sorted encoding, and the feature cache, on the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import features, serving
from course_utils.features import (
    CACHE_EVENTS,
    cache_key,
    cache_path,
    clear_memory_cache,
    mean_pool,
    sentence_vectors,
)
from course_utils.parameters import freeze

TEXTS = ["A quiet, lovely film.",
         "The plot wanders for two hours, the jokes land nowhere, and the ending is borrowed "
         "from a better movie that nobody will remember either.",
         "Dull.",
         "Funny, warm and sharply acted from start to finish."]


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    encoder = AutoModel.from_pretrained(minilm_dir).eval()
    return tokenizer, freeze(encoder)


@pytest.fixture
def forward_calls(minilm):
    """Count the encoder's forward passes (a hook on the real model, nothing mocked)."""
    calls = []
    handle = minilm[1].register_forward_hook(lambda *_: calls.append(1))
    yield calls
    handle.remove()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    clear_memory_cache()
    yield tmp_path / "features"
    clear_memory_cache()


def test_mean_pool_ignores_padded_positions():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_pool_picks_the_named_pooling_and_explains_a_missing_pooler():
    hidden = torch.arange(12.0).reshape(1, 3, 4)
    outputs = type("Outputs", (), {"last_hidden_state": hidden, "pooler_output": None,
                                   "hidden_states": None})()
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(features.cls_pool(hidden), hidden[:, 0])
    assert torch.equal(features.pool(outputs, mask, "cls"), hidden[:, 0])
    assert torch.equal(features.pool(outputs, mask, "mean"), hidden[:, :2].mean(dim=1))
    with pytest.raises(ValueError, match="no pooler"):
        features.pool(outputs, mask, "pooler_output")
    with pytest.raises(ValueError, match="output_hidden_states=True"):
        features.pool(outputs, mask, "mean_layers")


def test_texts_fingerprint_depends_on_the_texts_and_their_order():
    assert features.texts_fingerprint(["a", "b"]) == features.texts_fingerprint(["a", "b"])
    assert features.texts_fingerprint(["a", "b"]) != features.texts_fingerprint(["b", "a"])
    assert features.texts_fingerprint(["ab"]) != features.texts_fingerprint(["a", "b"])


def test_mean_pooled_vector_does_not_change_when_a_batch_adds_padding(minilm):
    tokenizer, encoder = minilm
    alone = sentence_vectors(TEXTS[2:3], tokenizer, encoder, pooling="mean")
    padded = sentence_vectors(TEXTS[1:3], tokenizer, encoder, pooling="mean", batch_size=2)
    assert (alone[0] - padded[1]).abs().max().item() < 1e-4


def test_sentence_vectors_come_back_in_the_original_order(minilm):
    tokenizer, encoder = minilm
    together = sentence_vectors(TEXTS, tokenizer, encoder, pooling="cls", batch_size=3)
    one_by_one = torch.cat([sentence_vectors([t], tokenizer, encoder, pooling="cls")
                            for t in TEXTS])
    assert together.shape == (len(TEXTS), encoder.config.hidden_size)
    assert (together - one_by_one).abs().max().item() < 1e-4


def test_the_encoder_sees_the_serving_recipe_s_length_sorted_batches(minilm):
    tokenizer, encoder = minilm
    seen = []
    handle = encoder.register_forward_hook(
        lambda module, args, kwargs, output: seen.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True)
    try:
        sentence_vectors(TEXTS, tokenizer, encoder, pooling="mean", batch_size=2)
    finally:
        handle.remove()
    lengths = [len(ids) for ids in tokenizer(TEXTS, truncation=True, max_length=128)["input_ids"]]
    batches = serving.length_sorted_batches(lengths, batch_size=2)
    assert seen == [(len(b), max(lengths[i] for i in b)) for b in batches]   # shortest first


def test_three_poolings_come_from_one_encoder_pass(minilm, forward_calls):
    tokenizer, encoder = minilm
    out = sentence_vectors(TEXTS, tokenizer, encoder, pooling=("cls", "pooler_output", "mean"),
                       batch_size=2)
    assert len(forward_calls) == 2  # two batches, not six
    assert set(out) == {"cls", "pooler_output", "mean"}
    assert not torch.allclose(out["cls"], out["mean"])
    assert out["pooler_output"].abs().max().item() <= 1.0  # tanh output


def test_bad_pooling_and_non_text_input_are_explained(minilm):
    tokenizer, encoder = minilm
    with pytest.raises(ValueError, match="Unknown pooling"):
        sentence_vectors(TEXTS, tokenizer, encoder, pooling="max")
    with pytest.raises(TypeError, match="needs strings; item 1"):
        sentence_vectors(["fine", float("nan")], tokenizer, encoder)


def test_cache_hit_does_not_run_the_encoder(minilm, forward_calls, cache_dir):
    tokenizer, encoder = minilm
    first = sentence_vectors(TEXTS, tokenizer, encoder, pooling=("mean", "cls"), cache=True)
    ran = len(forward_calls)
    assert ran > 0
    again = sentence_vectors(TEXTS, tokenizer, encoder, pooling="mean", cache=True)   # memory
    clear_memory_cache()
    from_disk = sentence_vectors(TEXTS, tokenizer, encoder, pooling="cls", cache=True)  # disk
    assert len(forward_calls) == ran
    assert torch.equal(again, first["mean"]) and torch.equal(from_disk, first["cls"])
    assert len(list(cache_dir.glob("*.npz"))) == 2
    assert [p.name for p in cache_dir.iterdir() if p.name.startswith(".")] == []   # no temp files


@pytest.mark.parametrize("change", ["texts", "pooling", "max_length", "weights"])
def test_a_changed_parameter_misses_the_cache(minilm, forward_calls, cache_dir, change):
    tokenizer, encoder = minilm
    sentence_vectors(TEXTS, tokenizer, encoder, pooling="mean", max_length=64, cache=True)
    ran = len(forward_calls)
    kwargs = {"texts": TEXTS, "pooling": "mean", "max_length": 64}
    if change == "texts":
        kwargs["texts"] = TEXTS[:-1] + ["Something else entirely."]
    elif change == "pooling":
        kwargs["pooling"] = "pooler_output"
    elif change == "max_length":
        kwargs["max_length"] = 8
    parameter = encoder.embeddings.word_embeddings.weight
    original = parameter.detach().clone()
    if change == "weights":
        with torch.no_grad():
            parameter[0, 0] += 1.0
    try:
        sentence_vectors(kwargs.pop("texts"), tokenizer, encoder, cache=True, **kwargs)
    finally:
        with torch.no_grad():
            parameter.copy_(original)
    assert len(forward_calls) > ran


def test_a_corrupt_cache_file_is_recomputed_not_trusted(minilm, forward_calls, cache_dir):
    tokenizer, encoder = minilm
    good = sentence_vectors(TEXTS, tokenizer, encoder, pooling="mean", cache=True)
    path = cache_path(cache_key(TEXTS, tokenizer, encoder, "mean", 128), cache_dir)
    assert path.is_file()
    path.write_bytes(path.read_bytes()[:100])      # a truncated write
    clear_memory_cache()
    ran = len(forward_calls)
    corrupt_before = CACHE_EVENTS["corrupt"]
    with pytest.warns(UserWarning, match="damaged feature cache"):
        again = sentence_vectors(TEXTS, tokenizer, encoder, pooling="mean", cache=True)
    assert len(forward_calls) > ran
    assert CACHE_EVENTS["corrupt"] == corrupt_before + 1
    assert torch.allclose(again, good, atol=1e-6)
    with np.load(path) as stored:                  # rewritten whole
        assert stored["features"].shape == (len(TEXTS), encoder.config.hidden_size)


def test_a_cache_file_with_wrong_contents_is_recomputed(minilm, forward_calls, cache_dir):
    tokenizer, encoder = minilm
    sentence_vectors(TEXTS, tokenizer, encoder, pooling="cls", cache=True)
    key = cache_key(TEXTS, tokenizer, encoder, "cls", 128)
    path = cache_path(key, cache_dir)
    features._write_cached(path, key, torch.full((len(TEXTS), 384), float("nan")))
    clear_memory_cache()
    ran = len(forward_calls)
    with pytest.warns(UserWarning, match="damaged feature cache"):
        again = sentence_vectors(TEXTS, tokenizer, encoder, pooling="cls", cache=True)
    assert len(forward_calls) > ran and torch.isfinite(again).all()


def test_weights_fingerprint_follows_the_weights(minilm):
    _, encoder = minilm
    before = features.weights_fingerprint(encoder)
    parameter = encoder.pooler.dense.bias
    original = parameter.detach().clone()
    with torch.no_grad():
        parameter[0] += 0.5
    changed = features.weights_fingerprint(encoder)
    with torch.no_grad():
        parameter.copy_(original)
    assert changed != before
    assert features.weights_fingerprint(encoder) == before


def test_mean_layers_concatenates_every_layer_and_ends_with_the_last(minilm):
    tokenizer, encoder = minilm
    out = sentence_vectors(TEXTS, tokenizer, encoder, pooling=("mean", "mean_layers"))
    hidden, layers = encoder.config.hidden_size, encoder.config.num_hidden_layers
    assert out["mean_layers"].shape == (len(TEXTS), hidden * (layers + 1))
    assert torch.allclose(out["mean_layers"][:, -hidden:], out["mean"], atol=1e-5)
    assert features.pooled_size(encoder, "mean_layers") == hidden * (layers + 1)
