"""Run a submission's processes in a bubblewrap sandbox without privileges, under every limit.

A sandbox (``bwrap``, Linux) gets, whoever runs the grader (root included): a new user namespace
in which it is uid 65534 with an empty capability set and no further user namespaces
(``--unshare-user --uid 65534 --cap-drop ALL --disable-userns``), new network, PID, IPC, UTS
and cgroup namespaces (``--unshare-all``: loopback only), its own session, death with the grader
(``--die-with-parent``), and a seccomp filter (libseccomp, ``seccomp_program``) that denies
mounting, namespaces, ptrace, BPF, keyrings, io_uring and cross-process memory calls. It sees,
read-only, only the Python environment, the installed course package, the asset cache and the
system libraries; its writable folders (``/tmp``, ``/dev/shm`` and its work folder, ``HOME``)
are tmpfs mounts of fixed size. Its environment is an allow-list (``--clearenv``), its stdin a
pipe the grader writes and closes. What it hands back comes through a pipe (``result``) that
only the sandbox's first process holds.

``supervise`` enforces, per submission, one deadline (the run and its checks), the memory of its
process trees plus what its tmpfs mounts hold, a process (thread) count, and reports a tmpfs that
filled up. ``sandbox_problems()`` says why a sandbox cannot be had here (the grader then refuses
to run unless told ``sandbox=False``). Example::

    >>> run = start([sys.executable, "-c", "print(1)"], Limits(), stdin=b"")  # doctest: +SKIP
    >>> supervise([run], Limits(), deadline=time.monotonic() + 60).status    # doctest: +SKIP
    'ok'
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "apt-get update && apt-get install -y bubblewrap libseccomp2"
WORK = "/grading/work"          # the sandbox's work folder and HOME (a tmpfs)
SANDBOX_UID = 65534
POLL_SECONDS = 0.1
GRACE_SECONDS = 5.0             # how long a stopped run's worker gets to hand back its result
PSS_PROCESSES = 16              # above this many processes, memory is their RSS (PSS is slow)
MB = 1024 * 1024
SANDBOXED_ENV = "COURSE_GRADING_SANDBOXED"   # set in a sandbox: RLIMIT_NPROC binds its user only
DENIED_CALLS = ("mount", "umount2", "setns", "unshare", "ptrace", "bpf", "keyctl", "add_key",
                "request_key", "pivot_root", "chroot", "kexec_load", "kexec_file_load",
                "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree",
                "mount_setattr", "process_vm_readv", "process_vm_writev", "io_uring_setup",
                "io_uring_enter", "io_uring_register", "userfaultfd", "perf_event_open",
                "init_module", "finit_module", "delete_module", "swapon", "swapoff", "reboot",
                "acct", "quotactl", "open_by_handle_at", "name_to_handle_at", "personality")


@dataclass(frozen=True)
class Limits:
    """What one submission may use: memory (tmpfs included), processes, folders, output."""

    memory_mb: float = 4096
    processes: int = 256        # threads and processes together (RLIMIT_NPROC, and counted)
    tmp_mb: int = 256           # /tmp
    shm_mb: int = 64            # /dev/shm
    work_mb: int = 256          # the work folder (HOME)
    output_mb: float = 16       # the outputs of the executed notebook
    answers_mb: float = 32      # the captured answers, all together


@dataclass
class Started:
    """One sandboxed process the grader started: its pipes and what came back through them."""

    process: subprocess.Popen
    tool: str | None
    result: bytearray = field(default_factory=bytearray)
    result_overflow: bool = False
    stderr: bytearray = field(default_factory=bytearray)
    child_pid: int | None = None      # the sandbox's first process, as the host numbers it
    cgroups: list[Path] = field(default_factory=list)  # root: where the kernel counts its tasks
                                                       # (pids) and its memory, tmpfs included
    threads: list[threading.Thread] = field(default_factory=list)
    cleanup: list = field(default_factory=list)


@dataclass
class Supervised:
    """How supervised processes ended: ``ok``/``failed`` or the limit that stopped them."""

    status: str                  # ok, failed, timeout, memory, processes
    detail: str = ""
    full: list[str] = field(default_factory=list)   # tmpfs mounts that filled up
    peak_mb: float = 0.0
    seconds: float = 0.0


def bwrap_path() -> str | None:
    """Return the path of ``bwrap``, or None where there is none (or not on Linux)."""
    path = shutil.which("bwrap")
    return path if path and sys.platform.startswith("linux") else None


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """Return the compiled seccomp filter: EPERM for ``DENIED_CALLS``, ENOSYS for clone3.

    ``clone`` with ``CLONE_NEWUSER`` is denied too, so no user namespace can be made inside.
    """
    import errno

    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_CALLS:
        with contextlib.suppress(Exception):  # a call this kernel or libseccomp does not know
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # flags unreadable: glibc falls back
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                   seccomp.Arg(0, seccomp.MASKED_EQ, 0x10000000, 0x10000000))
    read, write = os.pipe()
    with os.fdopen(write, "wb") as handle:
        rules.export_bpf(handle)
    with os.fdopen(read, "rb") as handle:
        return handle.read()


def _readable_paths() -> list[str]:
    """Return the folders the sandbox reads: Python, the course package, the asset cache."""
    from ...assets import cache_dir
    from ...homework.core import EXTRA_MODULES_ENV

    package = Path(__file__).resolve().parents[2]
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(package), str(cache_dir())}
    paths |= set(filter(None, os.environ.get(EXTRA_MODULES_ENV, "").split(os.pathsep)))
    resolved = {str(Path(p).resolve()) for p in paths if p and os.path.exists(p)}
    resolved |= {str(Path(p).absolute()) for p in paths if p and os.path.exists(p)}
    system = ("/usr",)
    return sorted(p for p in resolved if not any(Path(p).is_relative_to(s) for s in system)
                  and not any(p != q and Path(p).is_relative_to(q) for q in resolved))


def _system_arguments() -> list[str]:
    """Return bwrap arguments for the system libraries: /usr, and /lib*, /bin as on the host."""
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            arguments += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            arguments += ["--ro-bind", name, name]
    for name in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                 "/etc/alternatives"):
        if os.path.exists(name):
            arguments += ["--ro-bind", name, name]
    return arguments


NETWORK_BLOCK = '''"""Written by the grader: this submission's Python may use loopback only."""
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


