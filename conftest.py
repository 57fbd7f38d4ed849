"""Session-wide test rules, loaded by every pytest run in this repository (notebooks included).

- Isolation: every kernel the tests start writes lesson outputs into a temporary
  ``COURSE_ARTIFACTS`` (nbval's kernels share one folder, so lesson 05 finds what 02 wrote);
  at the end the session fails if the learner's artifact folder or the top level of the
  asset cache changed.
- nbval's runs: the metrics each lesson records (``course_metric`` output metadata) are kept,
  so the band tests check the default run instead of running the lesson again
  (fixture ``default_run``; those tests run after the notebooks).
- Markers: cells of ``.ipynb`` files get ``notebook``; ``runtime`` tests run only when the
  ``-m`` expression names them (``make test-colab``, ``make test-browser``).

This file sits at the repository root, not in ``tests/``: ``pytest notebooks/01_tokenization.ipynb``
loads only the conftest files above the notebooks, and its kernel must be isolated too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Tests never use the network: the hub libraries (in this process and in every kernel it starts)
# are told so before they are imported.
os.environ.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                   "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                   "KERAS_BACKEND": "torch"})

from course_utils import artifacts, assets  # noqa: E402
from course_utils.record import METRIC_KEY  # noqa: E402

NBVAL_ARTIFACTS = "nbval-artifacts"      # shared by nbval's kernels, in notebook order
OTHER_ARTIFACTS = "session-artifacts"    # everything else that does not set its own folder
NOT_FINGERPRINTED = {"wheels"}           # written by `assets fetch` only, before pytest starts

Fingerprint = dict[str, tuple]


@dataclass
class NotebookRun:
    """What nbval's run of one notebook produced in this session."""

    cells: int = 0                     # cells collected (set once collection is done)
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionState:
    """The session's temporary folders, the learner's fingerprints and nbval's runs."""

    root: Path
    saved_env: str | None
    watched: list[tuple[Path, bool, Fingerprint]]   # folder, is the asset cache, fingerprint
    runs: dict[str, NotebookRun] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)


STATE = pytest.StashKey[SessionState]()


def entry_fingerprint(path: Path) -> tuple:
    """Return what identifies one entry's state: its kind, and a file's size and mtime."""
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_dir():
        return ("folder",)
    if not path.exists():
        return ("absent",)
    stat = path.stat()
    return ("file", stat.st_size, stat.st_mtime_ns)


def folder_fingerprint(folder: Path) -> Fingerprint:
    """Return the state of ``folder`` (key ".") and of every entry below it, by relative path."""
    entries: Fingerprint = {".": entry_fingerprint(folder)}
    if entries["."] == ("folder",):
        for path in folder.rglob("*"):
            try:
                entries[str(path.relative_to(folder))] = entry_fingerprint(path)
            except FileNotFoundError:      # removed while we looked: absent, as it is now
                continue
    return entries


def cache_fingerprint(cache: Path) -> Fingerprint:
    """Return the fingerprint of the cache's top level and everything below it but assets."""
    skipped = NOT_FINGERPRINTED | set(assets.registry())
    if not cache.is_dir():
        return folder_fingerprint(cache)
    entries: Fingerprint = {".": ("folder",)}
    for child in cache.iterdir():
        if child.name in skipped and child.is_dir() and not child.is_symlink():
            continue
        for name, entry in folder_fingerprint(child).items():
            entries[child.name if name == "." else f"{child.name}/{name}"] = entry
    return entries


def fingerprint(folder: Path, is_cache: bool) -> Fingerprint:
    """Return the fingerprint of the asset cache or of an artifact folder."""
    return cache_fingerprint(folder) if is_cache else folder_fingerprint(folder)


def default_artifacts() -> Path:
    """Return where ``artifacts_dir()`` writes without ``COURSE_ARTIFACTS`` (nothing created)."""
    saved = os.environ.pop(artifacts.ARTIFACTS_ENV, None)
    try:
        return artifacts.artifacts_root()             # cache/artifacts, or on a mounted Drive
    finally:
        if saved is not None:
            os.environ[artifacts.ARTIFACTS_ENV] = saved


