"""One way to run a `model.pt`: `handlers/forecast_steps.py` loads it (`load_model`) and runs it
(`predict`); training, the bench, the handler and the tests all go through them. No other module of
the repository may call `torch.jit.load`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "handlers" / "forecast_steps.py"
SKIPPED = {".venv", ".git", "node_modules", "__pycache__"}


def jit_load_calls(path: Path) -> list[int]:
    """Lines of `path` that call `torch.jit.load`, however it is imported (`jit.load`, `from
    torch.jit import load`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported_load = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "torch.jit"
        for alias in node.names
        if alias.name == "load"
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "load":
            owner = func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "jit") or (
                isinstance(owner, ast.Name) and owner.id == "jit"
            ):
                lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in imported_load:
            lines.append(node.lineno)
    return lines


def python_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED.intersection(path.relative_to(ROOT).parts)
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts[:-1])
    ]


def test_only_the_loader_calls_torch_jit_load() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files()
        if path != LOADER
        for line in jit_load_calls(path)
    ]
    assert offenders == [], f"load models with handlers.forecast_steps.load_model: {offenders}"
    assert jit_load_calls(LOADER), "the loader itself must call torch.jit.load"


def test_the_scan_finds_every_spelling(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import torch\nfrom torch import jit\nfrom torch.jit import load as read\n"
        "torch.jit.load('a')\njit.load('b')\nread('c')\ntorch.load('d')\n",
        encoding="utf-8",
    )
    assert jit_load_calls(sample) == [4, 5, 6]
