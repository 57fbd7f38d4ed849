"""Judge a submission's captured answers in a process where none of its code ever ran.

``python -m course_utils.tools.grading.judge RESULT_FD [CALL_FD REPLY_FD]`` is started by the
grader in a sandbox of its own, after the submission's processes are gone. It reads one JSON
request on stdin: the exercise ids, the lessons, the teacher's hidden check modules as source
text (they exist nowhere else the submission could reach) and each captured answer file's text.
It loads the checks, rebuilds the trusted objects (``trusted.py``), and judges each exercise in
a forked child of its own from the answers decoded as plain data (``plaindata.decode``: never a
pickle). A function the submission defined is called through the function host (``host.py``,
another sandbox, over the pipes ``CALL_FD``/``REPLY_FD``): arguments and results cross as plain
data. The verdicts go to ``RESULT_FD``, a pipe only this process holds; its stdout is
``/dev/null`` so that nothing a check prints can pass for a verdict.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import select
import sys
import time
import types
from typing import Any

from ...homework.modules import ParameterTable
from .plaindata import FunctionAnswer, Malformed, Unsupported, decode, encode, loads

PROCESSES = 64               # processes and threads of this sandbox

CALL_SECONDS = 30.0          # one call of a submission's function
REPLY_BYTES = 16 * 1024 * 1024
ANSWER_BYTES = 64 * 1024 * 1024


class FunctionHost:
    """The judge's end of the pipes to the function host."""

    def __init__(self, call_fd: int, reply_fd: int) -> None:
        self.call_fd, self.reply_fd, self.sent, self.broken = call_fd, reply_fd, set(), ""

    def call(self, function: FunctionAnswer, args: tuple, kwargs: dict) -> Any:
        """Return what the submission's ``function`` returns for these plain-data arguments."""
        if self.broken:
            raise RuntimeError(self.broken)
        try:
            encoded = encode([list(args), kwargs])
        except Unsupported as err:
            raise TypeError(f"only plain data can be passed to {function.name} while grading "
                            f"({err})") from err
        digest = hashlib.sha256(function.blob).hexdigest()
        request = {"function": digest, "args": encoded}
        if digest not in self.sent:
            import base64

            request["blob"] = base64.b64encode(function.blob).decode("ascii")
            self.sent.add(digest)
        os.write(self.call_fd, (json.dumps(request) + "\n").encode())
        return self._reply(function.name)

    def _reply(self, name: str) -> Any:
        data, deadline = b"", time.monotonic() + CALL_SECONDS
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready = select.select([self.reply_fd], [], [], max(0.0, left))[0] if left > 0 else []
            chunk = os.read(self.reply_fd, 1 << 20) if ready else b""
            if not chunk or len(data) + len(chunk) > REPLY_BYTES:
                self.broken = f"{name} did not return within {CALL_SECONDS:g} s (or returned " \
                              f"more than {REPLY_BYTES // (1024 * 1024)} MB)"
                raise TimeoutError(self.broken)
            data += chunk
        try:
            reply = loads(data, REPLY_BYTES)
            if isinstance(reply, dict) and isinstance(reply.get("error"), list):
                kind, message = (str(part)[:300] for part in reply["error"][:2])
                raise _exception_class(kind)(message)
            if not isinstance(reply, dict) or "value" not in reply:
                raise Malformed("not a reply")
            value = decode(reply["value"])
        except Malformed as err:
            raise ValueError(f"what {name} returned cannot be read as plain data ({err})") from err
        if _holds_function(value):
            raise TypeError(f"{name} returned a function; only plain data can be graded")
        return value


def _holds_function(value: Any) -> bool:
    if isinstance(value, FunctionAnswer):
        return True
    if isinstance(value, (list, tuple, set)):
        return any(_holds_function(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_function(k) or _holds_function(v) for k, v in value.items())
    return False


def _exception_class(name: str) -> type[Exception]:
    """Return the built-in exception called ``name``, else a new class of that name."""
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    safe = "".join(c for c in name if c.isalnum() or c == "_")[:60] or "Error"
    return type(safe if not safe[0].isdigit() else f"E{safe}", (Exception,), {})


class SubmittedFunction:
    """A submission's function, as the checks see it: called in the function host."""

    def __init__(self, answer: FunctionAnswer, host: FunctionHost) -> None:
        self.answer, self.host = answer, host
        self.__name__ = answer.name

    def __call__(self, *args, **kwargs):
        return self.host.call(self.answer, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.answer.name}>"


def load_checks(lessons: list[str], hidden: list[list[str]]) -> None:
    """Register the lessons' checks, the extra modules and the hidden ones (from source)."""
    import importlib.util

    from ...homework.core import EXTRA_MODULES_ENV, _import_checks

    for lesson in lessons:
        name = f"course_utils.homework.lesson{lesson}"
        if importlib.util.find_spec(name) is not None:
            _import_checks(name)
    for entry in filter(None, os.environ.get(EXTRA_MODULES_ENV, "").split(os.pathsep)):
        _import_checks(entry)
    for index, (_, source) in enumerate(hidden):
        module = types.ModuleType(f"course_hidden_checks_{index}")
        module.__file__ = f"<hidden checks {index}>"
        sys.modules[module.__name__] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)


