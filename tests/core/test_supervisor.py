"""Supervisor: children in their own groups, stopped with every descendant; pid file written atomically."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from core import supervisor

# A child that ignores SIGTERM and starts a grandchild in its own session (as TorchServe starts Java),
# then prints the grandchild's pid.
_STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(grandchild.pid, flush=True)
time.sleep(600)
"""


def _wait_for_line(path: Path, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return text.strip().splitlines()[0]
        time.sleep(0.1)
    raise AssertionError(f"{path} stayed empty")


def test_stop_kills_a_stubborn_child_and_a_grandchild_in_another_session(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "stubborn.log"
    child = supervisor.start_process("stubborn", [sys.executable, "-c", _STUBBORN], log)
    grandchild = psutil.Process(int(_wait_for_line(log)))
    assert grandchild.is_running()
    started = time.monotonic()
    killed = supervisor.stop_processes([child], timeout_s=1.0)
    assert killed == ["stubborn"]
    assert time.monotonic() - started < 15
    assert child.exited() is not None
    assert not psutil.pid_exists(grandchild.pid) or grandchild.status() == psutil.STATUS_ZOMBIE


def test_a_well_behaved_child_stops_on_sigterm(tmp_path: Path) -> None:
    child = supervisor.start_process(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "sleeper.log"
    )
    assert supervisor.is_alive(child.pid, child.create_time)
    assert supervisor.stop_processes([child], timeout_s=10.0) == []
    assert child.exited() is not None
    assert not supervisor.is_alive(child.pid, child.create_time)


def test_a_reused_pid_is_not_taken_for_the_recorded_process() -> None:
    me = psutil.Process()
    assert supervisor.is_alive(me.pid, me.create_time())
    assert not supervisor.is_alive(me.pid, me.create_time() - 3600)
    assert supervisor.stop_trees([("not-me", me.pid, me.create_time() - 3600)], timeout_s=0.1) == []


def test_pid_file_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    path = supervisor.pid_file(tmp_path / "run")
    supervisor.write_pid_file(path, {"pid": 1, "children": {}})
    supervisor.write_pid_file(path, {"pid": 2, "children": {}})
    assert supervisor.read_pid_file(path) == {"pid": 2, "children": {}}
    assert [p.name for p in path.parent.iterdir()] == ["up.json"]


def test_an_unreadable_pid_file_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "up.json"
    path.write_text("{not json")
    assert supervisor.read_pid_file(path) is None
    assert supervisor.read_pid_file(tmp_path / "missing.json") is None
    path.write_text(json.dumps([1, 2]))
    assert supervisor.read_pid_file(path) is None


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert supervisor.tail(log, 2) == "line 98\nline 99"
    assert supervisor.tail(tmp_path / "none.log") == ""


def _sleeper(tmp_path: Path, name: str) -> supervisor.ManagedProcess:
    return supervisor.start_process(
        name, [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / f"{name}.log"
    )


def test_wait_all_ready_reports_each_ready_child_and_names_the_ones_still_waiting(tmp_path: Path) -> None:
    ready, stuck = _sleeper(tmp_path, "ready"), _sleeper(tmp_path, "stuck")
    heard: list[str] = []
    try:
        with pytest.raises(supervisor.SupervisorError) as raised:
            supervisor.wait_all_ready(
                [(ready, lambda: None), (stuck, lambda: "no socket yet")],
                timeout_s=0.5,
                poll_s=0.05,
                on_ready=lambda process: heard.append(process.name),
            )
        assert heard == ["ready"]
        assert "not ready within 0.5 s" in str(raised.value)
        assert f"stuck: no socket yet (log {stuck.log_path})" in str(raised.value)
        assert "ready:" not in str(raised.value)
    finally:
        supervisor.stop_processes([ready, stuck], timeout_s=10.0)


def test_wait_ready_ends_with_the_log_when_the_child_exits(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('boom: port taken'); raise SystemExit(3)"]
    child = supervisor.start_process("failing", command, tmp_path / "failing.log")
    with pytest.raises(
        supervisor.SupervisorError, match=r"failing exited with code 3(.|\n)*boom: port taken"
    ):
        supervisor.wait_ready(child, lambda: "never", timeout_s=60.0, poll_s=0.05)
    assert child.tree() == []


def test_a_process_started_nice_runs_below_its_parent(tmp_path: Path) -> None:
    """Training jobs start with `gateway.job_nice` so serving keeps the CPU first."""
    process = supervisor.start_process(
        "nice", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "n.log", nice=5
    )
    try:
        assert psutil.Process(process.pid).nice() == os.getpriority(os.PRIO_PROCESS, 0) + 5
    finally:
        process.stop(5)
