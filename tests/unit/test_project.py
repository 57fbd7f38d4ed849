"""The project's own files agree with each other: pyproject.toml, the lock, environment.yml."""

import json
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])

# What a Colab-like runtime has preinstalled: the bounds must let pip keep all of it.
COLAB_LIKE = {"numpy": "2.0.2", "pandas": "2.2.2", "transformers": "5.6.2",
              "scikit-learn": "1.6.1", "matplotlib": "3.10.0", "ipykernel": "6.29.5",
              "psutil": "5.9.5", "tqdm": "4.67.1", "torch": "2.13.0"}
BATCH_ONLY = ["papermill", "nbformat", "nbconvert", "nbclient", "psutil"]


def _requirements(*extras: str) -> list[Requirement]:
    """Return the declared requirements (base and the given extras), without self-references."""
    lines = list(PROJECT["dependencies"])
    for extra in extras:
        lines += PROJECT["optional-dependencies"][extra]
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != SELF]


def _all_requirements() -> list[Requirement]:
    return _requirements(*PROJECT["optional-dependencies"])


def _lock() -> dict[str, Version]:
    """Return the lock's pins by canonical name."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _environment_pip_lines() -> list[str]:
    """Return the items under `pip:` in environment.yml (a flat list; no YAML parser needed)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    items = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        if line.strip().startswith("- "):
            items.append(line.strip()[2:].strip())
    return items


def test_dependencies_are_lower_bounds_never_exact_pins():
    for requirement in _all_requirements():
        operators = {s.operator for s in requirement.specifier}
        assert ">=" in operators, f"{requirement} needs a lower bound (>=)"
        assert not operators & {"==", "===", "~="}, f"{requirement} pins a version exactly"
    for name in ("torch", "numpy", "pandas"):
        (requirement,) = [r for r in _requirements() if r.name == name]
        assert {s.operator for s in requirement.specifier} == {">="}, f"{requirement} is capped"


def test_major_version_apis_are_capped_at_the_next_major():
    declared = {r.name: r.specifier for r in _requirements()}
    for name in ("transformers", "datasets"):
        assert "<6" in str(declared[name]) and Version("6.0") not in declared[name]


def test_every_python_from_3_10_on_is_accepted():
    assert PROJECT["requires-python"] == ">=3.10"


def test_extras_split_what_lessons_import_from_batch_test_and_lab_tools():
    extras = PROJECT["optional-dependencies"]
    assert set(extras) == {"batch", "grade", "test", "browser", "lab", "dev"}
    base = {r.name for r in _requirements()}
    assert not base & {"papermill", "nbformat", "psutil", "ipykernel", "pytest", "jupyterlab"}
    assert {"papermill", "nbformat", "psutil", "ipykernel"} <= {r.name for r in
                                                               _requirements("batch")}
    assert {"pytest", "nbval"} <= {r.name for r in _requirements("test")}
    assert "course-utils[batch,grade]" in extras["test"]   # the suite grades on Dask too
    assert {"dask"} <= {r.name for r in _requirements("grade")}
    (dev,) = map(Requirement, extras["dev"])
    assert canonicalize_name(dev.name) == SELF and dev.extras == set(extras) - {"dev"}


def test_bounds_keep_a_colab_like_runtime_as_it_is():
    declared = {r.name: r.specifier for r in _all_requirements()}
    refused = {name: version for name, version in COLAB_LIKE.items()
               if Version(version) not in declared[name]}
    assert not refused, f"pyproject.toml's bounds would replace these preinstalled: {refused}"


def test_lock_pins_every_declared_dependency_within_its_bounds():
    pins = _lock()
    for requirement in _all_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared but not locked: regenerate the lock"
        version = pins[name]
        # torch's local build label (+cpu) is not part of the comparison
        assert Version(version.public) in requirement.specifier, f"lock has {name}=={version}"


def test_lock_holds_the_cpu_torch_and_no_cuda_packages():
    pins = _lock()
    assert str(pins["torch"]) == "2.13.0+cpu"
    cuda = [name for name in pins if name.startswith(("nvidia-", "cuda")) or "cuda" in name
            or name == "triton"]
    assert not cuda, f"the lock would install CUDA packages: {cuda}"


def test_lock_says_how_it_was_generated_and_contributing_repeats_it():
    header = re.search(r"^#\s+(pip-compile .+)$", LOCK.read_text(), re.MULTILINE)
    assert header, "the lock's header names no pip-compile command"
    flags = set(header.group(1).replace("=", " ").split())
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    documented = re.search(r"pip-compile (.+?)\n```", contributing, re.DOTALL)
    assert documented, "CONTRIBUTING.md shows no pip-compile command"
    assert set(documented.group(1).replace("\\\n", " ").replace("=", " ").split()) == \
        flags - {"pip-compile"}
    assert "file://" not in LOCK.read_text() and "course-utils @" not in LOCK.read_text()