def network_block(home: Path) -> Path:
    """Write the unsafe mode's ``sitecustomize`` (Python sockets: loopback only) under ``home``."""
    folder = Path(home) / ".netblock"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(NETWORK_BLOCK)
    return folder


ETC_FILES = {"passwd": f"grader:x:{SANDBOX_UID}:{SANDBOX_UID}:grader:{WORK}:/bin/sh\n",
             "group": f"grader:x:{SANDBOX_UID}:\n",
             "hosts": "127.0.0.1 localhost\n::1 localhost\n"}


def sandbox_environment(extra: dict[str, str] | None = None, home: str = WORK) -> dict[str, str]:
    """Return the sandbox's whole environment: an allow-list, nothing of the grader's own."""
    from ...assets import cache_dir
    from ...homework.core import EXTRA_MODULES_ENV

    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "COURSE_CACHE": str(cache_dir()), "COURSE_ARTIFACTS": f"{home}/artifacts",
           # the grader's own course package, however it was installed (only it is bound)
           "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    if home == WORK:  # inside bwrap: the sandbox's own processes limit themselves
        env[SANDBOXED_ENV] = "1"
    for name in ("COURSE_THREADS", EXTRA_MODULES_ENV):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return {**env, **(extra or {})}


def bwrap_arguments(tool: str, limits: Limits, env: dict[str, str], etc: Path,
                    seccomp_fd: int, info_fd: int) -> list[str]:
    """Return the ``bwrap`` command line before the sandboxed command."""
    arguments = [tool, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid",
                 str(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL", "--die-with-parent",
                 "--new-session", "--hostname", "grading", "--proc", "/proc", "--dev", "/dev",
                 "--size", str(limits.shm_mb * MB), "--tmpfs", "/dev/shm",
                 "--size", str(limits.tmp_mb * MB), "--tmpfs", "/tmp",
                 "--size", str(limits.work_mb * MB), "--tmpfs", WORK, *_system_arguments()]
    for path in _readable_paths():  # after the tmpfs mounts: a course under /tmp shows through
        arguments += ["--ro-bind", path, path]
    for name in ETC_FILES:
        arguments += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    arguments += ["--chdir", WORK, "--clearenv"]
    for key, value in sorted(env.items()):
        arguments += ["--setenv", key, value]
    return arguments + ["--seccomp", str(seccomp_fd), "--info-fd", str(info_fd), "--"]


def _drain(stream, sink: bytearray, cap: int, keep_tail: bool = False,
           started: Started | None = None) -> None:
    """Read ``stream`` to its end into ``sink``, keeping at most ``cap`` bytes."""
    with contextlib.suppress(OSError, ValueError):
        while chunk := stream.read(65536):
            if keep_tail:
                sink += chunk
                del sink[:max(0, len(sink) - cap)]
            elif len(sink) + len(chunk) <= cap:
                sink += chunk
            elif started is not None:
                started.result_overflow = True
    with contextlib.suppress(OSError):
        stream.close()


def _feed(handle, data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):
        handle.write(data)
    with contextlib.suppress(OSError, ValueError):
        handle.close()


def _own_cgroup_folders() -> list[tuple[str, Path]]:
    """Return (controller, folder) where this process could make child cgroups: v1 pids and
    memory, or the v2 hierarchy ("unified")."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    folders = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in ("pids", "memory"):
            if name in controllers.split(","):
                folders.append((name, Path("/sys/fs/cgroup") / name / path.lstrip("/")))
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            folders.append(("unified", Path("/sys/fs/cgroup") / path.lstrip("/")))
    return folders


def sandbox_cgroups(limit: int) -> list[Path]:
    """Return new cgroups for one sandbox: ``pids.max = limit``, and memory accounting.

    As root the kernel does not apply ``RLIMIT_NPROC`` to the sandbox (its processes keep the
    grader's uid 0 outside), so a pids cgroup is what bounds a fork bomb there; a memory cgroup
    counts each page once (a forked child's shared pages, tmpfs files). Empty where the grader
    may make none (not root, or no writable hierarchy): then the limits are RLIMIT_NPROC and
    the processes' resident memory plus their tmpfs mounts.
    """
    import uuid

    made = []
    for controller, parent in _own_cgroup_folders():
        folder = parent / f"course-grading-{uuid.uuid4().hex[:12]}"
        try:
            folder.mkdir()
        except OSError:
            continue
        made.append(folder)
        with contextlib.suppress(OSError):
            if controller in ("pids", "unified") and (folder / "pids.max").exists():
                (folder / "pids.max").write_text(str(limit))
    return made


def _enter_cgroups(folders: list[Path]):
    """Return a ``preexec_fn`` that moves the new process into ``folders`` before it runs."""
    if not folders:
        return None
    targets = [str(folder / "cgroup.procs").encode() for folder in folders]

    def enter() -> None:
        for target in targets:
            fd = os.open(target, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    return enter


def limit_reached(started: Started) -> bool:
    """Return whether the kernel refused ``started`` a process at its cgroup's limit."""
    for folder in started.cgroups:
        with contextlib.suppress(OSError, ValueError):
            for line in (folder / "pids.events").read_text().splitlines():
                if line.startswith("max ") and int(line.split()[1]) > 0:
                    return True
    return False


def cgroup_memory_mb(started: Started) -> float | None:
    """Return the anonymous and tmpfs memory of ``started``'s cgroup in MB; None without one."""
    for folder in started.cgroups:
        try:
            lines = (folder / "memory.stat").read_text().splitlines()
        except OSError:
            continue
        stat = dict(line.split()[:2] for line in lines if len(line.split()) >= 2)
        keys = ("total_rss", "total_shmem") if "total_rss" in stat else ("anon", "shmem")
        return sum(int(stat.get(key, 0)) for key in keys) / MB
    return None


def start(command: list[str], limits: Limits, stdin: bytes, tool: str | None = None,
          env: dict[str, str] | None = None, result_cap: int = 0, pass_fds: tuple = (),
          workdir: Path | None = None) -> Started:
    """Start ``command`` sandboxed under ``tool`` (``bwrap``; None: unsafe, in ``workdir``).

    ``{result_fd}`` in ``command`` becomes the number of the result pipe (read up to
    ``result_cap`` bytes). The command reads ``stdin``; its stdout is discarded and the last
    64 KB of its stderr kept.
    """
    import tempfile

    fds, cleanup = list(pass_fds), []
    read_result, write_result = os.pipe()
    fds.append(write_result)
    command = [part.replace("{result_fd}", str(write_result)) for part in command]
    info_read = None
    if tool:
        etc = Path(tempfile.mkdtemp(prefix="grading-etc-"))
        cleanup.append(lambda: shutil.rmtree(etc, ignore_errors=True))
        for name, text in ETC_FILES.items():
            (etc / name).write_text(text)
        seccomp_read, seccomp_write = os.pipe()
        program = seccomp_program()
        os.write(seccomp_write, program)  # a few hundred bytes: fits the pipe's buffer
        os.close(seccomp_write)
        info_read, info_write = os.pipe()
        fds += [seccomp_read, info_write]
        command = bwrap_arguments(tool, limits, env or sandbox_environment(), etc, seccomp_read,
                                  info_write) + command
        cwd, environment = "/", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    else:
        cwd, environment = str(workdir), env or sandbox_environment(home=str(workdir))
    cgroups = sandbox_cgroups(limits.processes) if tool and os.geteuid() == 0 else []
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, pass_fds=fds, cwd=cwd,
                                   env=environment, start_new_session=True,
                                   preexec_fn=_enter_cgroups(cgroups))
    except BaseException:
        for folder in cgroups:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        for fd in fds:
            if fd not in pass_fds:
                os.close(fd)
    started = Started(process, tool, cleanup=cleanup, cgroups=cgroups)
    if info_read is not None:
        started.child_pid = _child_pid(info_read)
    result = os.fdopen(read_result, "rb", buffering=0)
    started.threads = [
        threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, started.stderr, 65536, True),
                         daemon=True),
        threading.Thread(target=_drain, args=(result, started.result, result_cap, False,
                                              started), daemon=True)]
    for thread in started.threads:
        thread.start()
    return started


