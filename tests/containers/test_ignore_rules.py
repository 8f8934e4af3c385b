"""Run-time state reaches neither the repository nor an image's build context.

A copy of the project runs a session the way a user does (tests/containers/runtime_state.py: the
gateway started like `salescast up` starts it, an upload activated, a training job, an archive). Then
git must see nothing new (.gitignore), and the build context computed by Docker's own matching rules
must hold none of it (.dockerignore; tests/containers/build_context.py, which the container tier's
stack/test_build_context.py holds against a real `docker build`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.settings import load_settings
from tests.containers.build_context import build_context
from tests.containers.conftest import REPO_ROOT, Dockerfile
from tests.containers.runtime_state import RuntimeState, copy_project, run_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> RuntimeState:
    return run_session(copy_project(tmp_path_factory.mktemp("project")))


def test_the_session_wrote_every_kind_of_state(session: RuntimeState) -> None:
    """The checks below are only as good as the state they see: each configured location has files."""
    paths = load_settings(environ={}).paths
    written = session.written
    for location in (paths.artifacts, paths.model_store, paths.run, paths.datasets, Path("mlruns")):
        assert any(name.startswith(f"{location.as_posix()}/") for name in written), location
    assert paths.jobs_db.as_posix() in written
    assert any(name.endswith(".mar") for name in written)
    assert f"{paths.datasets.as_posix()}/active.json" in written
    assert f"{paths.run.as_posix()}/up.json" in written
    assert any(name.startswith(f"{paths.run.as_posix()}/jobs/") for name in written)


def test_git_sees_nothing_a_session_wrote(session: RuntimeState) -> None:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=session.project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "", f"run-time state visible to git (add it to .gitignore):\n{status}"


def test_no_tracked_file_is_ignored() -> None:
    """The bundled sample and model_store/.gitkeep stay in the repository."""
    ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ignored == "", f"tracked files matched by .gitignore:\n{ignored}"


def test_build_context_holds_nothing_a_session_wrote(session: RuntimeState) -> None:
    leaked = sorted(build_context(session.project) & session.written)
    assert not leaked, f"run-time state in the build context (add it to .dockerignore): {leaked}"


def test_build_context_holds_what_the_dockerfiles_copy(
    session: RuntimeState, dockerfiles: dict[str, Dockerfile]
) -> None:
    context = build_context(session.project)
    for name, dockerfile in dockerfiles.items():
        for source in dockerfile.copies:
            assert any(path == source or path.startswith(f"{source}/") for path in context), (
                f"{name}: COPY {source} finds nothing in the build context"
            )
    assert "data/sample_sales.csv" in context  # the trainer seeds the `data` volume with it
    assert not any(path.startswith("data/") for path in context - {"data/sample_sales.csv"})
