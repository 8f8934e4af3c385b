"""Child processes, supervised one way everywhere: `salescast up`'s services, TorchServe, gateway
subprocesses of tests and benchmarks, and the gateway's training jobs.

Each child starts in a new session (its own process group), with stdout and stderr appended to a
log file; a stop sends SIGTERM to the group and to every descendant that left it (TorchServe's Java
and its Python workers), waits a grace period, then SIGKILLs what is left. `wait_ready` polls a
probe until the child is usable and fails with the child's log tail when it exits or times out.
A pid file (`salescast up` / `down`) records children by pid and start time, so a reused pid is
never signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psutil

from core.atomic import write_json_atomic
from core.errors import SalescastError

log = logging.getLogger(__name__)

PID_FILE_NAME = "up.json"
LOG_DIR_NAME = "logs"
LOG_TAIL_LINES = 15
READY_POLL_S = 0.2

Probe = Callable[[], "str | None"]
"""Returns None when the child is ready, else what it still lacks (shown when the wait fails)."""


class SupervisorError(SalescastError):
    """A managed process could not be started, stayed unhealthy, or another stack holds the pid file."""


@dataclass
class ManagedProcess:
    """One child started by `start_process` (leader of its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    create_time: float
    log_offset: int = 0  # where this run's output starts in its (appended) log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        """The exit code once the process has ended, else None."""
        return self.popen.poll()

    def stop(self, timeout_s: float) -> bool:
        """Stop the child and its descendants (TERM, then KILL after `timeout_s`); True if it had to kill."""
        return bool(stop_processes([self], timeout_s))

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the child's log."""
        return tail(self.log_path, lines)

    def tree(self) -> list[psutil.Process]:
        """The child and all its descendants (none once it is gone)."""
        return process_tree(self.pid, self.create_time)

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time, "log": str(self.log_path)}


def log_dir(run_dir: Path) -> Path:
    """Where every service started by `salescast up` writes its log."""
    return run_dir / LOG_DIR_NAME


