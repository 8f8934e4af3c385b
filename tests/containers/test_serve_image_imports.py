"""The serve image installs the project with its `serve` extra only: prove `salescast serve torchserve`
needs no more.

The test reads what Dockerfile.serve installs (the project's base dependencies plus the `serve` extra
from pyproject.toml), expands them to every distribution they pull in (from this venv's metadata),
and imports the serve command's modules in a fresh interpreter that refuses any other third-party
module — as the image would, with an ImportError at start.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

import tomllib
from packaging.requirements import Requirement

from tests.containers.conftest import REPO_ROOT

PROJECT_PACKAGES = {"salescast", "core", "serving", "handlers", "configs"}  # what Dockerfile.serve COPYs
SERVE_MODULES = ("salescast.torchserve_entry", "serving.torchserve_process", "handlers.forecast_handler")

_PROBE = """
import importlib.abc, sys
allowed = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.stdlib_module_names or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"{name} is not installed in the serve image", name=name)
sys.meta_path.insert(0, Block())
import importlib
for module in sys.argv[2:]:
    importlib.import_module(module)
from salescast.torchserve_entry import main
from serving.torchserve_process import serve_forever
print("ok")
"""


def _serve_requirements() -> list[str]:
    """Distribution names Dockerfile.serve installs: torch, then the project with its `serve` extra."""
    dockerfile = (REPO_ROOT / "Dockerfile.serve").read_text()
    assert 'pip install ".[serve]"' in dockerfile, "Dockerfile.serve must install the project's serve extra"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = ["torch", *project["dependencies"], *project["optional-dependencies"]["serve"]]
    return [Requirement(spec).name for spec in specs]


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [name.lower() for name in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name.lower())
    return seen


def _top_level_modules(distributions: set[str]) -> set[str]:
    normalized = {re.sub(r"[-_.]+", "-", name) for name in distributions}
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", owner.lower()) in normalized for owner in owners)
    }


def test_serve_image_installs_the_handler_and_process_manager_needs() -> None:
    names = _serve_requirements()
    assert {"torch", "torchserve", "numpy", "pyyaml", "psutil"} <= set(names), names


def test_serve_command_imports_with_only_the_serve_image_packages() -> None:
    allowed = _top_level_modules(_closure(_serve_requirements())) | PROJECT_PACKAGES
    assert "torch" in allowed and "yaml" in allowed
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(sorted(allowed)), *SERVE_MODULES],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_the_probe_blocks_a_package_the_image_lacks() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "salescast,yaml,pydantic,pydantic_core", "gateway.app"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "is not installed in the serve image" in result.stderr