def _child_pid(info_read: int) -> int | None:
    """Return bwrap's ``child-pid`` from its info pipe (None when bwrap failed first)."""
    import json

    text = b""
    with os.fdopen(info_read, "rb") as handle:
        while chunk := handle.read(4096):
            text += chunk
            if len(text) > 65536:
                break
    try:
        pid = json.loads(text.decode()).get("child-pid")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _family(started: Started) -> list:
    """Return every process of ``started`` (bwrap, its sandbox, their descendants)."""
    import psutil

    try:
        root = psutil.Process(started.process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _worker_descendants(started: Started) -> list:
    """Return the processes the sandbox's command started (for a worker: its kernel)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        top = psutil.Process(started.child_pid or started.process.pid)
        command = top.children()[0] if started.child_pid else top
        return command.children(recursive=True)
    return []


def _usage(family: list, pss: bool = False) -> tuple[float, int]:
    """Return (MB, threads) of ``family`` together: resident memory, or PSS with ``pss``.

    PSS counts a page shared by several processes once in all (a forked child's pages are
    shared with its parent until written); RSS counts it in each, so it is an upper bound,
    and PSS is read (slower) only when RSS says a limit is passed.
    """
    import psutil

    total, threads = 0, 0
    for member in family:
        with contextlib.suppress(psutil.Error), member.oneshot():
            threads += member.num_threads()
            try:
                total += member.memory_full_info().pss if pss else member.memory_info().rss
            except (psutil.AccessDenied, AttributeError):
                total += member.memory_info().rss
    return total / MB, threads


def _tmpfs_used(started: Started, limits: Limits) -> tuple[float, list[str]]:
    """Return (MB held by the sandbox's tmpfs mounts, the mounts that are full)."""
    if not started.child_pid:
        return 0.0, []
    used, full = 0.0, []
    for mount, size in (("/tmp", limits.tmp_mb), ("/dev/shm", limits.shm_mb),
                        (WORK, limits.work_mb)):
        with contextlib.suppress(OSError):
            info = os.statvfs(f"/proc/{started.child_pid}/root{mount}")
            if abs(info.f_blocks * info.f_frsize - size * MB) > MB:
                continue  # not the sandbox's own mount (it has not started, or has ended)
            taken = (info.f_blocks - info.f_bfree) * info.f_frsize / MB
            used += taken
            if info.f_bavail * info.f_frsize < 64 * 1024 and info.f_blocks:
                full.append(f"{mount} ({size} MB)")
    return used, full


def stop_gently(started: Started) -> None:
    """Freeze, then kill, what the sandbox's command started; the command itself lives on."""
    import psutil

    for _ in range(5):  # a fork bomb's children are frozen before they are killed
        members = _worker_descendants(started)
        if not members:
            return
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(signal.SIGSTOP)
    for member in _worker_descendants(started):
        with contextlib.suppress(psutil.Error):
            member.kill()


def kill(started: Started) -> None:
    """Kill every process of ``started`` (its sandbox first: that ends its PID namespace)."""
    import psutil

    with contextlib.suppress(OSError):
        os.killpg(started.process.pid, signal.SIGKILL)
    family = _family(started)
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        started.process.wait(timeout=10)


def finish(started: Started) -> None:
    """Wait for the pipes of ``started`` to close and remove its temporary files and cgroup."""
    for thread in started.threads:
        thread.join(timeout=5)
    for step in started.cleanup:
        step()
    if started.cgroups:  # its last processes may still be being reaped: remove them after
        _PENDING_CGROUPS.update(started.cgroups)
        threading.Thread(target=_remove_cgroups, args=(started.cgroups,), daemon=True).start()


_PENDING_CGROUPS: set[Path] = set()


def _remove_cgroups(folders, seconds: float = 120) -> None:
    """Remove the (emptied) cgroups ``folders``, retrying while their last tasks are reaped."""
    end = time.monotonic() + seconds
    for folder in list(folders):
        while time.monotonic() < end:
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                time.sleep(0.2)
                continue
            _PENDING_CGROUPS.discard(folder)
            break


atexit.register(lambda: _remove_cgroups(set(_PENDING_CGROUPS), seconds=15))


def supervise(runs: list[Started], limits: Limits, deadline: float,
              gentle: bool = False) -> Supervised:
    """Watch ``runs`` until they end or break a limit; return how they ended.

    ``deadline`` is a ``time.monotonic()`` value. With ``gentle`` a stopped run's first
    process (the worker) gets ``GRACE_SECONDS`` to hand back its result before it is killed.
    """
    began, peak, status, detail, full = time.monotonic(), 0.0, None, "", set()
    while any(run.process.poll() is None for run in runs) and status is None:
        memory, threads = 0.0, 0
        for run in runs:
            run_rss, run_threads = _usage(_family(run))
            used, filled = _tmpfs_used(run, limits)
            counted = cgroup_memory_mb(run)  # each page once, tmpfs included
            memory += run_rss + used if counted is None else counted
            threads += run_threads
            full |= set(filled)
        if threads >= limits.processes or any(limit_reached(run) for run in runs):
            status, detail = "processes", f"more than {limits.processes} processes and threads"
            break
        families = [_family(run) for run in runs]
        if memory > limits.memory_mb and sum(map(len, families)) <= PSS_PROCESSES and \
                not any(run.cgroups for run in runs):
            memory = sum(_usage(family, pss=True)[0] + _tmpfs_used(run, limits)[0]
                         for run, family in zip(runs, families))
        peak = max(peak, memory)
        if memory > limits.memory_mb:
            status, detail = "memory", (f"above the memory limit of {limits.memory_mb:g} MB "
                                        f"(processes and their tmpfs files together)")
        elif time.monotonic() > deadline:
            status, detail = "timeout", "after the time limit"
        else:
            time.sleep(POLL_SECONDS)
    bounded = os.geteuid() != 0 or all(run.cgroups for run in runs)  # NPROC or pids.max binds
    if status and gentle and runs and (status != "processes" or bounded):
        stop_gently(runs[0])  # without a cgroup a fork bomb is killed at once, PID namespace
        with contextlib.suppress(subprocess.TimeoutExpired):
            runs[0].process.wait(timeout=GRACE_SECONDS)
    for run in runs:
        if run.process.poll() is None:
            kill(run)
        finish(run)
    if status is None:
        status = "ok" if all(run.process.returncode == 0 for run in runs) else "failed"
    return Supervised(status, detail, sorted(full), round(peak, 1),
                      round(time.monotonic() - began, 1))


PROBE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]
mount = libc.mount(b'none', b'/tmp', None, 32, None)
umount = libc.umount2(b'/tmp', 0)
userns = libc.unshare(0x10000000)
seen = sorted(os.listdir('/'))
line = f"{caps} {os.getuid()} {mount} {umount} {userns} {','.join(seen)}"
os.write(int(__import__('sys').argv[1]), line.encode())
"""


@functools.lru_cache(maxsize=1)
def sandbox_problems() -> tuple[str, ...]:
    """Return why a sandbox without privileges cannot be had here; empty when it can."""
    tool = bwrap_path()
    if tool is None:
        return (f"bubblewrap (bwrap) is missing: {INSTALL_HINT}",)
    try:
        seccomp_program()
    except Exception as err:  # no libseccomp, or no Python bindings for it
        return (f"no seccomp filter ({type(err).__name__}: {err}): {INSTALL_HINT}; "
                "pip install -e '.[grade]' (pyseccomp)",)
    run = start([sys.executable, "-c", PROBE, "{result_fd}"], Limits(), b"", tool,
                result_cap=4096)
    done = supervise([run], Limits(), time.monotonic() + 60)
    words = bytes(run.result).decode(errors="replace").split() or \
        bytes(run.stderr).decode(errors="replace").strip().splitlines()[-1:]
    return _probe_problems(done.status, words, bytes(run.stderr))


def _probe_problems(status: str, words: list[str], stderr: bytes) -> tuple[str, ...]:
    fix = ("user namespaces must be allowed for this user (sysctl kernel.unprivileged_userns_clone"
           "=1, user.max_user_namespaces > 0, or an AppArmor profile that lets bwrap use them), "
           "and Python, the course and its asset cache readable by it")
    if status != "ok" or len(words) != 6:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [status]
        return (f"bwrap cannot start a sandbox without privileges here ({detail[0][:200]}): "
                f"{fix}",)
    caps, uid, mount, umount, userns, _ = words
    problems = []
    if int(caps, 16) != 0:
        problems.append(f"the sandbox keeps capabilities (CapEff {caps})")
    if uid == "0":
        problems.append("the sandbox runs as uid 0")
    if "0" in (mount, umount, userns):
        problems.append("the sandbox can mount, unmount or make user namespaces")
    return tuple(f"{p}: {fix}" for p in problems)
