"""Turn texts into sentence vectors with a frozen encoder, fast, and never twice.

``sentence_vectors`` runs the encoder in inference mode over batches of texts sorted by
length (each batch padded only to its longest text), pools each text's token vectors
into one vector and returns them in the original order. Several poolings come from one
encoder pass. With ``cache=True`` the vectors are kept in memory and on disk under
``artifacts_dir("features")``, keyed by the model (path and a fingerprint of its
weights), the tokenizer, the texts, the pooling and ``max_length``; a rerun skips the
encoder, any change misses, and a damaged cache file is recomputed rather than trusted.

Poolings: ``"cls"`` (the first token's vector), ``"pooler_output"`` (BERT's dense+tanh
layer on that vector, where the model has one), ``"mean"`` (the average of the last
layer's token vectors, padding excluded by the attention mask) and ``"mean_layers"``
(that average for the embeddings and every layer, concatenated: ``hidden_size * (layers + 1)``
numbers per text, the feature-based recipe of the BERT paper, which combined several layers).

Example::

    >>> vectors = sentence_vectors(["A gem.", "A mess."], tokenizer, encoder)  # doctest: +SKIP
    >>> vectors.shape                                                          # doctest: +SKIP
    torch.Size([2, 384])
    >>> by_pooling = sentence_vectors(texts, tokenizer, encoder, pooling=("cls", "mean"),
    ...                               cache=True)                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .artifacts import artifacts_dir
from .atomic import atomic_path
from .serving import length_sorted_batches, restore_input_order

POOLINGS = ("cls", "pooler_output", "mean", "mean_layers")
CACHE_FORMAT = 1
_MEMORY: dict[str, torch.Tensor] = {}
CACHE_EVENTS: Counter = Counter()  # memory_hit / disk_hit / computed / corrupt


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average each text's token vectors over the positions its attention mask keeps."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def cls_pool(last_hidden_state: torch.Tensor) -> torch.Tensor:
    """Return the vector of the first token ([CLS]) of each text."""
    return last_hidden_state[:, 0]


def pool(outputs, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Return one vector per text from an encoder's outputs with the named pooling."""
    if pooling == "mean":
        return mean_pool(outputs.last_hidden_state, attention_mask)
    if pooling == "mean_layers":
        if getattr(outputs, "hidden_states", None) is None:
            raise ValueError("pooling='mean_layers' needs the encoder called with "
                             "output_hidden_states=True.")
        return torch.cat([mean_pool(h, attention_mask) for h in outputs.hidden_states], dim=-1)
    if pooling == "cls":
        return cls_pool(outputs.last_hidden_state)
    if pooling == "pooler_output":
        if getattr(outputs, "pooler_output", None) is None:
            raise ValueError("This encoder has no pooler (pooler_output is None): use "
                             "pooling='cls' or 'mean'.")
        return outputs.pooler_output
    raise ValueError(f"Unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}.")


def _as_poolings(pooling: str | Sequence[str]) -> tuple[str, ...]:
    poolings = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    unknown = [p for p in poolings if p not in POOLINGS]
    if unknown or not poolings:
        raise ValueError(f"Unknown pooling(s) {unknown or poolings}: use one or more of "
                         f"{', '.join(POOLINGS)}.")
    return poolings


def _as_texts(texts) -> list[str]:
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"sentence_vectors needs strings; item {bad[0]} is "
                        f"{type(texts[bad[0]]).__name__}: clean the texts first "
                        "(course_utils.data.clean_texts).")
    return texts


