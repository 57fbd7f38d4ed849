"""Atomic writes: the destination holds the old content or the complete new one, never a part."""

from __future__ import annotations

import pytest

from course_utils.atomic import atomic_folder, atomic_path, write_text_atomically


def test_write_text_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "summary.md"
    write_text_atomically(target, "old")
    write_text_atomically(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["summary.md"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_atomic_path_keeps_a_required_suffix(tmp_path):
    with atomic_path(tmp_path / "features.npz", suffix=".npz") as temporary:
        assert temporary.name.endswith(".npz")
        temporary.write_bytes(b"x")
    assert (tmp_path / "features.npz").read_bytes() == b"x"


def test_atomic_folder_swaps_in_a_complete_folder_or_keeps_the_old_one(tmp_path):
    folder = tmp_path / "model"
    with atomic_folder(folder) as staging:
        (staging / "config.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt), atomic_folder(folder) as staging:
        (staging / "half.bin").write_text("x")
        raise KeyboardInterrupt
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_folder_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "model").write_text("not a folder")
    with pytest.raises(FileExistsError, match="not a folder"), atomic_folder(tmp_path / "model"):
        pass
