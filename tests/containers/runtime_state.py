"""Run-time state made the way a user's session makes it, in a copy of the project.

The ignore-rule checks (tests/containers/test_ignore_rules.py, and stack/test_build_context.py with
the real Docker) need a working tree that has *run*: a copy of the tracked files, where the gateway is
started as `salescast up` starts it (log in `run/logs/`, pid file `run/up.json`), a sales file is
uploaded and activated through the datasets API, a training job runs through the jobs API (job
database, job log, artifacts, MLflow's embedded store) and `salescast archive` packs it into
`model_store/`. Every path comes from the default settings, relative to the copy, as under `make up`.
The set of files that appeared is the state that must reach neither git nor a build context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core import supervisor
from core.net import http_url
from core.settings import Settings, load_settings
from tests.conftest import REPO_ROOT, TINY_OVERRIDES
from tests.support.messy_csv import MESSY_CATEGORIES, messy_csv_text
from tests.support.ports import free_port

JOB_TIMEOUT_S = 600.0  # a tiny training job; a busy 2-core machine is slow to import Lightning and MLflow
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
UPLOAD_NAME = "shop export 2024.csv"
# Outputs too slow to make here (a bench run, the browser tests, a Lightning logger), written where
# those write them: stand-ins, so the rules for them are checked too.
STAND_INS = (
    "test-artifacts/screenshots/ui-predict.png",
    "test-artifacts/containers/salescast-ct-0/gateway.log",
    "lightning_logs/version_0/hparams.yaml",
)


@dataclass(frozen=True)
class RuntimeState:
    """A project copy after a session, and the files that session wrote (posix paths, relative)."""

    project: Path
    written: frozenset[str]


def project_files(root: Path) -> set[str]:
    """Every file under `root`, as posix paths relative to it (`.git/` left out)."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != ".git"
    }


def copy_project(dest: Path) -> Path:
    """This checkout's working tree without what git ignores (the sources as they are, new files
    too), committed in a fresh git repo: `git status` there shows what a run adds."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the copy
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    config = ("user.name=t", "user.email=t@t", "init.defaultBranch=main", "commit.gpgsign=false")
    git = ["git", *(word for setting in config for word in ("-c", setting))]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-f", "."], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", "project"], cwd=dest, check=True)
    return dest


def _environment() -> dict[str, str]:
    """The user's environment without salescast or MLflow settings (every path stays the default,
    relative to the project), a tiny one-epoch model, and every server on a free loopback port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESCAST_", "MLFLOW_"))}
    for section, values in TINY_OVERRIDES.items():
        for key, value in values.items():
            env[f"SALESCAST_{section.upper()}__{key.upper()}"] = str(value)
    env["SALESCAST_TRAINING__MAX_EPOCHS"] = "1"
    env["SALESCAST_TRAINING__NETWORK_WORKERS"] = "0"
    for name in ("GATEWAY__PORT", "TORCHSERVE__INFERENCE_PORT", "TORCHSERVE__MANAGEMENT_PORT"):
        env[f"SALESCAST_{name}"] = str(free_port())
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "MLFLOW_DISABLE_TELEMETRY": "true"})
    return env


def _gateway_answers(client: httpx.Client) -> str | None:
    response = client.get("/api/datasets")
    return None if response.status_code == 200 else f"GET /api/datasets answered {response.status_code}"


def _upload_and_train(client: httpx.Client) -> None:
    """Upload and activate a sales file, then train its first category through a job (no deploy)."""
    body = messy_csv_text(days=60).encode("utf-8")
    uploaded = client.post("/api/datasets", files={"file": (UPLOAD_NAME, body, "text/csv")})
    assert uploaded.status_code == 201, uploaded.text
    activated = client.put("/api/datasets/active", json={"dataset_id": uploaded.json()["dataset_id"]})
    assert activated.status_code == 200, activated.text
    started = client.post(
        "/api/train",
        json={"categories": [MESSY_CATEGORIES[0]], "experiment_name": "runtime-state", "deploy": "never"},
    )
    assert started.status_code == 202, started.text
    job_url = started.json()["status_url"]
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(job_url).json()
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            return
        time.sleep(1.0)
    raise AssertionError(f"the training job did not end within {JOB_TIMEOUT_S:g} s: {job}")


def run_session(project: Path) -> RuntimeState:
    """What a user's session leaves in `project` (see the module docstring); returns the new files."""
    before = project_files(project)
    env = _environment()
    settings: Settings = load_settings(environ=env)
    run_dir = project / settings.paths.run
    gateway = supervisor.start_process(
        "gateway",
        [sys.executable, "-m", "salescast", "serve", "gateway"],
        supervisor.log_dir(run_dir) / "gateway.log",
        env,
        cwd=project,
    )
    url = http_url(settings.gateway.host, settings.gateway.port)
    supervisor.write_pid_file(
        supervisor.pid_file(run_dir), supervisor.own_record([gateway], {"urls": {"gateway": url}})
    )
    try:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            supervisor.wait_ready(gateway, lambda: _gateway_answers(client), START_TIMEOUT_S)
            _upload_and_train(client)
    finally:
        gateway.stop(STOP_TIMEOUT_S)
    archived = subprocess.run(
        [sys.executable, "-m", "salescast", "archive", "--all"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert archived.returncode == 0, archived.stdout + archived.stderr
    for name in (f"{settings.bench.out_dir.as_posix()}/serving.json", *STAND_INS):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(b"stand-in\n")
    return RuntimeState(project, frozenset(project_files(project) - before))
