"""The real build context, after a session has run: what `docker build .` sends holds no run-time state.

A copy of the project runs a session the way a user does (tests/containers/runtime_state.py). A
throwaway image built from it (`FROM scratch`, `COPY . /ctx`, the project's .dockerignore; no base
image, no network) is exported and listed: the files in /ctx are the build context by Docker's own
rules. It must hold none of the files the session wrote, must hold the sample data the trainer image
needs, and must equal what the fast check (tests/containers/test_ignore_rules.py) computes, so that
check's matcher (tests/containers/build_context.py) agrees with Docker on this tree.
"""

from __future__ import annotations

import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.build_context import DOCKER_OWN_FILES, build_context
from tests.containers.runtime_state import RuntimeState, copy_project, run_session

DOCKER_TIMEOUT_S = 300.0
CONTEXT_DIR = "ctx"


def _docker(*args: str, timeout: float = DOCKER_TIMEOUT_S) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"docker {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> RuntimeState:
    return run_session(copy_project(tmp_path_factory.mktemp("project")))


@pytest.fixture(scope="module")
def docker_context(session: RuntimeState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The files Docker copied from the session's project into a throwaway image (posix, relative)."""
    work = tmp_path_factory.mktemp("context-image")
    dockerfile = work / "Dockerfile"  # outside the context: only the project's .dockerignore applies
    dockerfile.write_text(f"FROM scratch\nCOPY . /{CONTEXT_DIR}\n", encoding="utf-8")
    tag = f"salescast-context-check:{uuid.uuid4().hex[:12]}"
    _docker("build", "--quiet", "--file", str(dockerfile), "--tag", tag, str(session.project))
    container = ""
    try:
        container = _docker("create", tag, "/never-run")  # a scratch image has no command of its own
        exported = work / "image.tar"
        _docker("export", "--output", str(exported), container)
        with tarfile.open(exported) as tar:
            prefix = f"{CONTEXT_DIR}/"
            yield {
                member.name.removeprefix(prefix)
                for member in tar.getmembers()
                if member.isfile() and member.name.startswith(prefix)
            }
    finally:
        if container:
            _docker("rm", "--force", container)
        _docker("rmi", "--force", tag)


def test_docker_copies_none_of_the_run_time_state(session: RuntimeState, docker_context: set[str]) -> None:
    leaked = sorted(docker_context & session.written)
    assert not leaked, f"run-time state in the build context (add it to .dockerignore): {leaked}"


def test_docker_copies_the_sources_and_the_bundled_sample(docker_context: set[str]) -> None:
    assert "data/sample_sales.csv" in docker_context
    assert {"pyproject.toml", "README.md", "core/settings.py", "configs/default.yaml"} <= docker_context
    assert not any(Path(name).suffix == ".pyc" for name in docker_context)


def test_the_fast_check_matches_docker(session: RuntimeState, docker_context: set[str]) -> None:
    computed = build_context(session.project)
    assert computed == docker_context - DOCKER_OWN_FILES, (
        f"only by docker-py: {sorted(computed - docker_context)}; "
        f"only by Docker: {sorted(docker_context - computed)}"
    )
