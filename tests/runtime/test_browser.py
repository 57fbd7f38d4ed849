"""Lessons 01 and 03 in real JupyterLab, driven through its menus by a headless Chromium.

JupyterLab runs from the course's environment on a temporary copy of the lessons (outputs
cleared, small parameters appended to the parameters cell); Playwright opens each lesson,
clicks Run > Run All Cells, waits for the kernel, and reads what the page shows. A screenshot
of each lesson goes to ``runs/browser/``. Run with ``make test-browser``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from lab_server import Lab, running_lab

from course_utils.atomic import write_bytes_atomically

pytestmark = pytest.mark.runtime

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "runs" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LESSONS = {"01_tokenization.ipynb": {"max_examples": 3000, "compare_examples": 300,
                                     "batch_size": 32, "seed": 1},
           "03_your_own_data.ipynb": {"max_length": 64, "batch_size": 16, "seed": 1}}
PROBE = "00_error_probe.ipynb"  # a two-cell notebook whose second cell fails
RUN_ALL = "runmenu:run-all"  # the Run menu's "Run All Cells"
RUN_TIMEOUT = 600  # seconds for one lesson's Run All
VERDICT = re.compile(r"\[(PASSED|NOT YET)\] Exercise (\d\d\.\d+)")
# JupyterLab renders an error output like stderr (data-mime-type ".../stderr"): an error is a
# stderr output that shows a traceback, or the one-line message of an exception that hides it.
STDERR = "application/vnd.jupyter.stderr"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^Set-up stopped: "
                       r"|^[A-Za-z_][\w.]*(Error|Exception): ", re.MULTILINE)

# What the page shows, read in one go: prompts of the code cells, outputs, the kernel's state.
PAGE_STATE = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell')];
  return {
    prompts: cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim()),
    outputs: [...panel.querySelectorAll('.jp-OutputArea-output')].map(
      o => ({mime: o.dataset.mimeType || '', text: o.innerText})),
    kernel: panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status || null,
  };
}"""


def shown_errors(state: dict) -> list[str]:
    """Return the error outputs (tracebacks) the page shows, each cut to 2000 characters."""
    return [o["text"][:2000] for o in state["outputs"]
            if o["mime"] == STDERR and TRACEBACK.search(o["text"])]


# True once Run All has started: some code cell's prompt is no longer empty ("[ ]:").
STARTED = """() => [...document.querySelectorAll(
  '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
  .some(p => p.textContent.trim() !== '[ ]:')"""


def prepare_lessons(source: Path, target: Path) -> Path:
    """Copy the lessons to ``target`` with outputs cleared and small parameters; return it."""
    target.mkdir(parents=True)
    for name, parameters in LESSONS.items():
        nb = nbformat.read(str(source / name), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                if "parameters" in cell.metadata.get("tags", []):
                    lines = [f"{key} = {value!r}  # small, for the browser test"
                             for key, value in parameters.items()]
                    cell.source = "\n".join([cell.source, *lines])
        nbformat.write(nb, str(target / name))
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("fine")'),
                                            nbformat.v4.new_code_cell("1 / 0")],
                                     metadata={"kernelspec": {"name": "python3",
                                                              "display_name": "Python 3",
                                                              "language": "python"}})
    nbformat.write(probe, str(target / PROBE))
    return target


def executed_count(prompt: str) -> bool:
    """Return True when an input prompt shows an execution count ("[12]:")."""
    return re.fullmatch(r"\[\d+\]:", prompt) is not None


# Dialogs JupyterLab showed during the session, as "title: body" (printed when a test fails).
SEEN_DIALOGS: list[str] = []


def close_dialogs(page) -> None:
    """Close any dialog that covers the page (pressing its cancel button), noting its text.

    A dialog (a kernel that restarted, a slow server) would otherwise swallow the menu clicks;
    what happened to the cells is judged by the assertions that follow, not here.
    """
    dialogs = page.locator(".jp-Dialog")
    for _ in range(5):
        if not dialogs.count():
            return
        dialog = dialogs.first
        SEEN_DIALOGS.append(" ".join(dialog.inner_text().split())[:500])
        cancel = dialog.locator(".jp-Dialog-button.jp-mod-reject")
        if cancel.count():
            cancel.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)
    raise AssertionError(f"JupyterLab keeps showing dialogs: {SEEN_DIALOGS}")


def click_menu(page, menu: str, command: str, attempts: int = 3) -> None:
    """Click ``menu`` in the menu bar, then the item that runs ``command``.

    A dialog that opens meanwhile is closed and the clicks are tried again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        close_dialogs(page)
        try:
            page.get_by_role("menuitem", name=menu, exact=True).click(timeout=10_000)
            page.locator(f'.lm-Menu-item[data-command="{command}"]:not(.lm-mod-disabled)').click(
                timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def click_run_all(page, attempts: int = 3) -> None:
    """Click Run > Run All Cells until a cell starts (a fresh page may ignore the first click)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        click_menu(page, "Run", RUN_ALL)
        try:
            page.wait_for_function(STARTED, timeout=15_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"Run > Run All Cells started no cell after {attempts} clicks.")


