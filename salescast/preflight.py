"""Checks `salescast up` makes before it starts anything: Java for TorchServe, and free ports.

Each problem becomes one line that names the fix; all of them are reported together so a user
fixes everything in one go instead of one failure per run.
"""

from __future__ import annotations

import errno
import socket
import subprocess
from dataclasses import dataclass

import psutil

from core.errors import SalescastError
from core.java import INSTALL_HINT, MIN_JAVA_MAJOR, JavaNotFoundError, find_java, java_major
from core.settings import Settings


class PreflightError(SalescastError):
    """Something `salescast up` needs is missing or taken; the message lists each fix."""


@dataclass(frozen=True)
class PortNeed:
    """A port one service will listen on, with the setting and env var that choose it."""

    service: str
    setting: str
    host: str
    port: int

    @property
    def env_var(self) -> str:
        section, key = self.setting.split(".")
        return f"SALESCAST_{section.upper()}__{key.upper()}"


def port_needs(settings: Settings) -> list[PortNeed]:
    """Every TCP port the local stack listens on."""
    ts, gw, ui, ml = settings.torchserve, settings.gateway, settings.ui, settings.mlflow
    return [
        PortNeed("TorchServe inference API", "torchserve.inference_port", ts.host, ts.inference_port),
        PortNeed("TorchServe management API", "torchserve.management_port", ts.host, ts.management_port),
        PortNeed("TorchServe metrics API", "torchserve.metrics_port", ts.host, ts.metrics_port),
        PortNeed("gateway", "gateway.port", gw.host, gw.port),
        PortNeed("web UI", "ui.port", ui.host, ui.port),
        PortNeed("MLflow UI", "mlflow.ui_port", ml.ui_host, ml.ui_port),
    ]


def java_problem() -> str | None:
    """Why TorchServe cannot start on this machine's Java, or None when Java is fine."""
    try:
        java = find_java()
    except JavaNotFoundError as exc:
        return str(exc)
    try:
        major = java_major(java)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{java} -version` failed ({exc}); TorchServe needs a working Java: {INSTALL_HINT}"
    if major is not None and major < MIN_JAVA_MAJOR:  # an unusual banner: let TorchServe itself judge
        return f"{java} is Java {major}; TorchServe needs Java {MIN_JAVA_MAJOR} or newer: {INSTALL_HINT}"
    return None


def port_problem(need: PortNeed) -> str | None:
    """Why `need` cannot be listened on, naming who holds it and how to move, or None when free."""
    host = "127.0.0.1" if need.host in ("", "localhost") else need.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option servers use, so a port merely in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, need.port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                reason = exc.strerror
                return f"{need.service}: cannot listen on {host}:{need.port} ({reason}); check {need.setting}"
        else:
            return None
    holder = _port_holder(need.port)
    return (
        f"port {need.port} for the {need.service} ({need.setting}) is already in use{holder}; "
        f"stop that program (a previous stack: `salescast down`) or pick another port, "
        f"e.g. `{need.env_var}={need.port + 1} salescast up`"
    )


def _port_holder(port: int) -> str:
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return ""
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                name = " ".join(psutil.Process(conn.pid).cmdline()[:3]) or str(conn.pid)
            except psutil.Error:
                name = "?"
            return f" by pid {conn.pid} ({name})"
    return ""


def check(settings: Settings) -> None:
    """Raise PreflightError listing every problem; return quietly when the stack can start."""
    problems = [problem for problem in [java_problem()] if problem]
    seen: dict[tuple[str, int], PortNeed] = {}
    for need in port_needs(settings):
        if (need.host, need.port) in seen:
            other = seen[(need.host, need.port)]
            problems.append(
                f"{need.setting} and {other.setting} are both {need.port}; give each service its own port"
            )
            continue
        seen[(need.host, need.port)] = need
        problem = port_problem(need)
        if problem:
            problems.append(problem)
    if problems:
        raise PreflightError(
            "cannot start the stack:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
