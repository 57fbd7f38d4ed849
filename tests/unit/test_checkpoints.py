"""Atomic model saving: a checkpoint folder is the old one or the complete new one, never half."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.checkpoints import save_pretrained_atomically


class Saveable:
    """Writes one file named after itself, as ``save_pretrained`` writes config and weights."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail = name, fail

    def save_pretrained(self, folder: Path) -> None:
        (Path(folder) / f"{self.name}.json").write_text(self.name)
        if self.fail:
            raise OSError("No space left on device")


def test_every_object_lands_in_the_folder_and_replaces_the_old_save(tmp_path):
    folder = tmp_path / "models" / "sentiment"
    assert save_pretrained_atomically(folder, Saveable("model"), Saveable("tokenizer")) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "tokenizer.json"]
    save_pretrained_atomically(folder, Saveable("model2"))
    assert sorted(p.name for p in folder.iterdir()) == ["model2.json"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["sentiment"]   # no staging left


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path):
    folder = tmp_path / "sentiment"
    save_pretrained_atomically(folder, Saveable("model"))
    with pytest.raises(OSError, match="No space left"):
        save_pretrained_atomically(folder, Saveable("new"), Saveable("tokenizer", fail=True))
    assert sorted(p.name for p in folder.iterdir()) == ["model.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentiment"]


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "sentiment").write_text("not a folder")
    with pytest.raises(FileExistsError, match="not a folder"):
        save_pretrained_atomically(tmp_path / "sentiment", Saveable("model"))
