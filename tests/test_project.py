"""The project's own files agree with each other."""

from pathlib import Path
import tomllib

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {line for line in pip_section if not line.startswith("-e")}
    assert listed == _pyproject_requirements()
    assert "python=3.11" in env["dependencies"]
    assert "-e ." in pip_section


def test_torch_is_pinned_exactly():
    assert "torch==2.13.0" in _pyproject_requirements()


def test_ci_script_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_manifest_lists_every_asset_with_a_checksum_and_licence():
    import json

    manifest = json.loads((ROOT / "data" / "manifest.json").read_text())["assets"]
    assert set(manifest) == {"minilm", "reviews", "hamlet"}
    for asset in manifest.values():
        assert len(asset["sha256"]) == 64 and asset["licence"] and asset["members"]
