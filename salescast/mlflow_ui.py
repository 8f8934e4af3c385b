"""`salescast serve mlflow`: the MLflow UI / tracking server on the project's own tracking store.

Locally it reads the embedded store training writes (`mlflow.tracking_uri`, a SQLite file, and the
`mlflow.artifact_location` folder); in compose the same command is the shared tracking server the
trainer and the gateway log to by URL (their artifacts are proxied into `artifact_location`).
It never touches the network beyond its own port: telemetry is switched off.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from core import supervisor
from core.errors import SalescastError
from core.settings import Settings

log = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"
SERVER_LOG = "mlflow-server.log"  # in <paths.run>/logs, beside the logs of `salescast up`
# MLflow phones home unless told not to (the UI must work offline), and by default starts seven
# job-runner processes for GenAI features salescast does not use.
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


class MlflowUiError(SalescastError):
    """The tracking settings cannot be served as a local MLflow UI."""


def backend_store_uri(tracking_uri: str) -> str:
    """The tracking URI as an absolute store URI (relative SQLite paths resolve against the cwd).

    An http(s) URI is already a tracking server: there is nothing local to serve.
    """
    if tracking_uri.startswith(("http://", "https://", "databricks")):
        raise MlflowUiError(
            f"mlflow.tracking_uri is {tracking_uri!r}, a remote tracking server; `salescast serve mlflow` "
            "serves a local store — set MLFLOW_TRACKING_URI to sqlite:///path/to/mlflow.db "
            "or open that server instead"
        )
    if tracking_uri.startswith(SQLITE_PREFIX):
        db = Path(tracking_uri[len(SQLITE_PREFIX) :]).expanduser()
        db = db if db.is_absolute() else Path.cwd() / db
        db.parent.mkdir(parents=True, exist_ok=True)
        return f"{SQLITE_PREFIX}{db}"
    if "://" not in tracking_uri:
        folder = Path(tracking_uri).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()
    return tracking_uri


def artifacts_destination(artifact_location: str) -> str:
    """Where proxied artifacts are stored: an absolute folder (created) or a URI passed through."""
    if "://" in artifact_location:
        return artifact_location
    folder = Path(artifact_location).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def build_command(settings: Settings) -> list[str]:
    """The `mlflow server` command line for `settings` (runs with this interpreter)."""
    ml = settings.mlflow
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_store_uri(ml.tracking_uri),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination(ml.artifact_location),
        "--host",
        ml.ui_host,
        "--port",
        str(ml.ui_port),
        "--workers",
        str(ml.ui_workers),
    ]
    if ml.ui_allowed_hosts:
        command += ["--allowed-hosts", ml.ui_allowed_hosts]
    return command


def run(settings: Settings) -> int:
    """Run the MLflow server under the supervisor until it exits or this process gets SIGINT/SIGTERM.

    Its output goes to `<paths.run>/logs/mlflow-server.log` and is copied to this terminal as it grows;
    a signal stops the server with every worker it started (TERM, then KILL after `up.stop_timeout_s`).
    """
    command = build_command(settings)
    env = {**os.environ, **SERVER_ENV}
    # The tracking server must not log to itself through an inherited MLFLOW_TRACKING_URI.
    env.pop("MLFLOW_TRACKING_URI", None)
    log.info(
        "mlflow ui starting url=http://%s:%s store=%s",
        settings.mlflow.ui_host,
        settings.mlflow.ui_port,
        command[command.index("--backend-store-uri") + 1],
    )
    log_path = supervisor.log_dir(settings.paths.run) / SERVER_LOG
    server = supervisor.start_process("mlflow server", command, log_path, env)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        server.stop(settings.up.stop_timeout_s)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = supervisor.follow(server, sys.stdout, settings.up.poll_interval_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server.exited() is None:
            server.stop(settings.up.stop_timeout_s)
    log.info("mlflow ui stopped code=%s", code)
    # A stop asked for by a signal is a clean exit.
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else code
