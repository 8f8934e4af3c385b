"""`salescast up` for real: sample data, training, the four services healthy, then a stop that leaves
nothing running — once with Ctrl-C, once (the second run, which must skip training) with `salescast down`.

Everything lives in a temp folder on free ports (see stack_env.py); nothing of a dev stack is reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from core import supervisor
from tests.up.stack_env import isolated_env

READY_LINE = "salescast is up"
UP_TIMEOUT_S = 900  # first run trains three tiny models on a shared 2-core machine
STOP_TIMEOUT_S = 120
WINDOW = 14
CATEGORIES = ("Beauty", "Clothing", "Electronics")

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]


def _start_up(env: dict[str, str], cwd: Path, log_name: str) -> supervisor.ManagedProcess:
    """`salescast up` in a session of its own, like a terminal (Ctrl-C goes to this group only)."""
    command = [sys.executable, "-m", "salescast", "up"]
    return supervisor.start_process("salescast up", command, cwd / log_name, env, cwd=cwd)


def _output(up: supervisor.ManagedProcess) -> str:
    return up.log_path.read_text(encoding="utf-8", errors="replace")


def _wait_until_up(up: supervisor.ManagedProcess) -> None:
    def ready() -> str | None:
        return None if READY_LINE in _output(up) else f"no {READY_LINE!r} line yet"

    supervisor.wait_ready(up, ready, UP_TIMEOUT_S, poll_s=0.5)


def _processes_mentioning(root: Path) -> list[str]:
    """Any process whose command line names the test folder (TorchServe's java, workers, servers)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            environ = proc.info["environ"] or {}
        except psutil.Error:
            continue
        mentions = str(root) in cmdline or environ.get("SALESCAST_PATHS__RUN") == str(root / "run")
        if mentions and proc.pid != os.getpid():
            found.append(f"{proc.pid} {cmdline[:160]}")
    return found


def _assert_services_answer(env: dict[str, str]) -> None:
    gateway = f"http://127.0.0.1:{env['SALESCAST_GATEWAY__PORT']}"
    with httpx.Client(timeout=30, trust_env=False) as client:
        assert client.get(f"{gateway}/api/health").status_code == 200
        for category in CATEGORIES:
            response = client.post(
                f"{gateway}/api/predict",
                json={"category": category, "sales": [100.0 + i for i in range(WINDOW)]},
            )
            assert response.status_code == 200, response.text
            assert response.json()["category"] == category
        ping = client.get(f"http://127.0.0.1:{env['SALESCAST_TORCHSERVE__INFERENCE_PORT']}/ping")
        assert ping.status_code == 200
        ui = client.get(f"http://127.0.0.1:{env['SALESCAST_UI__PORT']}/")
        assert ui.status_code == 200 and "gradio" in ui.text.lower()
        mlflow = f"http://127.0.0.1:{env['SALESCAST_MLFLOW__UI_PORT']}"
        assert client.get(f"{mlflow}/").status_code == 200
        # The MLflow UI reads the embedded store training wrote: the runs are there.
        runs = client.post(
            f"{mlflow}/api/2.0/mlflow/runs/search", json={"experiment_ids": _experiment_ids(client, mlflow)}
        )
        assert runs.status_code == 200 and len(runs.json().get("runs", [])) >= len(CATEGORIES), runs.text


def _experiment_ids(client: httpx.Client, mlflow: str) -> list[str]:
    found = client.post(f"{mlflow}/api/2.0/mlflow/experiments/search", json={"max_results": 100})
    assert found.status_code == 200, found.text
    return [e["experiment_id"] for e in found.json()["experiments"]]


def _versions(root: Path) -> list[Path]:
    return sorted((root / "artifacts").glob("*/*"))


@pytest.fixture
def stack_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    leftovers = _processes_mentioning(tmp_path)
    for line in leftovers:  # never leave a stack behind, even when an assertion failed
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(int(line.split()[0])).kill()


def test_up_serves_everything_and_stops_without_leftovers(stack_root: Path) -> None:
    env = isolated_env(stack_root)

    # First run: creates the sample data, trains every category, serves; Ctrl-C stops it.
    first = _start_up(env, stack_root, "up-first.log")
    _wait_until_up(first)
    assert (stack_root / "data" / "sample_sales.csv").is_file()
    assert "salescast up: training Beauty, Clothing, Electronics" in _output(first)
    assert len(list((stack_root / "model_store").glob("*.mar"))) == len(CATEGORIES)
    for service in ("mlflow", "torchserve", "gateway", "ui"):
        assert (stack_root / "run" / "logs" / f"{service}.log").is_file()
    _assert_services_answer(env)
    started = first.tree()
    assert len(started) > 4  # the supervisor, four services and their helpers (java, workers)
    versions = _versions(stack_root)

    os.killpg(first.pid, signal.SIGINT)
    assert first.popen.wait(timeout=STOP_TIMEOUT_S) == 0, _output(first)[-3000:]
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"left running after Ctrl-C: {alive}"
    assert not _processes_mentioning(stack_root)
    assert not (stack_root / "run" / "up.json").exists()

    # Second run: nothing to train; `salescast down` from another shell stops it.
    second = _start_up(env, stack_root, "up-second.log")
    _wait_until_up(second)
    assert "skipping training: Beauty, Clothing, Electronics" in _output(second)
    assert "salescast up: training" not in _output(second)
    assert _versions(stack_root) == versions
    _assert_services_answer(env)
    started = second.tree()

    down = subprocess.run(
        [sys.executable, "-m", "salescast", "down"],
        env=env,
        cwd=stack_root,
        capture_output=True,
        text=True,
        timeout=STOP_TIMEOUT_S,
        check=False,
    )
    assert down.returncode == 0, down.stderr
    assert "salescast down: stopped" in down.stdout
    assert second.popen.wait(timeout=STOP_TIMEOUT_S) == 0
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"left running after salescast down: {alive}"
    assert not _processes_mentioning(stack_root)
