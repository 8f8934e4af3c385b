"""Isolated settings: every path a server writes lives under one folder and every port is a free
loopback port, so benchmarks and tests run beside a dev stack without touching it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from core.settings import Settings

LOOPBACK = "127.0.0.1"


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not
    handed out before: the kernel may offer a just-released port again, and two servers of one stack
    given the same port fail to start (seen: TorchServe's management and metrics ports)."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port that was not handed out already")


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
