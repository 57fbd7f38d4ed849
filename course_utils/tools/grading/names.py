"""What is in a submissions folder: each entry, how it is shown, and whether it can be graded.

Every entry gets a row in the reports. ``list_submissions`` looks at each with ``lstat`` (a link
is never followed): a symbolic link, a folder, a pipe, a device or a socket is ``skipped`` with
the reason, and so is a hidden file; a file over the size limit is ``too large`` and never read.
Names are shown as printable text: bytes that are not UTF-8, control characters, and
invisible or direction-changing characters (which make ``gpj.ipynb`` look like ``bpi.jpg``) are
written as escapes (``\\xff``, ``\\u202e``); two names that look the same after that (or differ
only in case or Unicode normal form) are told apart by `` (2)``, `` (3)``... Example::

    >>> display_name(b"01_al\\xffice\\n.ipynb")
    '01_al\\\\xffice\\\\n.ipynb'
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

KINDS = ((stat.S_ISLNK, "a symbolic link (links are never followed)"),
         (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
         (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


@dataclass(frozen=True)
class Entry:
    """One entry of the submissions folder: its path, its unique shown name, what it is."""

    path: Path
    name: str
    size: int = 0
    skipped: str = ""        # why it is not graded; empty for a file to grade
    renamed: str = ""        # why the shown name differs from the file's


def display_name(raw: bytes) -> str:
    """Return a file name as printable text: undecodable bytes and control marks escaped."""
    text = unicodedata.normalize("NFC", raw.decode("utf-8", errors="backslashreplace"))
    shown = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            shown.append(char.encode("unicode_escape").decode("ascii"))
        else:
            shown.append(char)
    return "".join(shown)


def _kind(mode: int) -> str:
    for test, reason in KINDS:
        if test(mode):
            return reason
    return ""


def list_submissions(folder: Path, max_bytes: int) -> list[Entry]:
    """Return every entry of ``folder``, ordered by name, each with a unique shown name."""
    raw_names = sorted(os.listdir(os.fsencode(folder)))
    entries, seen = [], set()
    for raw in raw_names:
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))
        name = display_name(raw)
        renamed = "" if name.encode("utf-8", errors="replace") == raw else \
            "its file name holds characters that are shown escaped"
        base, number = name, 1
        while (key := unicodedata.normalize("NFKC", name).casefold()) in seen:
            number += 1
            stem, dot, suffix = base.rpartition(".") if "." in base else (base, "", "")
            name = f"{stem} ({number}){dot}{suffix}"
            renamed = "its name collides with another file's once shown; numbered apart"
        seen.add(key)
        try:
            info = os.lstat(path)
        except OSError as err:
            entries.append(Entry(path, name, skipped=f"cannot be read ({err.strerror})",
                                 renamed=renamed))
            continue
        reason = _kind(info.st_mode) or ("a hidden file" if raw.startswith(b".") else "")
        if not reason and not stat.S_ISREG(info.st_mode):
            reason = "not a regular file"
        entries.append(Entry(path, name, info.st_size, reason, renamed))
    return entries


def read_submission(entry: Entry, max_bytes: int) -> bytes | None:
    """Return the bytes of a regular file of at most ``max_bytes``; None when it is not one now."""
    try:
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        data = handle.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None