def watched_folders(saved_env: str | None) -> list[tuple[Path, bool, Fingerprint]]:
    """Return the learner's folders this session must not change, with their fingerprints."""
    cache = assets.cache_dir()
    watched = [(cache, True)]                     # the top level, and cache/artifacts below it
    for folder in (default_artifacts(), Path(saved_env).expanduser() if saved_env else None):
        if folder is not None and not folder.is_relative_to(cache):
            watched.append((folder, False))       # on Drive, or the learner's COURSE_ARTIFACTS
    return [(folder, is_cache, fingerprint(folder, is_cache)) for folder, is_cache in watched]


def describe_changes(folder: Path, before: Fingerprint, after: Fingerprint) -> list[str]:
    """Return one line per entry added, removed or modified between two fingerprints."""
    lines = [f"added {folder / name}" for name in sorted(after.keys() - before.keys())]
    lines += [f"removed {folder / name}" for name in sorted(before.keys() - after.keys())]
    lines += [f"modified {folder / name}" for name in sorted(before.keys() & after.keys())
              if before[name] != after[name]]
    return lines


def pytest_configure(config: pytest.Config) -> None:
    """Fingerprint the learner's folders, then point lesson outputs at temporary folders."""
    saved_env = os.environ.get(artifacts.ARTIFACTS_ENV)
    watched = watched_folders(saved_env)
    root = Path(tempfile.mkdtemp(prefix="course-tests-"))
    for name in (NBVAL_ARTIFACTS, OTHER_ARTIFACTS):
        (root / name).mkdir()
    os.environ[artifacts.ARTIFACTS_ENV] = str(root / OTHER_ARTIFACTS)
    config.stash[STATE] = SessionState(root=root, saved_env=saved_env, watched=watched)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the temporary folders and restore the caller's environment."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    shutil.rmtree(state.root, ignore_errors=True)
    if state.saved_env is None:
        os.environ.pop(artifacts.ARTIFACTS_ENV, None)
    else:
        os.environ[artifacts.ARTIFACTS_ENV] = state.saved_env


def nbval_artifacts(config: pytest.Config) -> Path:
    """Return the folder nbval's kernels use as ``COURSE_ARTIFACTS`` in this session."""
    return config.stash[STATE].root / NBVAL_ARTIFACTS


