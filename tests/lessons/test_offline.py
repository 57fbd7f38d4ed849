"""The course needs no network: lessons run with sockets blocked, and the full profile's
hub-loading code works from a locally built hub cache."""

import json
import os
from pathlib import Path

import pytest

NETBLOCK = Path(__file__).parents[1] / "netblock"
MINILM_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "vocab.txt"]


@pytest.fixture
def blocked_network(tmp_path, monkeypatch):
    """Block every non-loopback connection in processes started from here; return the log."""
    log = tmp_path / "network-attempts.log"
    log.touch()
    paths = [str(NETBLOCK), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    monkeypatch.setenv("NETBLOCK_LOG", str(log))
    return log


def build_hub_cache(hf_home: Path, repo_id: str, source: Path) -> None:
    """Lay out ``source``'s files as the hub cache would hold a download of ``repo_id``."""
    commit = "0" * 40
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in MINILM_FILES:
        os.symlink(source / name, snapshot / name)


def test_the_network_block_really_blocks(blocked_network, tmp_path):
    import subprocess
    import sys

    probe = ("import socket\ntry:\n    socket.create_connection(('93.184.216.34', 80), timeout=2)\n"
             "except OSError as e:\n    print('blocked', e)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    assert out.startswith("blocked")
    assert "93.184.216.34" in blocked_network.read_text()


@pytest.mark.notebook
@pytest.mark.more
def test_lesson_01_runs_offline_with_sockets_blocked(blocked_network, run_lesson):
    # a subset: the lesson's numbers at full size are nbval's to check (tests/test_lesson_01.py)
    metrics = run_lesson("01", compare_examples=200, max_examples=2000)
    assert metrics["n_texts"] == 2000
    assert blocked_network.read_text() == ""


@pytest.mark.notebook
@pytest.mark.more
def test_full_profile_loads_hub_names_from_a_local_hub_cache(blocked_network, run_lesson,
                                                              minilm_dir, tmp_path, monkeypatch):
    hf_home = tmp_path / "hf_home"
    for repo_id in ("bert-base-uncased", "bert-base-cased"):
        build_hub_cache(hf_home, repo_id, minilm_dir)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metrics = run_lesson("01", profile="full", compare_examples=200, max_examples=2000)
    assert metrics["n_texts"] == 2000
    assert blocked_network.read_text() == ""
    executed = json.loads((tmp_path / "01_tokenization.ipynb").read_text())
    printed = "".join("".join(o.get("text", ""))
                      for c in executed["cells"] for o in c.get("outputs", []))
    assert "uncased ['apple']  cased ['apple']" in printed  # the cased branch ran from the cache


def test_loading_by_hub_name_fails_clearly_without_a_cache(tmp_path, monkeypatch):
    import subprocess
    import sys

    code = ("from transformers import AutoTokenizer\n"
            "AutoTokenizer.from_pretrained('bert-base-uncased')")
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "offline" in result.stderr.lower() or "cache" in result.stderr.lower()
