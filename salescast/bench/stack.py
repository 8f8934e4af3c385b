"""An isolated serving stack for benchmarks and reliability tests: settings whose paths live in one
work folder and whose ports are free loopback ports, models to serve, and a gateway subprocess.

`GatewayLauncher` runs `python -m salescast --config <yaml> serve gateway` (the settings dumped to
YAML, no SALESCAST_* variables inherited), waits for `/api/health` to answer and always stops the
whole process group.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from salescast.artifacts import latest_version
from salescast.errors import SalescastError
from salescast.settings import Settings

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
BENCH_EXPERIMENT = "salescast-bench"
# Epochs for models trained only so that something can be served (serving cost ignores accuracy).
SERVING_ONLY_EPOCHS = 3


class StackError(SalescastError):
    """A benchmark server failed to start; the message points to its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def isolated_settings(settings: Settings, work_dir: Path, **overrides: dict[str, Any]) -> Settings:
    """`settings` with run/model-store/jobs/MLflow paths under `work_dir` and fresh loopback ports."""
    work_dir = work_dir.resolve()
    sections: dict[str, dict[str, Any]] = {
        "paths": {
            "model_store": str(work_dir / "model_store"),
            "run": str(work_dir / "run"),
            "jobs_db": str(work_dir / "jobs.sqlite"),
        },
        "mlflow": {
            "tracking_uri": f"sqlite:///{work_dir / 'mlruns' / 'mlflow.db'}",
            "artifact_location": str(work_dir / "mlruns" / "artifacts"),
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
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return settings.with_overrides(sections)


def with_fresh_ports(settings: Settings) -> Settings:
    """Same settings, new TorchServe and gateway ports (a restarted server never waits on old sockets)."""
    return settings.with_overrides(
        {
            "torchserve": {
                "inference_port": free_port(),
                "management_port": free_port(),
                "metrics_port": free_port(),
                "initial_worker_port": free_port(),
            },
            "gateway": {"port": free_port()},
        }
    )


def servable_settings(
    settings: Settings, work_dir: Path, progress: Callable[[str], None] = print
) -> Settings:
    """Isolated settings whose artifacts hold a version of every category: the user's trained
    versions when every category has one, else the configured model trained briefly into `work_dir`."""
    from training.pipeline import available_categories, train_categories

    categories = available_categories(settings)
    stack = isolated_settings(settings, work_dir)
    if all(latest_version(settings, category) for category in categories):
        progress(f"serving the newest trained versions from {settings.paths.artifacts}")
        return stack
    stack = stack.with_overrides(
        {
            "paths": {"artifacts": str(work_dir.resolve() / "artifacts")},
            "training": {"max_epochs": min(SERVING_ONLY_EPOCHS, settings.training.max_epochs)},
        }
    )
    missing = [category for category in categories if not latest_version(stack, category)]
    if missing:
        progress(
            f"no trained versions: training {', '.join(missing)} for {SERVING_ONLY_EPOCHS} epochs "
            f"into {work_dir}"
        )
        failed = [r for r in train_categories(missing, BENCH_EXPERIMENT, stack) if r.status != "succeeded"]
        if failed:
            raise StackError(f"training models to serve failed: {[(r.category, r.error) for r in failed]}")
    return stack


def archive_all(settings: Settings) -> list[Any]:
    """Archive the newest version of every trained category into the settings' model store."""
    from serving.archive import archive_version, trained_categories

    return [archive_version(settings, category) for category in trained_categories(settings)]


def torchserve_process(
    settings: Settings, archives: Sequence[Any] | None = None, work_dir: Path | None = None
) -> Any:
    """A (not yet started) `TorchServeProcess` for `settings`: every port, including gRPC's, is
    private to the instance, so benchmarks and tests run beside a dev stack."""
    from serving.torchserve_process import TorchServeProcess

    return TorchServeProcess(settings, archives, work_dir=work_dir)


class GatewayLauncher:
    """One gateway subprocess for `settings`; a context manager that always stops it."""

    def __init__(self, settings: Settings, work_dir: Path, *, start_timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.start_timeout_s = start_timeout_s
        self.config_path = work_dir / f"gateway-{settings.gateway.port}.yaml"
        self.log_path = work_dir / f"gateway-{settings.gateway.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway.host}:{self.settings.gateway.port}"

    def start(self) -> GatewayLauncher:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.settings.model_dump(mode="json")), encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if not key.startswith("SALESCAST_")}
        env.pop("MLFLOW_TRACKING_URI", None)
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "salescast", "--config", str(self.config_path), "serve", "gateway"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(
                    f"gateway exited with {self.process.returncode}; log {self.log_path}: {self.log_tail()}"
                )
            try:
                httpx.get(f"{self.url}/api/health", timeout=5.0)
                logger.info("gateway started url=%s pid=%d", self.url, self.process.pid)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise StackError(f"gateway did not answer within {self.start_timeout_s:g} s; log {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> GatewayLauncher:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
