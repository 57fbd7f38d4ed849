"""What a lesson needs in Google Colab: a CSV of the learner's, and Google Drive for artifacts.

Each Colab notebook runs on its own machine, so what one lesson saves (lesson 02's adapted
encoder, lesson 04's results) reaches a later lesson only through Google Drive. When Drive
is mounted, ``course_utils.artifacts.artifacts_dir()`` puts lesson outputs in ``drive_folder()``.
Outside Colab nothing here asks anything or prints anything.

Example (in Colab)::

    >>> data_path = chosen_data_path("", upload=True)        # doctest: +SKIP
    Choose a CSV file ...
    >>> drive_folder()                                        # doctest: +SKIP
    PosixPath('/content/drive/MyDrive/transfer-course')
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .atomic import write_bytes_atomically

DRIVE_MOUNT = Path("/content/drive")     # where drive.mount() puts Google Drive
DRIVE_ROOT = DRIVE_MOUNT / "MyDrive"     # exists only while Drive is mounted
COURSE_FOLDER = "transfer-course"
UPLOAD_DIR = Path("/content/uploads")
MOUNT_LINE = "from google.colab import drive; drive.mount('/content/drive')"


def in_colab() -> bool:
    """Return True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def in_kaggle() -> bool:
    """Return True inside a Kaggle notebook."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ


class ColabError(ValueError):
    """A Colab-only request made elsewhere, or an upload that brought no usable file."""


def drive_folder() -> Path | None:
    """Return the course's folder on Google Drive when Drive is mounted, else None."""
    return DRIVE_ROOT / COURSE_FOLDER if DRIVE_ROOT.is_dir() else None


def mount_drive() -> Path:
    """Mount Google Drive at ``DRIVE_MOUNT`` (Colab asks for permission once); return its root."""
    if not in_colab():
        raise ColabError("Google Drive can be mounted from Colab only; elsewhere give a local "
                         "path.")
    if not DRIVE_ROOT.is_dir():
        from google.colab import drive

        drive.mount(str(DRIVE_MOUNT))
    return DRIVE_ROOT


def drive_hint() -> str:
    """Return one line saying where lesson outputs go in Colab, and how to keep them."""
    folder = drive_folder()
    if folder is not None:
        return f"Google Drive is mounted: saved models and results go to {folder / 'artifacts'}."
    return ("Saved models and results stay on this Colab machine and vanish with it. To keep them "
            f"for later lessons, mount Google Drive before they are saved: {MOUNT_LINE}")


def upload_csv(folder: Path | None = None) -> Path:
    """Ask the learner for one CSV file (Colab's upload button); save and return its path."""
    if not in_colab():
        raise ColabError("upload_csv works in Colab only. Here, set data_path in the parameters "
                         "cell to the path of your CSV file.")
    from google.colab import files

    print("Choose a CSV file (text and label columns; name them in the parameters cell).")
    uploaded = files.upload()
    if len(uploaded) != 1:
        raise ColabError(f"Expected one file, got {len(uploaded)}. Run the cell again and choose "
                         "exactly one CSV file (or set upload_csv = False).")
    name, data = next(iter(uploaded.items()))
    path = (folder or UPLOAD_DIR) / Path(name).name
    write_bytes_atomically(path, data)
    print(f"data_path = {str(path)!r} ({len(data):,} bytes)")
    return path


def chosen_data_path(data_path: str, upload: bool = False) -> str:
    """Return the CSV a lesson should read: an uploaded one, or ``data_path`` (mounting Drive).

    Outside Colab, with ``upload`` False, this returns ``data_path`` unchanged and prints nothing.
    """
    if upload:
        return str(upload_csv())
    if data_path and in_colab() and Path(data_path).is_relative_to(DRIVE_MOUNT):
        mount_drive()
        if not Path(data_path).is_file():
            raise ColabError(f"No file at {data_path}. In Colab's Files panel, open drive/MyDrive, "
                             "find the CSV, choose 'Copy path' and paste it into data_path.")
    return data_path
