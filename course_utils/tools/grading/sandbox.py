"""Run one submission's command in a sandbox: its own folder, no network, memory and time limits.

With bubblewrap (``bwrap``, Linux) the command sees the whole file system read-only except
its work folder (bound read-write, ``HOME`` points there) and a private ``/tmp``; it has
its own network namespace (only loopback, which papermill and the kernel talk over) and
its own process namespace (everything it started dies with it). Without ``bwrap`` the
command runs with what the operating system offers: its own session (killed as a whole),
``HOME`` in the work folder, and a ``sitecustomize`` that refuses non-loopback sockets in
Python processes; ``missing_protections()`` names what is then not enforced, and the
grader prints it.

Both ways, ``run_limited`` polls the resident memory of the whole process tree and kills
it above ``memory_mb`` (status ``memory``; not ``RLIMIT_AS``, which breaks torch's large
virtual reservations), and kills it after ``timeout`` seconds (status ``timeout``).

Example::

    >>> run = run_limited([sys.executable, "-c", "print(1)"], work, timeout=60,
    ...                   memory_mb=2048)                                   # doctest: +SKIP
    >>> run.status, run.stdout                                              # doctest: +SKIP
    ('ok', '1\\n')
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get update && apt-get install -y bubblewrap"
POLL_SECONDS = 0.2
MB = 1024 * 1024

_NETBLOCK = '''"""Written by the grader: this submission's Python may use loopback only."""
import ipaddress, socket
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
def _guard(address):
    if isinstance(address, tuple):
        host = str(address[0]).split("%")[0]
        try:
            local = host in ("localhost", "") or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not local:
            raise OSError(101, f"The network is blocked while grading (tried {address[0]})")
def connect(self, address):
    _guard(address)
    return _connect(self, address)
def connect_ex(self, address):
    _guard(address)
    return _connect_ex(self, address)
socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
'''


@dataclass
class LimitedRun:
    """How a sandboxed command ended: ``ok``, ``failed`` (exit status), ``timeout``, ``memory``."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    peak_mb: float
    seconds: float


def bwrap_path() -> str | None:
    """Return the path of a working ``bwrap``, or None where there is none or it cannot run."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev",
                                "--proc", "/proc", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def missing_protections(tool: str | None) -> list[str]:
    """Return what a run without ``tool`` (None: no sandbox tool) does not enforce."""
    if tool:
        return []
    return ["files outside the submission's folder are NOT read-only (it runs as you)",
            "the network is blocked for Python sockets only (not for other programs)",
            "processes it leaves behind are killed by session, not by a process namespace",
            f"install bubblewrap for these protections: {INSTALL_HINT}"]


PRIVATE_FOLDERS = ("/tmp", "/dev/shm")   # empty inside the sandbox


def needed_under_private_folders() -> list[str]:
    """Return what grading reads that lies under /tmp or /dev/shm: Python, the course, assets.

    The sandbox gives the submission an empty /tmp; a Python environment, a clone of the course
    or an asset cache that sits there is bound back, read-only.
    """
    from ...assets import cache_dir

    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, str(cache_dir()),
                  str(Path(__file__).resolve().parents[2]), *filter(None, sys.path)}
    found = set()
    for candidate in candidates:
        path = Path(candidate).resolve()
        inside = [p for p in PRIVATE_FOLDERS if path.is_relative_to(p) and path != Path(p)]
        if inside and path.exists():
            found.add(str(path))
    # a folder inside another one already bound needs no binding of its own
    return sorted(p for p in found if not any(Path(p).is_relative_to(q) and p != q
                                             for q in found))


def sandboxed(command: list[str], work: Path, tool: str | None,
              hide: list[Path] = ()) -> list[str]:
    """Return ``command`` wrapped to run in ``work`` under ``tool`` (``bwrap``), or unchanged."""
    if not tool:
        return list(command)
    work = str(Path(work).resolve())
    wrapped = [tool, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
               "--die-with-parent", "--new-session", "--ro-bind", "/", "/", "--dev", "/dev",
               "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for folder in needed_under_private_folders():  # e.g. a clone and its .venv under /tmp
        wrapped += ["--ro-bind", folder, folder]
    for folder in hide:  # e.g. the teacher's hidden checks: not readable by the submission
        wrapped += ["--tmpfs", str(Path(folder).resolve())]
    wrapped += ["--bind", work, work, "--chdir", work, "--setenv", "HOME", work,
                "--setenv", "TMPDIR", "/tmp", "--"]
    return wrapped + list(command)


def sandbox_environment(work: Path, tool: str | None, extra: dict[str, str] | None = None,
                        ) -> dict[str, str]:
    """Return the environment of a sandboxed command: ``HOME`` in ``work``, the socket block."""
    env = {**os.environ, **(extra or {}), "HOME": str(work)}
    for key in ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
        env.pop(key, None)
    if not tool:  # no network namespace: block Python's sockets through sitecustomize
        block = Path(work) / ".netblock"
        block.mkdir(exist_ok=True)
        (block / "sitecustomize.py").write_text(_NETBLOCK)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(block),
                                                          env.get("PYTHONPATH", "")]))
    return env


def _tree_rss(process) -> float:
    """Return the resident memory in MB of ``process`` and all its descendants."""
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += member.memory_info().rss
    return total / MB


def _kill_tree(process) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        family = process.children(recursive=True) + [process]
        for member in family:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(family, timeout=10)


def run_limited(command: list[str], work: Path, timeout: float, memory_mb: float,
                tool: str | None = None, env: dict[str, str] | None = None,
                hide: list[Path] = ()) -> LimitedRun:
    """Run ``command`` sandboxed in ``work``; kill it above ``memory_mb`` or after ``timeout``."""
    import psutil

    start = time.perf_counter()
    out_path, err_path = Path(work) / ".stdout", Path(work) / ".stderr"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        child = subprocess.Popen(sandboxed(command, work, tool, hide), cwd=work, stdout=out,
                                 stderr=err, env=env or sandbox_environment(work, tool),
                                 start_new_session=True)
    process = psutil.Process(child.pid)
    status, peak = None, 0.0
    while child.poll() is None:
        peak = max(peak, _tree_rss(process))
        if peak > memory_mb:
            status = "memory"
        elif time.perf_counter() - start > timeout:
            status = "timeout"
        if status:
            _kill_tree(process)
            child.wait()
            break
        time.sleep(POLL_SECONDS)
    if status is None:
        status = "ok" if child.returncode == 0 else "failed"
    return LimitedRun(status, child.returncode, _tail(out_path), _tail(err_path), round(peak, 1),
                      round(time.perf_counter() - start, 1))


def regular_file(path: Path, max_bytes: int = 200 * MB) -> bool:
    """Return whether ``path`` is a plain file (no link, device or pipe) of at most ``max_bytes``.

    The grader reads files a submission could have replaced: a link to ``/dev/zero`` or a
    huge file must not hang or flood it.
    """
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes


def _tail(path: Path, size: int = 64 * 1024) -> str:
    """Return the last ``size`` bytes of a regular file as text ("" for anything else)."""
    if not os.path.lexists(path) or not regular_file(path, max_bytes=1 << 62):
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, os.fstat(handle.fileno()).st_size - size))
        return handle.read().decode(errors="replace")
