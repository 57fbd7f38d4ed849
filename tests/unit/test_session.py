"""setup() makes a lesson reproducible and offline, and says what it runs on."""

import os

import pytest
import torch

from course_utils import get_profile, resolve_model, setup
from course_utils.profiles import PROFILES
from course_utils.session import COLAB_GPU_HINT, pick_device


def test_setup_with_the_same_seed_gives_the_same_random_numbers():
    setup(seed=3, verbose=False)
    first = torch.rand(3)
    setup(seed=3, verbose=False)
    assert torch.equal(first, torch.rand(3))
    setup(seed=4, verbose=False)
    assert not torch.equal(first, torch.rand(3))


def test_setup_sets_the_thread_count_and_offline_variables(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = torch.get_num_threads()
    try:
        setup(threads=1, verbose=False)
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert os.environ["HF_HUB_OFFLINE"] == "1"
    finally:
        torch.set_num_threads(before)


def test_setup_prints_versions_profile_and_device(capsys):
    device = setup(profile="offline", threads=1, seed=0)
    line = capsys.readouterr().out
    assert device.type == "cpu"
    assert (f"torch {torch.__version__}" in line and "profile offline" in line
            and "device cpu" in line)


def test_colab_without_gpu_gets_the_menu_to_click(monkeypatch, capsys):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    setup(profile="full", threads=1)
    assert COLAB_GPU_HINT in capsys.readouterr().out
    assert "Change runtime type" in COLAB_GPU_HINT


def test_auto_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    assert pick_device("cpu").type == "cpu"


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="offline, full"):
        get_profile("fast")


def test_offline_profile_uses_only_cached_assets(minilm_dir):
    offline = PROFILES["offline"]
    assert offline.offline and offline.device == "cpu"
    assert resolve_model(offline.encoder) == str(minilm_dir)
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"


def test_full_profile_names_the_source_lessons_models():
    full = PROFILES["full"]
    assert (full.encoder, full.cased_encoder, full.classifier_model) == (
        "bert-base-uncased", "bert-base-cased", "distilbert-base-uncased")
    assert full.device == "auto" and not full.offline
