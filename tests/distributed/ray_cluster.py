"""A real two-node Ray cluster on this machine: `ray start --head` and a second `ray start --address`
node, one CPU each, on free loopback-chosen ports (none of Ray's fixed defaults — 6379, 8265, 52365,
10001 — so it clashes neither with Redis, SeaweedFS nor another Ray cluster here).

Each node runs `ray start --block` as a child of the test process in its own process group, so the
stop ends exactly these processes (their daemons and workers are its descendants) — never
`ray stop`, which would end every Ray cluster of this user. The head's files (sessions, logs, the
address file) live in a short temp folder: Ray's unix sockets must fit in 107 characters. The second
node starts only once the head is fully up (both name their sockets in the head's session folder;
started together, they took the same name). The test process never connects to the cluster itself:
a Ray driver whose cluster dies is ended by Ray (exit 1, no traceback), which would take the whole
test session with it, so the node ids are read, and the training is driven, by child processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.supervisor import ManagedProcess, start_process, wait_ready
from salescast.bench.isolation import LOOPBACK, free_port

START_TIMEOUT_S = 120.0  # both nodes are up in ~10 s on an idle 2-core machine; CI may be busy
STOP_TIMEOUT_S = 10.0  # `ray start --block` ends its daemons on SIGTERM in a few seconds
OBJECT_STORE_BYTES = 100_000_000  # per node (Ray's least is ~75 MB; its default is 30 % of RAM)
NODES = 2
_NODE_PORT_FLAGS = (  # every listener a node opens that Ray would otherwise put on a fixed default
    "node-manager-port",
    "object-manager-port",
    "metrics-export-port",
    "runtime-env-agent-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
)


@dataclass(frozen=True)
class RayCluster:
    """The running cluster: the address `training.ray_address` takes, its nodes and how long it took."""

    address: str
    node_ids: frozenset[str]
    processes: tuple[ManagedProcess, ...]
    temp_dir: Path
    startup_s: float

    def stop(self) -> None:
        """Stop the worker node, then the head (each `ray start --block` with its whole tree)."""
        for process in reversed(self.processes):
            process.stop(STOP_TIMEOUT_S)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def ray_executable() -> str:
    """`ray` from this venv (the `ray` extra)."""
    return str(Path(sys.executable).with_name("ray"))


def _node_command(extra: Sequence[str]) -> list[str]:
    return [
        ray_executable(),
        "start",
        "--block",
        f"--node-ip-address={LOOPBACK}",
        "--num-cpus=1",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        "--disable-usage-stats",
        *(f"--{flag}={free_port()}" for flag in _NODE_PORT_FLAGS),
        *extra,
    ]


READY_LINE = "Ray runtime started."  # what `ray start` logs once its node has joined


def _node_up(process: ManagedProcess) -> str | None:
    return (
        None if READY_LINE in process.log_path.read_text(encoding="utf-8", errors="replace") else "starting"
    )


def start_ray_cluster() -> RayCluster:
    """Start the head, then the second node once the head's GCS answers; return when both nodes are
    alive in the cluster's view (stopping whatever started when they are not in time)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    started = time.monotonic()
    head = start_process(
        "ray-head",
        _node_command(
            [
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--dashboard-grpc-port={free_port()}",
                f"--temp-dir={temp_dir}",
            ]
        ),
        temp_dir / "head.log",
        env,
    )
    processes = [head]
    try:
        wait_ready(head, lambda: _node_up(head), START_TIMEOUT_S)
        worker = start_process(
            "ray-worker-node", _node_command([f"--address={address}"]), temp_dir / "worker.log", env
        )
        processes.append(worker)
        wait_ready(worker, lambda: _node_up(worker), START_TIMEOUT_S)
        node_ids = _alive_nodes(address)
    except BaseException:
        for process in reversed(processes):
            process.stop(STOP_TIMEOUT_S)
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return RayCluster(address, node_ids, tuple(processes), temp_dir, time.monotonic() - started)


_NODES_SCRIPT = """
import json, sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
print(json.dumps([node["NodeID"] for node in ray.nodes() if node["Alive"]]))
"""


def _alive_nodes(address: str) -> frozenset[str]:
    """The ids of the cluster's alive nodes, asked by a child process (see the module's docstring)."""
    answer = subprocess.run(
        [sys.executable, "-c", _NODES_SCRIPT, address],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=True,
    )
    nodes = frozenset(json.loads(answer.stdout.strip().splitlines()[-1]))
    if len(nodes) != NODES:
        raise RuntimeError(f"{len(nodes)} of {NODES} Ray nodes alive: {answer.stderr[-2000:]}")
    return nodes
