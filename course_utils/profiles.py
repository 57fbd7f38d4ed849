"""Profiles: which model, data and device each lesson uses.

``offline`` (the default) runs on a 2-core CPU with no network, from the assets in
``course_utils/manifest.json``. ``full`` uses the hub models and datasets of the original
lessons (BERT, DistilBERT, IMDB, SST-2, Moby-Dick) and a GPU when there is one.
A model name that is an asset name (``"minilm"``) resolves to the cached asset
folder; anything else is passed to ``from_pretrained`` unchanged (a hub id or a path).

Example::

    >>> get_profile("offline").encoder
    'minilm'
"""

from __future__ import annotations

from dataclasses import dataclass

from . import assets


@dataclass(frozen=True)
class Profile:
    """The concrete choices one profile makes for the lessons."""

    name: str
    offline: bool                 # set HF_HUB_OFFLINE and friends
    device: str                   # "cpu", or "auto" for cuda > mps > cpu
    encoder: str                  # lessons 01, 03, 04, 06: the pretrained encoder
    cased_encoder: str | None     # lesson 01: a cased vocabulary to compare with
    mlm_model: str                # lesson 02: the masked-LM checkpoint
    classifier_model: str         # lesson 05: the model fine-tuned for sentiment
    sentiment_data: str           # lessons 03-05: "reviews" (asset) or "imdb" / "sst2" (hub)
    tagging_text: str             # lesson 06: "hamlet" (asset) or "moby-dick" (Gutenberg)
    max_length: int               # truncation for classification (04-05: the derived one's ceiling)
    batch_size: int               # training batch size that fits the device
    mixed_precision: bool         # fp16/bf16 on a GPU
    fine_tuning_learning_rate: float  # lesson 05: peak learning rate of full fine-tuning
    fine_tuning_epochs: float         # lesson 05: epochs on large data (more on small data)


PROFILES: dict[str, Profile] = {
    "offline": Profile(
        name="offline", offline=True, device="cpu",
        encoder="minilm", cased_encoder=None, mlm_model="minilm", classifier_model="minilm",
        sentiment_data="reviews", tagging_text="hamlet",
        max_length=128, batch_size=32, mixed_precision=False,
        fine_tuning_learning_rate=1e-4, fine_tuning_epochs=1.0,
    ),
    "full": Profile(
        name="full", offline=False, device="auto",
        encoder="bert-base-uncased", cased_encoder="bert-base-cased",
        mlm_model="bert-base-cased", classifier_model="distilbert-base-uncased",
        sentiment_data="imdb", tagging_text="moby-dick",
        max_length=512, batch_size=16, mixed_precision=True,
        fine_tuning_learning_rate=5e-5, fine_tuning_epochs=2,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` or raise an error naming the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}: use one of {', '.join(PROFILES)}.")
    return PROFILES[name]


def resolve_model(name: str) -> str:
    """Return what ``from_pretrained`` should load: an asset's folder, or ``name`` itself."""
    if name in assets.registry():
        return str(assets.asset_path(name))
    return name
