"""Inside the sandbox: execute one submission, hand back its notebook and answers through a pipe.

``python -m course_utils.tools.grading.worker RESULT_FD`` reads one JSON request on stdin (the
notebook, its parameters, the limits), then, before any of the submission's code runs: makes
its stdin ``/dev/null``, sets ``RLIMIT_NPROC`` (threads and processes of the sandbox's user) and
marks itself not dumpable (so the kernel it starts, same uid, cannot open its pipe through
``/proc``). It executes the notebook with ``execute.execute_in_this_process``; an output hook
stops the kernel once the outputs pass ``output_bytes`` (the outputs so far are kept). Then it
writes one JSON document to ``RESULT_FD``, which the kernel never inherits: the run's status,
the executed notebook and each saved answer file, each within its size limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

FLOOD: dict = {"bytes": 0, "over": False, "nb": None}


def _limit_outputs(limit: int) -> None:
    """Make nbclient drop outputs past ``limit`` bytes and stop the kernel there."""
    from nbclient import NotebookClient

    original = NotebookClient.output

    def output(self, outs, msg, display_id, cell_index):
        FLOOD["nb"] = self.nb
        if FLOOD["over"]:
            return None
        size = len(json.dumps(msg.get("content", {}), default=str))
        FLOOD["bytes"] += size
        if FLOOD["bytes"] <= limit:
            return original(self, outs, msg, display_id, cell_index)
        FLOOD["over"] = True
        from nbformat.v4 import new_output

        outs.append(new_output("stream", name="stderr", text=(
            f"[grader] the outputs passed {limit // (1024 * 1024)} MB: the run was stopped "
            f"here and the rest of the output discarded.\n")))
        _kill_children()
        return None

    NotebookClient.output = output


def _kill_children() -> None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def _read_capped(path: Path, cap: int) -> tuple[str | None, str]:
    """Return (text, problem) of a plain file of at most ``cap`` bytes."""
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return None, "missing"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a plain file"
    if info.st_size > cap:
        return None, f"larger than {cap} bytes"
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        return None, f"larger than {cap} bytes"
    return data.decode("utf-8", errors="replace"), ""


def main(argv: list[str] | None = None) -> int:
    """Run the request read on stdin; write the result to the file descriptor in ``argv``."""
    import ctypes
    import resource

    result_fd = int((argv or sys.argv[1:])[0])
    request = json.loads(sys.stdin.buffer.read(256 * 1024 * 1024))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    processes = int(request["processes"])
    if os.environ.get("COURSE_GRADING_SANDBOXED"):  # only the sandbox's user: binds unless root
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.set_inheritable(result_fd, False)
    work = Path.cwd()
    staged = work / "submission.ipynb"
    staged.write_text(request["notebook"])
    _limit_outputs(int(request["output_bytes"]))
    from ..execute import execute_in_this_process

    output = work / ".executed.ipynb"
    status, error = execute_in_this_process(
        str(staged), str(output), request["parameters"], str(work), None, "python3", "python",
        True)
    result = {"status": status, "error": error, "output_over": FLOOD["over"], "answers": {}}
    cap = int(request["output_bytes"]) * 2 + 1024 * 1024
    if FLOOD["over"] and FLOOD["nb"] is not None:
        import nbformat

        result["executed"] = nbformat.writes(FLOOD["nb"])
    else:
        result["executed"], result["executed_problem"] = _read_capped(output, cap)
    left = int(request["answers_bytes"])
    folder = work / "answers"
    names = sorted(os.listdir(folder))[:1000] if folder.is_dir() and \
        not folder.is_symlink() else []
    for name in names:
        text, problem = _read_capped(folder / name, left)
        if text is not None and name.endswith(".json"):
            result["answers"][name[:-5]] = text
            left -= len(text)
        elif problem and name.endswith(".json"):
            result["answers"][name[:-5]] = None
    with os.fdopen(result_fd, "w") as pipe:
        json.dump(result, pipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
