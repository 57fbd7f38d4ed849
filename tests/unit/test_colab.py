"""In Colab a learner can upload a CSV or read one from Drive; artifacts go to a mounted Drive."""

import sys
import types

import pytest

from course_utils import artifacts, colab
from course_utils.colab import in_colab, in_kaggle

CSV = b"text,label\ngood film,pos\nbad film,neg\n"


@pytest.fixture
def outside_colab(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A google.colab module whose upload returns ``uploads`` and whose mount creates MyDrive."""
    mount, calls = tmp_path / "drive", {"mounted": [], "uploads": [{"my reviews.csv": CSV}]}
    files = types.SimpleNamespace(upload=lambda: calls["uploads"].pop(0))

    def mount_drive(where):
        calls["mounted"].append(where)
        (mount / "MyDrive").mkdir(parents=True, exist_ok=True)

    drive = types.SimpleNamespace(mount=mount_drive)
    package = types.ModuleType("google.colab")
    package.files, package.drive = files, drive
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setattr(colab, "DRIVE_MOUNT", mount)
    monkeypatch.setattr(colab, "DRIVE_ROOT", mount / "MyDrive")
    monkeypatch.setattr(colab, "UPLOAD_DIR", tmp_path / "uploads")
    monkeypatch.delenv(artifacts.ARTIFACTS_ENV, raising=False)
    return calls


def test_outside_colab_the_data_cell_changes_nothing_and_prints_nothing(outside_colab, capsys):
    assert not in_colab()
    assert colab.chosen_data_path("") == ""
    assert colab.chosen_data_path("/content/drive/MyDrive/x.csv") == "/content/drive/MyDrive/x.csv"
    assert capsys.readouterr() == ("", "")


def test_asking_for_an_upload_outside_colab_says_what_to_do_instead(outside_colab):
    with pytest.raises(colab.ColabError, match="set data_path in the parameters cell"):
        colab.chosen_data_path("", upload=True)


def test_an_uploaded_csv_becomes_data_path(fake_colab, capsys):
    path = colab.chosen_data_path("", upload=True)
    assert path == str(colab.UPLOAD_DIR / "my reviews.csv")
    assert colab.UPLOAD_DIR.joinpath("my reviews.csv").read_bytes() == CSV
    assert "data_path = " in capsys.readouterr().out


def test_an_upload_without_exactly_one_file_is_refused(fake_colab):
    fake_colab["uploads"] = [{}]
    with pytest.raises(colab.ColabError, match="Expected one file, got 0"):
        colab.upload_csv()


def test_a_drive_path_mounts_drive_first(fake_colab):
    csv = colab.DRIVE_ROOT / "data" / "mine.csv"
    assert colab.drive_folder() is None
    with pytest.raises(colab.ColabError, match="Copy path"):
        colab.chosen_data_path(str(csv))          # mounts, then finds no file there
    assert fake_colab["mounted"] == [str(colab.DRIVE_MOUNT)]
    csv.parent.mkdir(parents=True)
    csv.write_bytes(CSV)
    assert colab.chosen_data_path(str(csv)) == str(csv)
    assert len(fake_colab["mounted"]) == 1        # already mounted: not asked again


def test_artifacts_go_to_drive_when_mounted_and_the_variable_still_wins(fake_colab, monkeypatch,
                                                                         tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    assert artifacts.artifacts_dir() == tmp_path / "cache" / "artifacts"
    assert "vanish" in colab.drive_hint()
    colab.DRIVE_ROOT.mkdir(parents=True)
    expected = colab.DRIVE_ROOT / colab.COURSE_FOLDER / "artifacts"
    assert artifacts.artifacts_dir("results") == expected / "results"
    assert artifacts.adapted_checkpoint_dir().parent == expected / "checkpoints"
    assert str(expected) in colab.drive_hint()
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(tmp_path / "mine"))
    assert artifacts.artifacts_dir() == tmp_path / "mine"


def test_a_missing_artifact_says_what_is_skipped_and_the_command(outside_colab):
    message = artifacts.missing_artifact_message("lesson 02's encoder", "02", "the comparison")
    assert message.startswith("Not found: lesson 02's encoder. Skipped: the comparison.")
    assert "`python -m course_utils run --only 02`" in message


def test_a_missing_artifact_in_colab_says_to_use_drive(fake_colab):
    message = artifacts.missing_artifact_message("lesson 04's results", "04", "its rows")
    assert "drive.mount('/content/drive')" in message and "run lesson 04" in message


def test_kaggle_is_recognised_by_its_variable(monkeypatch):
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert not in_kaggle()
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert in_kaggle()
