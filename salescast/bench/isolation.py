"""Isolated settings: every path a server writes lives under one folder and every port is a free
loopback port, so benchmarks and tests run beside a dev stack without touching it."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from core.settings import Settings

LOOPBACK = "127.0.0.1"


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not
    handed out before: the kernel may offer a just-released port again, and two servers of one stack
    given the same port fail to start (seen: TorchServe's management and metrics ports).

    Processes that pick ports side by side (the test suite's workers) each take only their share of
    them, `SALESCAST_PORT_SHARD="i/n"`: the ports p with (p // 2) % n == i (Linux offers `bind` odd
    ports first), so one never hands out a port another has picked and not bound yet."""
    index, count = _port_shard()
    held: list[socket.socket] = []  # kept bound while searching, so each bind offers a new port
    try:
        for _ in range(1000):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
            if (port // 2) % count == index and port not in _handed_out:
                _handed_out.add(port)
                return port
    finally:
        for sock in held:
            sock.close()
    raise RuntimeError("no free loopback port that was not handed out already")


def _port_shard() -> tuple[int, int]:
    shard = os.environ.get("SALESCAST_PORT_SHARD", "")
    index, _, count = shard.partition("/")
    if index.isdigit() and count.isdigit() and int(index) < int(count):
        return int(index), int(count)
    return 0, 1


def isolated_settings(settings: Settings, root: Path, **overrides: dict[str, Any]) -> Settings:
    """`settings` with model store, run folder, jobs DB, uploaded datasets and MLflow under `root`, every
    server on 127.0.0.1 with a fresh free port; `overrides` (section → values) are applied last.

    Inputs (`data.path`, `paths.artifacts`) are kept: callers that must not read the user's trained
    versions override `paths.artifacts` too."""
    root = root.resolve()
    sections: dict[str, dict[str, Any]] = {
        "paths": {
            "model_store": str(root / "model_store"),
            "run": str(root / "run"),
            "jobs_db": str(root / "jobs.sqlite"),
            "datasets": str(root / "datasets"),
        },
        "mlflow": {
            "tracking_uri": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "artifact_location": str(root / "mlruns" / "artifacts"),
            "ui_port": free_port(),
        },
        "torchserve": {
            "host": LOOPBACK,
            "inference_port": free_port(),
            "management_port": free_port(),
            "metrics_port": free_port(),
            "initial_worker_port": free_port(),
            "inference_url": None,
            "management_url": None,
        },
        "gateway": {"host": LOOPBACK, "port": free_port()},
        "ui": {"port": free_port()},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return settings.with_overrides(sections)