def namespace(exercise, record: Any, trusted: dict[str, Any],
              host: FunctionHost | None) -> tuple[dict[str, Any], list[str]]:
    """Return the variables of one exercise and what could not be graded among them."""
    if not isinstance(record, dict):
        raise Malformed("the answer file is not a record of names")
    variables, refused = {}, []
    for name in exercise.names:
        if name in trusted:
            variables[name] = trusted[name]
            continue
        entry = record.get(name)
        if entry is None:
            continue
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise Malformed(f"the entry of {name} is malformed")
        state, payload = entry
        if state == "ok":
            value = decode(payload)
            if isinstance(value, FunctionAnswer):
                if host is None:
                    refused.append(f"`{name}` is a function, and no function host was started")
                    continue
                value = SubmittedFunction(value, host)
            elif _holds_function(value):
                refused.append(f"`{name}` holds functions, which are not plain data")
                continue
            elif isinstance(value, ParameterTable) and name not in exercise.parameter_tables:
                refused.append(f"`{name}` is a module, which this check runs; the grader sees a "
                               "module only as its table of parameters")
                continue
            variables[name] = value
        elif state == "unsupported":
            refused.append(f"`{name}`: {str(payload)[:200]}")
        elif state != "missing":
            raise Malformed(f"unknown state {state[:20]!r}")
    return variables, refused


def judge(exercise_id: str, answers: dict[str, Any], trusted: dict[str, Any],
          host: FunctionHost | None) -> dict[str, Any]:
    """Return the verdict on ``exercise_id`` from the captured answer files' text."""
    from ...homework.core import EXERCISES, assess

    text = answers.get(exercise_id) or answers.get("final")
    if text is None:
        return {"passed": False, "reached": False, "message": "not reached"}
    try:
        variables, refused = namespace(EXERCISES[exercise_id], loads(text, ANSWER_BYTES),
                                       trusted, host)
    except Malformed as err:
        return {"passed": False, "reached": True,
                "message": f"the saved answers could not be read as plain data ({err})"}
    if refused:
        return {"passed": False, "reached": True, "message": (
            "Not graded: the grader checks values, not objects, and "
            + "; ".join(refused) + ".")}
    verdict = assess(exercise_id, variables)
    return {"passed": bool(verdict.passed), "reached": True, "message": verdict.message}


def _in_child(exercise_id: str, answers: dict, trusted: dict, host) -> dict[str, Any]:
    """Return ``judge`` run in a forked child: one answer's values cannot touch another's."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = judge(exercise_id, answers, trusted, host)
        except BaseException as err:
            result = {"passed": False, "reached": True,
                      "message": f"checking raised {type(err).__name__}: {str(err)[:200]}"}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read(1 << 20)
    os.waitpid(pid, 0)
    try:
        verdict = json.loads(text)
        if isinstance(verdict, dict) and isinstance(verdict.get("message"), str):
            return verdict
    except ValueError:
        pass
    return {"passed": False, "reached": True,
            "message": "checking this answer stopped the checking process"}


def main(argv: list[str] | None = None) -> int:
    """Judge the request read on stdin; write the verdicts to the descriptor in ``argv``."""
    import resource

    if os.environ.get("COURSE_GRADING_SANDBOXED"):  # the sandbox's own user: binds unless root
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))
    argv = sys.argv[1:] if argv is None else argv
    result_fd = int(argv[0])
    host = FunctionHost(int(argv[1]), int(argv[2])) if len(argv) == 3 else None
    os.set_inheritable(result_fd, False)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    request = json.loads(sys.stdin.buffer.read())
    from ...homework.core import EXERCISES
    from .trusted import build, trusted_names

    load_checks(request["lessons"], request["hidden"])
    ids = [i for i in request["ids"] if i in EXERCISES]
    built: dict = {}
    verdicts = {}
    for exercise_id in ids:
        exercise = EXERCISES[exercise_id]
        trusted = {name: build(name, exercise.lesson, built)
                   for name in trusted_names(exercise.lesson) & set(exercise.names)}
        verdicts[exercise_id] = _in_child(exercise_id, request["answers"], trusted, host)
    with os.fdopen(result_fd, "w") as pipe:
        json.dump(verdicts, pipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
