"""A gateway subprocess for benchmarks and tests: `python -m salescast --config <yaml> serve gateway`
with the given settings dumped to YAML, run by `core.supervisor` (own session, log file, stopped as
a whole process group), ready once `/api/health` answers (200 or 503: the gateway starts without
TorchServe)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx
import psutil
import yaml

from core import supervisor
from core.errors import SalescastError
from core.net import http_url
from core.settings import Settings

logger = logging.getLogger(__name__)

STOP_GRACE_S = 20.0  # SIGTERM → SIGKILL
HEALTH_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 30

_Process = TypeVar("_Process", bound="GatewayProcess")


class GatewayStartError(SalescastError):
    """The gateway subprocess exited or did not answer in time; the message holds its log tail."""


def isolated_env() -> dict[str, str]:
    """This process's environment without SALESCAST_* variables: only the config file configures
    the child."""
    return {key: value for key, value in os.environ.items() if not key.startswith("SALESCAST_")}


class GatewayProcess:
    """One gateway subprocess for `settings`; a context manager that always stops it.

    The config is written next to `log_path` (same name, `.yaml`); `env` is the child's environment
    (default `isolated_env()`), with `PYTHONUNBUFFERED=1` added so the log is current."""

    def __init__(
        self,
        settings: Settings,
        *,
        log_path: Path,
        start_timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.config_path = log_path.with_suffix(".yaml")
        self.start_timeout_s = start_timeout_s
        self.env = dict(isolated_env() if env is None else env)
        self.process: supervisor.ManagedProcess | None = None

    @property
    def url(self) -> str:
        return http_url(self.settings.gateway.host, self.settings.gateway.port)

    def start(self: _Process) -> _Process:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.settings.model_dump(mode="json")), encoding="utf-8")
        command = [sys.executable, "-m", "salescast", "--config", str(self.config_path), "serve", "gateway"]
        env = {**self.env, "PYTHONUNBUFFERED": "1"}
        self.process = supervisor.start_process("gateway", command, self.log_path, env)
        try:
            supervisor.wait_ready(self.process, self._answers, self.start_timeout_s)
        except supervisor.SupervisorError as exc:
            self.stop()
            raise GatewayStartError(str(exc)) from None
        logger.info("gateway started url=%s pid=%d", self.url, self.process.pid)
        return self

    def _answers(self) -> str | None:
        httpx.get(f"{self.url}/api/health", timeout=HEALTH_TIMEOUT_S)
        return None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.exited() is None:
            process.stop(STOP_GRACE_S)

    def process_tree(self) -> list[psutil.Process]:
        """The gateway and its descendants (none when it is not running)."""
        return self.process.tree() if self.process is not None else []

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return supervisor.tail(self.log_path, lines) or "(no log)"

    def __enter__(self: _Process) -> _Process:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