def test_make_installs_the_locked_set():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line
                and "-e" in line and "lowest" not in line.lower()]
    assert len(installs) == 2 and all("-c $(LOCK)" in line for line in installs)
    assert "LOCK := requirements/lock.txt" in makefile
    assert "'.[batch]'" in installs[0] and "'.[dev]'" in installs[1]


def test_environment_yml_installs_the_lock_and_the_course():
    text = (ROOT / "environment.yml").read_text()
    assert "  - python=3.11\n" in text
    assert _environment_pip_lines() == ["-r requirements/lock.txt", "-e .[dev]"]


def test_ci_script_runs_make_test_and_every_job():
    script = (ROOT / ".ci" / "run").read_text()

    def listed(name):
        return re.search(rf"^{name}=\((.*)\)$", script, re.MULTILINE).group(1).split()

    lessons, tools = listed("LESSON_JOBS"), listed("TOOL_JOBS")
    assert lessons[0] == "test"
    assert listed("JOBS") == ['"${LESSON_JOBS[@]}"', '"${TOOL_JOBS[@]}"']
    every = lessons + tools
    assert len(every) == len(set(every)), "a job listed twice would run twice"
    assert {"test-more", "csv-suite", "test-lowest", "test-colab", "test-browser", "test-grader",
            "hostile-unprivileged"} <= set(every)
    assert "set -e" not in script, "one failing job must not hide the others"


def _make_rules() -> dict[str, tuple[list[str], str]]:
    """Return each Makefile target's prerequisites and recipe text."""
    rules, target = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"^([\w-]+):(?!=)(.*)$", line)
        if rule:
            target = rule.group(1)
            rules[target] = (rule.group(2).split(), "")
        elif target and line.startswith("\t"):
            rules[target] = (rules[target][0], rules[target][1] + line + "\n")
        elif not line.strip():
            target = None
    return rules


def test_every_target_that_grades_in_the_sandbox_installs_it_first():
    """CI runs the tools lane on a bare machine: the first job that grades must bring bwrap."""
    grading = {name for name, (_, recipe) in _make_rules().items()
               if "tests/homework" in recipe and "not grader" not in recipe}
    assert {"test-grader", "test-lowest", "hostile-unprivileged"} <= grading
    for name in grading:
        assert "sandbox-tools" in _make_rules()[name][0], f"make {name} grades without bwrap"


def test_manifest_is_package_data_listing_every_asset_with_a_checksum_and_licence():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "manifest.json" in setuptools["package-data"]["course_utils"]
    manifest = json.loads((ROOT / "course_utils" / "manifest.json").read_text())["assets"]
    assert set(manifest) == {"minilm", "reviews", "hamlet"}
    for asset in manifest.values():
        assert len(asset["sha256"]) == 64 and asset["licence"] and asset["members"]
    assert "course_utils/manifest.json" in (ROOT / "data" / "README.md").read_text()


def _modules_the_lessons_import() -> list[str]:
    """Return every ``course_utils`` module named in an import in a lesson's code cells."""
    pattern = re.compile(r"^\s*(?:from|import)\s+(course_utils(?:\.\w+)*)", re.MULTILINE)
    modules = set()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                modules.update(pattern.findall("".join(cell["source"])))
    return sorted(modules)


def _learner_contract() -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return contracts["contracts"][0]


def test_the_import_contract_covers_every_learner_module_and_forbids_the_machinery():
    contract = _learner_contract()
    learner = {f"course_utils.{p.stem}" for p in (ROOT / "course_utils").glob("*.py")
               if p.stem not in ("__init__", "__main__")} | {"course_utils.homework"}
    assert learner == set(contract["source_modules"]), "list every learner module in pyproject"
    assert {"course_utils.tools", *BATCH_ONLY} - {"nbclient"} <= set(contract["forbidden_modules"])


def test_lessons_import_only_the_learner_wing():
    modules = _modules_the_lessons_import()
    assert "course_utils.homework" in modules and len(modules) >= 10, modules
    assert not [m for m in modules if m.startswith("course_utils.tools")]
    covered = set(_learner_contract()["source_modules"]) | {"course_utils"}
    assert set(modules) <= covered | {m for m in modules if m.startswith("course_utils.homework")}


def test_contributing_names_every_module_of_both_wings():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    named = set(re.findall(r"`(\w+)`", text))
    modules = {p.stem for folder in ("course_utils", "course_utils/tools",
                                     "course_utils/tools/grading")
               for p in (ROOT / folder).glob("*.py") if not p.stem.startswith("__")}
    assert not modules - named, f"CONTRIBUTING.md's layout table misses {sorted(modules - named)}"