def start_process(
    name: str,
    command: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    nice: int = 0,
) -> ManagedProcess:
    """Start `command` in a new session (its own process group), stdout+stderr appended to `log_path`;
    `nice` > 0 lowers its CPU priority (its children inherit it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        offset = log_file.tell()
        try:
            popen = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise SupervisorError(f"cannot start {name} ({command[0]}): {exc}") from exc
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, popen.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
        except OSError as exc:  # it already exited: its log says why
            log.warning("cannot lower the priority of %s: %s", name, exc)
    log.info("started service=%s pid=%s log=%s", name, popen.pid, log_path)
    return ManagedProcess(
        name=name, popen=popen, log_path=log_path, create_time=create_time(popen.pid), log_offset=offset
    )


def wait_ready(
    process: ManagedProcess, probe: Probe, timeout_s: float, *, poll_s: float = READY_POLL_S
) -> None:
    """Poll `probe` until it returns None; `SupervisorError` with the log tail when the process exits
    or `timeout_s` passes first (an exception from the probe counts as "not answering yet")."""
    wait_all_ready([(process, probe)], timeout_s, poll_s=poll_s)


def wait_all_ready(
    waits: Sequence[tuple[ManagedProcess, Probe]],
    timeout_s: float,
    *,
    poll_s: float = READY_POLL_S,
    on_ready: Callable[[ManagedProcess], None] | None = None,
) -> None:
    """`wait_ready` for several children at once, within one `timeout_s`: any of them exiting ends
    the wait, and a timeout names every child still waiting and what it lacks. `on_ready` hears of
    each child as it becomes ready."""
    deadline = time.monotonic() + timeout_s
    pending = dict(enumerate(waits))
    waiting_for = dict.fromkeys(pending, "no answer yet")
    while True:
        for process, _ in waits:
            code = process.exited()
            if code is not None:
                raise SupervisorError(
                    f"{process.name} exited with code {code} while starting; log {process.log_path}:\n"
                    f"{process.tail()}"
                )
        for key, (process, probe) in list(pending.items()):
            try:
                problem = probe()
            except Exception as exc:
                problem = f"not answering yet ({type(exc).__name__})"
            if problem is None:
                del pending[key]
                if on_ready is not None:
                    on_ready(process)
            else:
                waiting_for[key] = problem
        if not pending:
            return
        if time.monotonic() > deadline:
            raise SupervisorError(
                f"not ready within {timeout_s:g} s:\n"
                + "\n".join(
                    f"  - {process.name}: {waiting_for[key]} (log {process.log_path}):\n{process.tail()}"
                    for key, (process, _) in pending.items()
                )
            )
        time.sleep(poll_s)


def follow(process: ManagedProcess, out: TextIO, poll_s: float = READY_POLL_S) -> int:
    """Copy what the process writes to its log to `out` until it exits; returns its exit code."""
    with process.log_path.open("r", encoding="utf-8", errors="replace") as log:
        log.seek(process.log_offset)
        while True:
            code = process.exited()
            chunk = log.read()
            if chunk:
                out.write(chunk)
                out.flush()
            if code is not None:
                return code
            time.sleep(poll_s)


def create_time(pid: int) -> float:
    """When `pid` started (0.0 once it is gone): recorded so a reused pid is never mistaken for it."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return 0.0


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file (empty when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def process_tree(pid: int, create_time: float | None = None) -> list[psutil.Process]:
    """The process `pid` (if it is still the same process) and all its descendants."""
    try:
        root = psutil.Process(pid)
        if create_time and abs(root.create_time() - create_time) > 1.0:
            return []  # the pid was reused by an unrelated process
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def stop_trees(records: Iterable[tuple[str, int, float | None]], timeout_s: float) -> list[str]:
    """SIGTERM each recorded process group, wait up to `timeout_s`, then SIGKILL what is left.

    `records` are `(name, pid, create_time)`. Descendants are snapshotted first, so a child that
    left the group (e.g. Java started in its own session) is still found and stopped. Returns the
    names whose processes had to be killed.
    """
    trees: dict[str, list[psutil.Process]] = {}
    for name, pid, created in records:
        tree = process_tree(pid, created)
        if not tree:
            continue
        trees[name] = tree
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        for proc in tree:
            with contextlib.suppress(psutil.Error, OSError):
                if proc.pid != pid and os.getpgid(proc.pid) != pid:
                    proc.terminate()
    everything = [proc for tree in trees.values() for proc in tree]
    _, alive = psutil.wait_procs(everything, timeout=timeout_s)
    killed: list[str] = []
    for name, tree in trees.items():
        survivors = [proc for proc in tree if proc in alive]
        if not survivors:
            continue
        killed.append(name)
        log.warning("killing service=%s pids=%s after %.0fs", name, [p.pid for p in survivors], timeout_s)
        for proc in survivors:
            with contextlib.suppress(psutil.Error):
                proc.kill()
    psutil.wait_procs([proc for proc in everything if proc in alive], timeout=timeout_s)
    return killed


def stop_processes(processes: Sequence[ManagedProcess], timeout_s: float) -> list[str]:
    """Stop managed children (and reap them); returns the names that needed SIGKILL."""
    killed = stop_trees(((p.name, p.pid, p.create_time) for p in processes), timeout_s)
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=timeout_s)
        log.info("stopped service=%s code=%s", proc.name, proc.popen.returncode)
    return killed


# ---- pid file -------------------------------------------------------------------------------


def pid_file(run_dir: Path) -> Path:
    """The pid file of the running `salescast up` (one stack per run folder)."""
    return run_dir / PID_FILE_NAME


def write_pid_file(path: Path, record: Mapping[str, Any]) -> None:
    """Write the pid record atomically."""
    write_json_atomic(path, dict(record))


def read_pid_file(path: Path) -> dict[str, Any] | None:
    """The pid record, or None when there is none (or it is unreadable, which is reported)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable pid file %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def is_alive(pid: int, create_time: float | None) -> bool:
    """True when `pid` is running and is the process recorded (not a reused pid)."""
    if not process_tree(pid, create_time):
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def own_record(children: Sequence[ManagedProcess], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The pid record of this supervisor and its current children."""
    me = psutil.Process()
    return {
        "pid": me.pid,
        "create_time": me.create_time(),
        "children": {child.name: child.to_record() for child in children},
        **extra,
    }