@torch.inference_mode()
def _compute(texts: list[str], tokenizer, encoder, poolings: tuple[str, ...], max_length: int,
             batch_size: int, progress: bool) -> dict[str, torch.Tensor]:
    """Run the encoder once over length-sorted batches; return each pooling in input order."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    rows = [{key: encoded[key][i] for key in encoded} for i in range(len(texts))]
    batches = length_sorted_batches([len(r["input_ids"]) for r in rows], batch_size)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    pieces: dict[str, list[torch.Tensor]] = {p: [] for p in poolings}
    for positions in tqdm(batches, desc="encoding", unit="batch", disable=not progress):
        batch = tokenizer.pad([rows[i] for i in positions], return_tensors="pt")
        batch = {key: value.to(device) for key, value in batch.items()}
        outputs = encoder(**batch, output_hidden_states="mean_layers" in poolings)
        for p in poolings:
            pieces[p].append(pool(outputs, batch["attention_mask"], p).float().cpu())
    encoder.train(was_training)
    return {p: (restore_input_order(torch.cat(pieces[p]), batches) if pieces[p]
                else torch.empty(0, pooled_size(encoder, p)))
            for p in poolings}


def pooled_size(encoder, pooling: str) -> int:
    """Return how many numbers ``pooling`` gives per text for this encoder."""
    hidden = encoder.config.hidden_size
    return hidden * (encoder.config.num_hidden_layers + 1) if pooling == "mean_layers" else hidden


_FINGERPRINTS: dict[tuple, str] = {}


def weights_fingerprint(module: torch.nn.Module) -> str:
    """Return a short hash of every parameter and buffer: changes when any weight changes."""
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    # Tensors count their in-place changes in ``_version``: unchanged versions, same hash.
    state = (id(module),) + tuple((t.data_ptr(), t._version) for _, t in tensors)
    if state not in _FINGERPRINTS:
        digest = hashlib.blake2b(digest_size=12)
        for name, tensor in tensors:
            digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
        _FINGERPRINTS[state] = digest.hexdigest()
    return _FINGERPRINTS[state]


def texts_fingerprint(texts: Sequence[str]) -> str:
    """Return a short hash of the texts, in order."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def cache_key(texts: Sequence[str], tokenizer, encoder, pooling: str, max_length: int) -> dict:
    """Return what identifies a set of features: model, weights, tokenizer, texts, pooling, length.
    """
    return {"format": CACHE_FORMAT,
            "model": str(getattr(encoder.config, "_name_or_path", "") or type(encoder).__name__),
            "weights": weights_fingerprint(encoder),
            "tokenizer": [str(getattr(tokenizer, "name_or_path", "")), len(tokenizer),
                          getattr(tokenizer, "do_lower_case", None)],
            "texts": texts_fingerprint(texts), "n_texts": len(texts),
            "pooling": pooling, "max_length": int(max_length)}


def cache_path(key: dict, folder: Path | None = None) -> Path:
    """Return the file that holds (or will hold) the features for ``key``."""
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return (folder or artifacts_dir("features")) / f"{key['pooling']}-{name}.npz"


def _read_cached(path: Path, key: dict, width: int) -> torch.Tensor | None:
    """Return the features stored at ``path`` if the file is intact and matches ``key``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            saved_key = json.loads(str(stored["key"]))
            array = np.array(stored["features"], dtype=np.float32)
        if saved_key != key or array.shape != (key["n_texts"], width) \
                or not np.isfinite(array).all():
            raise ValueError("content does not match its key")
    except Exception as err:  # any damage means: do not trust it, recompute
        CACHE_EVENTS["corrupt"] += 1
        warnings.warn(f"Ignoring damaged feature cache {path.name} ({type(err).__name__}: {err}); "
                      "recomputing it.", stacklevel=3)
        return None
    return torch.from_numpy(array)


def _write_cached(path: Path, key: dict, features: torch.Tensor) -> None:
    """Write features and their key to ``path`` atomically (temp file, then rename)."""
    with atomic_path(path, suffix=".npz") as temporary:
        np.savez(temporary, features=features.numpy(),
                 key=np.array(json.dumps(key, sort_keys=True)))


def sentence_vectors(texts: Sequence[str], tokenizer, encoder,
                     pooling: str | Sequence[str] = "mean", max_length: int = 128,
                     batch_size: int = 64, *, cache: bool = False,
                     cache_dir: str | Path | None = None, progress: bool = False,
                     ) -> torch.Tensor | dict[str, torch.Tensor]:
    """Return one vector per text (a tensor), or a dict of tensors when ``pooling`` is a list."""
    texts = _as_texts(texts)
    poolings = _as_poolings(pooling)
    if max_length < 2 or batch_size < 1:
        raise ValueError(f"max_length must be >= 2 and batch_size >= 1 (got {max_length}, "
                         f"{batch_size}).")
    result: dict[str, torch.Tensor] = {}
    keys: dict[str, dict] = {}
    if cache:
        folder = Path(cache_dir) if cache_dir else None
        for p in poolings:
            keys[p] = cache_key(texts, tokenizer, encoder, p, max_length)
            memory_key = json.dumps(keys[p], sort_keys=True)
            if memory_key in _MEMORY:
                result[p] = _MEMORY[memory_key]
                CACHE_EVENTS["memory_hit"] += 1
                continue
            stored = _read_cached(cache_path(keys[p], folder), keys[p], pooled_size(encoder, p))
            if stored is not None:
                result[p] = _MEMORY[memory_key] = stored
                CACHE_EVENTS["disk_hit"] += 1
    missing = tuple(p for p in poolings if p not in result)
    if missing:
        computed = _compute(texts, tokenizer, encoder, missing, max_length, batch_size, progress)
        for p, features in computed.items():
            result[p] = features
            if cache:
                CACHE_EVENTS["computed"] += 1
                _MEMORY[json.dumps(keys[p], sort_keys=True)] = features
                _write_cached(cache_path(keys[p], folder), keys[p], features)
    return result[pooling] if isinstance(pooling, str) else {p: result[p] for p in poolings}


def clear_memory_cache() -> None:
    """Forget the features kept in memory (the disk cache stays)."""
    _MEMORY.clear()