def is_nbval_cell(item: pytest.Item) -> bool:
    """Return True for an nbval item (one notebook cell)."""
    return item.path.suffix == ".ipynb" and hasattr(item, "cell_num")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """Start nbval's kernels (in their notebook's setup) with the shared nbval folder."""
    if not is_nbval_cell(item):
        return (yield)
    os.environ[artifacts.ARTIFACTS_ENV] = str(nbval_artifacts(item.config))
    try:
        return (yield)
    finally:
        os.environ[artifacts.ARTIFACTS_ENV] = str(item.config.stash[STATE].root / OTHER_ARTIFACTS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep what each nbval cell reported: pass or fail, and the metrics it recorded."""
    report = yield
    if not is_nbval_cell(item) or STATE not in item.config.stash:
        return report
    run = item.config.stash[STATE].runs.setdefault(item.path.name, NotebookRun())
    if report.failed or hasattr(report, "wasxfail"):   # nbval marks cells after a timeout xfail
        run.failed.append(f"{item.name} ({call.when}: {report.outcome})")
    elif call.when == "call":
        run.passed += 1                                  # passed, or skipped by NBVAL_SKIP
    if call.when == "call":
        for output in getattr(item, "test_outputs", None) or []:
            entry = output.get("metadata", {}).get(METRIC_KEY)
            if entry:
                run.metrics[entry["name"]] = entry["value"]
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark notebook cells, keep `runtime` tests out unless asked, run band tests last.

    A test that runs a lesson again (``run_lesson``) must be marked ``more``: `make test`
    runs each lesson once, under nbval, and CI's `make test-more` the other runs.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker("notebook")
        reruns = "run_lesson" in getattr(item, "fixturenames", ())
        if reruns and not item.get_closest_marker("more"):
            raise pytest.UsageError(f"{item.nodeid} runs a lesson again (run_lesson) but is not "
                                    "marked `more`: add @pytest.mark.more (make test-more runs it)")
    if "runtime" not in (config.option.markexpr or ""):
        deselected = [item for item in items if item.get_closest_marker("runtime")]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if not item.get_closest_marker("runtime")]
    # sorted() is stable: band tests keep their order, after every notebook cell
    items.sort(key=lambda item: "default_run" in getattr(item, "fixturenames", ()))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the cells of each notebook that will run, to tell a complete run from a partial one."""
    if STATE not in session.config.stash:
        return
    runs = session.config.stash[STATE].runs
    for item in session.items:
        if is_nbval_cell(item):
            runs.setdefault(item.path.name, NotebookRun()).cells += 1


def notebook_name(config: pytest.Config, selector: str) -> str:
    """Return the file name of the lesson notebook ``selector`` ("04" or "04_frozen...") names."""
    found = sorted((config.rootpath / "notebooks").glob(f"{selector}_*.ipynb"))
    found = found or sorted((config.rootpath / "notebooks").glob(f"{selector}.ipynb"))
    if len(found) != 1:
        raise ValueError(f"No single lesson notebook matches {selector!r} in notebooks/: {found}")
    return found[0].name


def complete_run(config: pytest.Config, name: str) -> NotebookRun | None:
    """Return nbval's run of notebook ``name`` if every one of its cells passed, else None."""
    run = config.stash[STATE].runs.get(name)
    complete = run and run.cells and run.passed == run.cells and not run.failed
    return run if complete else None


@pytest.fixture
def default_run(request):
    """Return a function giving the metrics of nbval's run of a lesson in this session.

    ``default_run("04")`` fails the test (it does not skip) when the lesson's notebook did not
    run completely in this session, saying how to run it.
    """

    def metrics(selector: str) -> dict[str, Any]:
        name = notebook_name(request.config, selector)
        run = request.config.stash[STATE].runs.get(name)
        test_file = request.node.path.relative_to(request.config.rootpath)
        command = f"pytest notebooks/{name} {test_file}"
        if run is None or run.cells == 0:
            pytest.fail(f"{name} did not run in this session, so its default-run bands cannot be "
                        f"checked: run `{command}` (or the whole suite).", pytrace=False)
        if complete_run(request.config, name) is None:
            problems = "; ".join(run.failed) or f"{run.passed} of {run.cells} cells passed"
            pytest.fail(f"nbval's run of {name} is not complete ({problems}): fix that first, "
                        f"then rerun `{command}`.", pytrace=False)
        return run.metrics

    return metrics


@pytest.fixture
def lesson_ran(request):
    """Return a function telling whether nbval ran a lesson completely in this session."""

    def ran(selector: str) -> bool:
        return complete_run(request.config, notebook_name(request.config, selector)) is not None

    return ran


@pytest.fixture(scope="session")
def nbval_artifacts_dir(request) -> Path:
    """Return the temporary ``COURSE_ARTIFACTS`` shared by nbval's kernels in this session."""
    return nbval_artifacts(request.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the session if the learner's artifact folder or the asset cache's top level changed."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    for folder, is_cache, before in state.watched:
        state.changes += describe_changes(folder, before, fingerprint(folder, is_cache))
    if state.changes:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Say which of the learner's files the session changed, and how to fix the test."""
    state = config.stash.get(STATE, None)
    if state is None or not state.changes:
        return
    terminalreporter.section("learner's files changed", sep="=", red=True, bold=True)
    for line in state.changes[:50]:
        terminalreporter.line(line)
    terminalreporter.line(
        f"FAILED: this test session wrote into the learner's folders ({len(state.changes)} "
        f"entries). Tests must write lesson outputs under tmp_path (COURSE_ARTIFACTS) or a "
        f"temporary COURSE_CACHE, never into {assets.cache_dir()}. (Or a lesson run outside "
        f"the tests wrote there meanwhile: then rerun the tests alone.)", red=True)
