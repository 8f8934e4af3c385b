"""`salescast up` / `down` edges that need no running stack: refusals, stale pid files, clean errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from core import supervisor
from salescast import local_stack as stack
from salescast.local_stack import StackError
from tests.conftest import make_test_settings
from tests.up.stack_env import isolated_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def _salescast(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salescast", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_down_without_a_stack_says_nothing_runs(tmp_path: Path) -> None:
    result = _salescast(["down"], isolated_env(tmp_path), tmp_path)
    assert result.returncode == 0
    assert "nothing is running" in result.stdout


def test_up_with_a_busy_port_fails_before_starting_anything(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", int(env["SALESCAST_UI__PORT"])))
        sock.listen()
        result = _salescast(["up"], env, tmp_path)
    assert result.returncode == 2
    assert "is already in use" in result.stderr and "SALESCAST_UI__PORT=" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # no pid file, no logs, nothing started
    assert not (tmp_path / "data").exists()  # not even the sample data


def test_up_refuses_while_another_stack_holds_the_pid_file(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    me = psutil.Process()
    supervisor.write_pid_file(
        supervisor.pid_file(settings.paths.run),
        {"pid": me.pid, "create_time": me.create_time(), "children": {}},
    )
    with pytest.raises(StackError, match=r"already running.*salescast down"):
        stack.Stack(settings, None).claim()


def test_down_cleans_up_after_a_killed_supervisor(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    orphan = supervisor.start_process(
        "gateway", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "gateway.log"
    )
    dead_supervisor = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    path = supervisor.pid_file(settings.paths.run)
    supervisor.write_pid_file(
        path,
        {
            "pid": int(dead_supervisor.stdout),
            "create_time": 1.0,
            "children": {"gateway": orphan.to_record()},
        },
    )
    assert stack.down(settings) == 0
    assert orphan.popen.wait(timeout=30) is not None
    assert not path.exists()


def test_up_stops_its_children_when_a_service_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_test_settings(tmp_path)
    running = stack.Stack(settings, None)
    running.claim()
    sleeper = supervisor.start_process(
        "ui", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "ui.log"
    )
    crasher = supervisor.start_process(
        "gateway",
        [sys.executable, "-c", "print('boom: port taken'); raise SystemExit(3)"],
        tmp_path / "gw.log",
    )
    running.children += [sleeper, crasher]
    crasher.popen.wait(timeout=30)
    with pytest.raises(StackError, match=r"gateway exited with code 3(.|\n)*boom: port taken"):
        running.watch()
    running.stop()
    assert sleeper.exited() is not None
    assert not supervisor.pid_file(settings.paths.run).exists()
