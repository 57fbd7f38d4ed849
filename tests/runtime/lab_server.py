"""Start JupyterLab from the course's environment on a free localhost port, and stop it.

The server gets its own temporary Jupyter folders (settings, workspaces, runtime files), so
the learner's ``~/.jupyter`` is neither read nor written; its root folder is the caller's
(a temporary copy of the lessons, never the committed notebooks).

Example::

    >>> with running_lab(root, tmp_path / "jupyter", env) as lab:       # doctest: +SKIP
    ...     page.goto(lab.url("01_tokenization.ipynb"))
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from course_utils.atomic import write_text_atomically

# Lab settings for a test: every cell stays in the page (no windowing), no news, no update check.
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


class LabError(RuntimeError):
    """JupyterLab did not start or answer; the message holds its log."""


@dataclass
class Lab:
    """A running JupyterLab: its address, token, process and the folder it serves."""

    port: int
    token: str
    process: subprocess.Popen
    log: Path
    root: Path

    @property
    def base(self) -> str:
        """Return the server's address."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """Return the address that opens ``notebook`` alone in a fresh workspace, logged in."""
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API at ``path``; return the decoded JSON (None if empty)."""
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """Stop every kernel the server runs."""
        for kernel in self.api("/api/kernels"):
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")


def free_port() -> int:
    """Return a localhost port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_user_settings(config_dir: Path) -> None:
    """Write the test's Lab settings under ``config_dir`` (Jupyter's config folder)."""
    for relative, values in USER_SETTINGS.items():
        write_text_atomically(config_dir / "lab" / "user-settings" / relative, json.dumps(values))


def lab_command(root: Path, port: int, token: str) -> list[str]:
    """Return the command that serves ``root`` with JupyterLab on ``port``."""
    return [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def wait_until_up(lab: Lab, timeout: float) -> None:
    """Wait until the server answers its status API; raise ``LabError`` with its log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise LabError(f"JupyterLab exited with {lab.process.returncode}:\n"
                           f"{lab.log.read_text()[-4000:]}")
        try:
            lab.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise LabError(f"JupyterLab did not answer within {timeout:.0f} s:\n"
                   f"{lab.log.read_text()[-4000:]}")


def stop(lab: Lab, timeout: float = 30) -> None:
    """Shut the server down (its kernels with it); kill it if it does not stop in time."""
    if lab.process.poll() is None:
        try:
            lab.api("/api/shutdown", method="POST")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            lab.process.send_signal(signal.SIGTERM)
        try:
            lab.process.wait(timeout)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait(timeout)


@contextmanager
def running_lab(root: Path, jupyter_home: Path, env: dict[str, str],
                start_timeout: float = 120) -> Iterator[Lab]:
    """Serve ``root`` with JupyterLab during the block; its own files go to ``jupyter_home``."""
    config_dir = jupyter_home / "config"
    write_user_settings(config_dir)
    env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(config_dir),
           "JUPYTER_DATA_DIR": str(jupyter_home / "data"),
           "JUPYTER_RUNTIME_DIR": str(jupyter_home / "runtime")}
    env.pop("JUPYTER_PATH", None)
    port, token = free_port(), secrets.token_hex(16)
    log = jupyter_home / "lab.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(lab_command(root, port, token), cwd=root, env=env,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    lab = Lab(port, token, process, log, root)
    try:
        wait_until_up(lab, start_timeout)
        yield lab
    finally:
        stop(lab)
