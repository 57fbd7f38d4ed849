"""Print the lowest versions pyproject.toml allows, as pip requirements (`make test-lowest`).

Every ``>=`` lower bound of the runtime dependencies and of the ``batch`` extra becomes an
exact pin, so the job proves the bounds the course declares. torch is the exception: it is
pinned to the version in the lock (``requirements/lock.txt``), the only build on the course's
machines; any other torch would bring gigabytes of CUDA packages.

    python requirements/lowest.py > lowest.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOWERED_EXTRAS = ("batch",)
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


def lowest_pins(project: dict, lock_text: str) -> list[str]:
    """Return ``name==version`` for each dependency's lower bound; torch as locked."""
    requirements = list(project["dependencies"])
    for extra in LOWERED_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    torch = re.search(r"^torch==(\S+)$", lock_text, re.MULTILINE)
    if torch is None:
        raise SystemExit("requirements/lock.txt pins no torch: regenerate the lock first.")
    pins = []
    for requirement in requirements:
        name, spec = REQUIREMENT.match(requirement).groups()
        if name == "torch":
            pins.append(f"torch=={torch.group(1)}")
            continue
        lower = re.search(r">=\s*([0-9][^,;\s]*)", spec)
        if lower is None:
            raise SystemExit(f"{requirement!r} in pyproject.toml has no lower bound (>=): add one.")
        pins.append(f"{name}=={lower.group(1)}")
    return pins


def main() -> int:
    """Print the pins, one a line."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock_text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    print("\n".join(lowest_pins(project, lock_text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
