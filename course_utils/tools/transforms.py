"""Changes to a notebook, each an nbconvert preprocessor, and reading/writing notebooks safely.

- ``cleaned(nb)``: outputs, execution counts and papermill's run metadata removed (nbconvert's
  ``ClearOutputPreprocessor``); with ``keep_outputs`` each progress bar reduced to its final
  state (``JoinRedrawnLines``, then nbconvert's ``CoalesceStreamsPreprocessor``) and emptied
  stderr dropped;
- ``ShellCommandsOff``: shell lines (``!pip``, ``%pip``, ``%%bash``) turned off, for a
  submission about to be graded;
- ``write_notebook`` (temporary name, then rename) and ``readable_notebook``.

Example::

    >>> nb = cleaned(nbformat.read("notebooks/01_tokenization.ipynb", 4))   # doctest: +SKIP
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import TYPE_CHECKING

from nbconvert.preprocessors import (
    ClearOutputPreprocessor,
    CoalesceStreamsPreprocessor,
    Preprocessor,
)

from ..atomic import atomic_path

if TYPE_CHECKING:
    from nbformat import NotebookNode

RUN_METADATA_KEYS = ("papermill", "execution")
SHELL_LINE = re.compile(r"^(?P<indent>\s*)(!|%(pip|conda|sx|system)\b)")
SHELL_CELL = re.compile(r"^\s*%%(bash|sh|script|system)\b")
SKIPPED = "skipped when grading:"


def without_shell_commands(source: str) -> str:
    """Return ``source`` with shell escapes (``!git clone``, ``%pip install``) turned off.

    A Colab submission starts with the cell that clones and installs the course: run while
    grading, it would reinstall the package into the grader's environment. Each such line
    becomes ``pass  # skipped when grading: ...`` at its indentation.
    """
    if SHELL_CELL.match(source):
        return "\n".join(f"# {SKIPPED} {line}" for line in source.split("\n"))
    lines = []
    for line in source.split("\n"):
        shell = SHELL_LINE.match(line)
        lines.append(f"{shell.group('indent')}pass  # {SKIPPED} {line.strip()}" if shell else line)
    return "\n".join(lines)


class ShellCommandsOff(Preprocessor):
    """Turn every code cell's shell lines off (``without_shell_commands``)."""

    def preprocess_cell(self, cell, resources, index):  # noqa: D102 (nbconvert's signature)
        if cell.cell_type == "code":
            cell.source = without_shell_commands(cell.source)
        return cell, resources


class JoinRedrawnLines(Preprocessor):
    """Join a stream chunk that redraws a line (starts with ``\\r``) to the chunk it redraws.

    ``CoalesceStreamsPreprocessor`` merges only neighbouring chunks of one stream, so a bar on
    stderr whose redraws are interleaved with prints on stdout (a validation line in the middle
    of an epoch) would keep an unfinished state; joined, the redraw replaces it.
    """

    def preprocess_cell(self, cell, resources, index):  # noqa: D102
        if cell.cell_type != "code":
            return cell, resources
        outputs, open_line = [], {}  # stream name -> its output whose last line is unfinished
        for output in cell.outputs:
            if output.get("output_type") != "stream":
                outputs.append(output)
                continue
            text = "".join(output.get("text", ""))
            earlier = open_line.get(output.name)
            if earlier is not None and text.startswith("\r"):
                earlier.text = "".join(earlier.get("text", "")) + text
                output = earlier
            else:
                outputs.append(output)
            full = "".join(output.get("text", ""))
            open_line[output.name] = output if full and not full.endswith("\n") else None
        cell.outputs = outputs
        return cell, resources


class DropEmptyStderr(Preprocessor):
    """Drop stderr outputs that are empty once coalesced (a bar that cleared itself)."""

    def preprocess_cell(self, cell, resources, index):  # noqa: D102
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr"
                                    and not "".join(o.get("text", "")).strip())]
        return cell, resources


class DropRunMetadata(Preprocessor):
    """Remove papermill's and the kernel's run metadata from the notebook and every cell.

    Not ``ClearMetadataPreprocessor``: it keeps only an allow-list (the ``parameters`` tag, the
    kernelspec and nbval's markers would go) and skips markdown cells, which papermill marks.
    """

    def preprocess(self, nb, resources):  # noqa: D102
        for key in RUN_METADATA_KEYS:
            nb.metadata.pop(key, None)
            for cell in nb.cells:
                cell.metadata.pop(key, None)
        return nb, resources


def final_state_steps() -> list[Preprocessor]:
    """Return the preprocessors that reduce stored streams to what a terminal would show."""
    return [JoinRedrawnLines(), CoalesceStreamsPreprocessor(), DropEmptyStderr()]


def final_stream_lines(outputs: list) -> list:
    """Return ``outputs`` with streams merged and each redrawn line (``\\r``) at its final state."""
    import nbformat

    cell = nbformat.v4.new_code_cell(outputs=[nbformat.from_dict(copy.deepcopy(o))
                                              for o in outputs])
    for step in final_state_steps():
        cell, _ = step.preprocess_cell(cell, {}, 0)
    return list(cell.outputs)


def cleaned(nb: NotebookNode, keep_outputs: bool = False,
            shell_commands: bool = True) -> NotebookNode:
    """Return a copy of ``nb`` without run metadata, outputs and counts; shell lines kept or off.

    ``keep_outputs`` keeps outputs and counts (a re-executed lesson), each progress bar reduced
    to its final state; ``shell_commands=False`` turns ``!``/``%pip``/``%%bash`` lines off (a
    submission about to be graded).
    """
    import nbformat

    nb = nbformat.from_dict(copy.deepcopy(nb))
    steps: list[Preprocessor] = []
    if keep_outputs:
        steps += final_state_steps()
    else:
        steps.append(ClearOutputPreprocessor(remove_metadata_fields={"collapsed", "scrolled",
                                                                     *RUN_METADATA_KEYS}))
    steps.append(DropRunMetadata())
    if not shell_commands:
        steps.append(ShellCommandsOff())
    for step in steps:
        nb, _ = step.preprocess(nb, {})
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> Path:
    """Write ``nb`` to ``path`` through a temporary file and a rename; return the path."""
    import nbformat

    with atomic_path(path, suffix=".ipynb") as temporary:
        nbformat.write(nb, str(temporary))
    return Path(path)


def slowest_cells(nb: NotebookNode, k: int = 3) -> list[dict]:
    """Return the ``k`` code cells papermill timed longest: index, seconds, first code line.

    The index is the cell's place in the source notebook (papermill's injected cell not counted).
    """
    timed = []
    source_cells = [cell for cell in nb.cells
                    if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]
    for index, cell in enumerate(source_cells):
        seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.cell_type == "code" and isinstance(seconds, (int, float)):
            lines = [line for line in cell.source.splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]
            timed.append({"cell": index, "seconds": round(float(seconds), 1),
                          "starts": (lines[0].strip() if lines else "")[:60]})
    return sorted(timed, key=lambda row: -row["seconds"])[:k]


def readable_notebook(path: Path) -> NotebookNode | None:
    """Return the notebook at ``path``, or None when it is missing or not a whole notebook."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
        _ = nb.cells
    except Exception:  # a run killed mid-save leaves a truncated file
        return None
    return nb
