"""The function host: where a submission's functions run when a check calls them.

``python -m course_utils.tools.grading.host CALL_FD REPLY_FD`` runs in a sandbox like the
submission's own, holding nothing else: no checks, no verdicts. For each JSON line on
``CALL_FD`` (a function's opaque bytes the first time, its id and plain-data arguments) it
loads the function (cloudpickle bytes run the submission's code: here, and nowhere else), calls
it and writes one JSON line to ``REPLY_FD``: the result as plain data, or the exception's type
and message. The judge reads that reply as data only.
"""

from __future__ import annotations

import base64
import json
import os
import sys

from .plaindata import Unsupported, decode, encode

PROCESSES = 64               # processes and threads of this sandbox

LINE_BYTES = 64 * 1024 * 1024


def serve(call_fd: int, reply_fd: int) -> None:
    """Answer calls until the judge closes its end."""
    import pickle

    functions = {}
    with os.fdopen(call_fd, "rb") as calls:
        while line := calls.readline(LINE_BYTES):
            try:
                request = json.loads(line)
                digest = request["function"]
                if digest not in functions:
                    functions[digest] = pickle.loads(base64.b64decode(request["blob"]))
                args, kwargs = decode(request["args"])
                reply = {"value": encode(functions[digest](*args, **kwargs))}
            except Unsupported as err:
                reply = {"error": ["TypeError", f"the function returned what is not plain data "
                                                f"({err})"]}
            except BaseException as err:  # the submission's code: anything may happen
                reply = {"error": [type(err).__name__, str(err)[:300]]}
            os.write(reply_fd, (json.dumps(reply) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    """Serve the pipes named on the command line."""
    import resource

    if os.environ.get("COURSE_GRADING_SANDBOXED"):  # the sandbox's own user: binds unless root
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))
    argv = sys.argv[1:] if argv is None else argv
    serve(int(argv[0]), int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
