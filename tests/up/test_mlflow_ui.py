"""`salescast serve mlflow`: the MLflow server command for the embedded store, and a real start/stop."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import psutil
import pytest

from core import supervisor
from salescast import mlflow_ui
from salescast.mlflow_ui import MlflowUiError
from serving.model_record import ModelRecord
from tests.conftest import make_test_settings
from tests.up.stack_env import isolated_env

MLFLOW_START_TIMEOUT_S = 180


def test_relative_sqlite_store_becomes_absolute_and_its_folder_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = mlflow_ui.backend_store_uri("sqlite:///mlruns/mlflow.db")
    assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert (tmp_path / "mlruns").is_dir()


def test_a_tracking_server_url_is_not_served_again() -> None:
    with pytest.raises(MlflowUiError, match="remote tracking server"):
        mlflow_ui.backend_store_uri("http://mlflow:5000")


def test_command_reads_the_store_and_artifacts_of_the_settings(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path).with_overrides(
        {"mlflow": {"ui_allowed_hosts": "mlflow:*,localhost:*", "ui_workers": 2}}
    )
    command = mlflow_ui.build_command(settings)
    assert command[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1] == settings.mlflow.tracking_uri
    assert command[command.index("--artifacts-destination") + 1] == str(tmp_path / "mlruns" / "artifacts")
    assert command[command.index("--port") + 1] == str(settings.mlflow.ui_port)
    assert command[command.index("--allowed-hosts") + 1] == "mlflow:*,localhost:*"
    assert command[command.index("--workers") + 1] == "2"


def start_serve_mlflow(root: Path, env: dict[str, str]) -> tuple[supervisor.ManagedProcess, str]:
    """`salescast serve mlflow` started in `root` and answering /health; (its process, its URL)."""
    url = f"http://127.0.0.1:{env['SALESCAST_MLFLOW__UI_PORT']}"
    command = [sys.executable, "-m", "salescast", "serve", "mlflow"]
    server = supervisor.start_process("serve mlflow", command, root / "mlflow.log", env, cwd=root)
    with httpx.Client(timeout=5, trust_env=False) as client:

        def healthy() -> str | None:
            return None if client.get(f"{url}/health").status_code == 200 else "/health is not 200"

        try:
            supervisor.wait_ready(server, healthy, MLFLOW_START_TIMEOUT_S, poll_s=0.5)
        except BaseException:
            server.stop(timeout_s=10)
            raise
    return server, url


@pytest.mark.slow
def test_serve_mlflow_answers_offline_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")  # any outbound call fails
    server, url = start_serve_mlflow(tmp_path, env)
    try:
        with httpx.Client(timeout=5, trust_env=False) as client:
            assert client.get(f"{url}/").status_code == 200
            experiments = client.post(f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 10})
            assert experiments.status_code == 200
        tree = server.tree()
        assert len(tree) >= 2  # `salescast serve mlflow` and the MLflow server (no job runners)
        assert not any("huey" in " ".join(p.cmdline()) for p in tree)
        server.popen.terminate()  # this process only: it must stop the server it started
        assert server.popen.wait(timeout=60) == 0, server.tail()
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert not alive
        assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    finally:
        server.stop(timeout_s=10)


@pytest.mark.slow
def test_the_registry_works_through_a_tracking_server(tmp_path: Path) -> None:
    """Aliases and run-less versions (adopted from an archive) through `serve mlflow`'s REST API,
    which refuses a local path as a version's source unless a run contains it."""
    server, url = start_serve_mlflow(tmp_path, isolated_env(tmp_path))
    try:
        settings = make_test_settings(tmp_path / "client", mlflow={"tracking_uri": url})
        record = ModelRecord(settings)
        record.promote("Beauty", "beauty", "20240101.000000")  # recorded from its archive alone
        record.promote("Beauty", "beauty", "20240201.000000")
        versions = {item.version: item.aliases for item in record.versions("beauty")}
        assert versions == {"20240201.000000": ("champion",), "20240101.000000": ("previous",)}
    finally:
        server.stop(timeout_s=10)
