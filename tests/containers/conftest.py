"""Shared parsing of the container files for the static checks, which need no Docker engine.

`stack/` is the live tier (`make test-containers`: builds the images, runs the compose stack); it
is collected only when SALESCAST_CONTAINER_TIER=1, so `make test` never starts Docker.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TIER_VARIABLE = "SALESCAST_CONTAINER_TIER"
collect_ignore = [] if os.environ.get(TIER_VARIABLE) == "1" else ["stack"]
DOCKERFILES = ("Dockerfile.train", "Dockerfile.serve", "Dockerfile.seaweedfs", "Dockerfile.prometheus")
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@dataclass
class Dockerfile:
    """The instructions of a Dockerfile that name project files, commands and variables."""

    path: Path
    copies: list[str] = field(default_factory=list)  # build-context sources (not --from=stage)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse_dockerfile(path: Path) -> Dockerfile:
    """A small, strict reader for the instructions these tests check."""
    parsed = Dockerfile(path)
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "COPY":
            words = shlex.split(rest)
            if any(word.startswith("--from=") for word in words):
                continue
            sources = [word for word in words if not word.startswith("--")][:-1]
            parsed.copies.extend(sources)
        elif instruction == "ENV":
            for name, value in re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", rest):
                parsed.env[name] = value.strip('"')
        elif instruction in ("ENTRYPOINT", "CMD"):
            value = yaml.safe_load(rest)
            assert isinstance(value, list), f"{path.name}: {instruction} must use the exec (JSON) form"
            setattr(parsed, instruction.lower(), [str(v) for v in value])
    return parsed


@pytest.fixture(scope="session")
def dockerfiles() -> dict[str, Dockerfile]:
    return {name: parse_dockerfile(REPO_ROOT / name) for name in DOCKERFILES}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