def run_all_and_wait(page, timeout: float = RUN_TIMEOUT) -> dict:
    """Click Run > Run All Cells; wait until the kernel is idle and nothing is queued."""
    click_run_all(page)
    deadline = time.monotonic() + timeout
    settled = 0
    state = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        state = page.evaluate(PAGE_STATE)
        done = (state["kernel"] == "idle" and "[*]:" not in state["prompts"]
                and (all(map(executed_count, state["prompts"])) or shown_errors(state)))
        settled = settled + 1 if done else 0
        if settled >= 3:  # idle for three polls in a row: Run All has finished
            return state
    raise AssertionError(f"Run All did not finish within {timeout:.0f} s: {state}; "
                         f"dialogs seen: {SEEN_DIALOGS}")


def saved_notebook(page, path: Path, timeout: float = 60) -> nbformat.NotebookNode:
    """Save the open notebook with File > Save Notebook; return it as written to ``path``."""
    before = path.stat().st_mtime_ns
    click_menu(page, "File", "docmanager:save")
    deadline = time.monotonic() + timeout
    while path.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"File > Save Notebook did not write {path} in {timeout:.0f} s")
        time.sleep(0.5)
    time.sleep(1)  # the server writes through a temporary file; let it finish
    return nbformat.read(str(path), as_version=4)


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Return "ename: evalue" of every error output in ``nb``."""
    return [f"{out.ename}: {out.evalue}" for cell in nb.cells if cell.cell_type == "code"
            for out in cell.outputs if out.output_type == "error"]


def open_notebook(page, lab: Lab, name: str) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.url(name))
    page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
        timeout=120_000)


def screenshot(page, name: str) -> Path:
    """Save what the page shows under runs/browser/: the first error, else the last verdict."""
    errors = page.locator(f'.jp-OutputArea-output[data-mime-type="{STDERR}"]', has_text=TRACEBACK)
    verdicts = page.locator(".jp-OutputArea-output", has_text=VERDICT)
    if errors.count():
        errors.first.scroll_into_view_if_needed()
    elif verdicts.count():
        verdicts.last.scroll_into_view_if_needed()
    path = SCREENSHOTS / f"{Path(name).stem}.png"
    write_bytes_atomically(path, page.screenshot())
    return path


@pytest.fixture(scope="module")
def browser():
    """Return a headless Chromium (Debian's) driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="run `make test-browser`, which installs playwright")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test-browser "
                    "does it)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Serve a temporary copy of lessons 01 and 03 with JupyterLab from the course's venv."""
    root = tmp_path_factory.mktemp("lab")
    lessons = prepare_lessons(REPO_ROOT / "notebooks", root / "notebooks")
    env = {"COURSE_ARTIFACTS": str(root / "artifacts"), "COURSE_THREADS": "1",
           "TQDM_MININTERVAL": "60"}
    with running_lab(lessons, root / "jupyter", env) as server:
        yield server


@pytest.fixture
def page(browser, lab):
    """Return a fresh page; stop the kernels it started when the test ends."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()
    lab.shut_down_kernels()


def test_an_error_in_a_cell_shows_as_an_error(page, lab):
    open_notebook(page, lab, PROBE)
    state = run_all_and_wait(page, timeout=120)
    shown = shown_errors(state)
    assert len(shown) == 1 and "ZeroDivisionError" in shown[0], (state, SEEN_DIALOGS)
    assert state["prompts"] == ["[1]:", "[2]:"] and state["outputs"][0]["text"] == "fine\n", state
    assert error_outputs(saved_notebook(page, lab.root / PROBE)) == [
        "ZeroDivisionError: division by zero"]


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_lesson_runs_in_jupyterlab_and_its_checks_pass(page, lab, name, capsys):
    start = time.perf_counter()
    open_notebook(page, lab, name)
    state = run_all_and_wait(page)
    seconds = time.perf_counter() - start
    path = screenshot(page, name)
    with capsys.disabled():
        print(f"\n{name}: opened and ran in JupyterLab in {seconds:.1f} s; screenshot {path}")
    shown = shown_errors(state)
    assert not shown, f"{name} shows errors:\n" + "\n---\n".join([*shown, *SEEN_DIALOGS])
    saved = saved_notebook(page, lab.root / name)
    assert not error_outputs(saved), f"{name}: error outputs {error_outputs(saved)}"
    n_code = sum(cell.cell_type == "code" for cell in saved.cells)
    assert len(state["prompts"]) == n_code, f"the page shows {len(state['prompts'])} of {n_code}"
    unexecuted = [i for i, p in enumerate(state["prompts"]) if not executed_count(p)]
    assert not unexecuted, f"{name}: code cells {unexecuted} have no execution count"
    found = (VERDICT.search(output["text"]) for output in state["outputs"])
    verdicts = {m.group(2): m.group(1) for m in found if m}
    assert verdicts and all(key.startswith(name[:2]) for key in verdicts), verdicts
    assert set(verdicts.values()) == {"PASSED"}, f"{name}: exercise verdicts {verdicts}"
