"""The live container tier (`make test-containers`): both images built, the compose stack started
under a unique project name, checked through its published ports, and always removed (`down -v`).

Every step prints its wall time as it ends, and the whole list again at the end. The output of
every docker command goes to `test-artifacts/containers/<project>/`, with the services' logs saved
there before the stack is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from salescast.bench.isolation import LOOPBACK, free_port
from tests.containers.conftest import COMPOSE_FILE, REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts" / "containers"
BUILD_TIMEOUT_S = 1800.0  # a cold build downloads torch and ~1 GB of wheels
UP_TIMEOUT_S = 900  # `up --wait`: the trainer trains every sample category first
COMMAND_TIMEOUT_S = 300.0
LONG_RUNNING = ("mlflow", "torchserve", "gateway", "ui")
KEY_FILE = "/srv/secrets/api_key"  # gateway.api_key_file in docker-compose.yml
TS_LOG = "/app/run/torchserve-8080/logs/ts_log.log"  # TorchServe's own log in the serve container
# Variables of the user's shell that would change what the stack does: the tier proves the defaults.
CLEARED_ENV = ("SALESCAST_API_KEY", "SALESCAST_PUBLISH_ADDRESS", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME")


class Steps:
    """Named, timed steps: each prints `[containers] <name>: <s>` when it ends (failed ones too)."""

    def __init__(self, config: pytest.Config) -> None:
        self._reporter = config.pluginmanager.get_plugin("terminalreporter")
        self._capture = config.pluginmanager.get_plugin("capturemanager")
        self.times: list[tuple[str, float, bool]] = []

    def write(self, line: str) -> None:
        """Print now, past pytest's output capture, so a person watching sees each step end."""
        if self._reporter is None or self._capture is None:
            print(line, flush=True)
            return
        with self._capture.global_and_fixture_disabled():
            self._reporter.write_line(line)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.monotonic() - start
            self.times.append((name, seconds, ok))
            self.write(f"[containers] {name}: {seconds:.1f} s{'' if ok else ' (FAILED)'}")

    def summary(self) -> None:
        self.write("[containers] step times (wall clock):")
        for name, seconds, ok in self.times:
            self.write(f"[containers]   {seconds:8.1f} s  {name}{'' if ok else '  (FAILED)'}")
        self.write(f"[containers]   {sum(s for _, s, _ in self.times):8.1f} s  total")


@dataclass
class Compose:
    """`docker compose -p <project> -f docker-compose.yml …` with the tier's environment."""

    project: str
    env: dict[str, str]
    log_dir: Path
    calls: int = field(default=0)

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT_S, check: bool = True, log: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a compose command; its output goes to `<log_dir>/<log>.log` when `log` is given."""
        self.calls += 1
        command = ["docker", "compose", "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if log is not None:
            (self.log_dir / f"{self.calls:02d}-{log}.log").write_text(
                f"$ {' '.join(command)}\n{result.stdout}{result.stderr}", encoding="utf-8"
            )
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-40:])
            raise AssertionError(f"`{' '.join(command[4:])}` exited with {result.returncode}:\n{tail}")
        return result

    def logs(self, service: str) -> str:
        return self.run("logs", "--no-color", service).stdout

    def states(self) -> dict[str, tuple[str, str, int]]:
        """Service → (state, health, exit code) of its container, from `docker compose ps -a`."""
        lines = self.run("ps", "-a", "--format", "json").stdout.strip().splitlines()
        # One JSON object per line (a JSON array per line in older Compose releases).
        parsed = [json.loads(line) for line in lines if line.strip()]
        rows = [row for item in parsed for row in (item if isinstance(item, list) else [item])]
        return {
            str(row["Service"]): (str(row["State"]), str(row.get("Health", "")), int(row.get("ExitCode", 0)))
            for row in rows
        }

    def wait_healthy(self, services: tuple[str, ...], timeout_s: float) -> None:
        """Poll until every one of `services` is running and healthy (what `up --wait` waits for)."""
        deadline = time.monotonic() + timeout_s
        states = self.states()
        while time.monotonic() < deadline:
            if all(states.get(name, ("", "", 0))[:2] == ("running", "healthy") for name in services):
                return
            time.sleep(2.0)
            states = self.states()
        raise AssertionError(f"services not healthy within {timeout_s:g} s: {states}")


@dataclass
class Stack:
    """The running stack as a user reaches it: the published URLs and the generated API key."""

    compose: Compose
    gateway_url: str
    ui_url: str
    mlflow_url: str
    api_key: str = ""

    def gateway(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, timeout=30.0)

    def served_versions(self) -> dict[str, str]:
        """Category → default version, as the gateway reports it."""
        with self.gateway() as client:
            models: list[dict[str, Any]] = client.get("/api/models").raise_for_status().json()["models"]
        return {model["category"]: model["default_version"] for model in models}

    def registered_versions(self, model_name: str) -> list[str]:
        """Versions TorchServe has registered for `model_name`, asked from inside the compose network
        (its management API is never published)."""
        script = (
            "import json, urllib.request; "
            f"print(json.dumps([m['modelVersion'] for m in json.load(urllib.request.urlopen("
            f"'http://torchserve:8081/models/{model_name}/all', timeout=10))]))"
        )
        answer = self.compose.run("exec", "-T", "gateway", "python", "-c", script).stdout
        return sorted(json.loads(answer.strip().splitlines()[-1]))

    def wait_until_healthy(self, timeout_s: float) -> dict[str, Any]:
        """Poll /api/health until it answers 200 (every category has a ready worker)."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.gateway_url}/api/health", timeout=5.0)
                if response.status_code == 200:
                    health: dict[str, Any] = response.json()
                    return health
                last = f"{response.status_code} {response.text}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(2.0)
        raise AssertionError(f"gateway not healthy within {timeout_s:g} s: {last}")


@pytest.fixture(scope="session")
def steps(pytestconfig: pytest.Config) -> Iterator[Steps]:
    timer = Steps(pytestconfig)
    yield timer
    timer.summary()


@pytest.fixture(scope="session")
def stack(steps: Steps) -> Iterator[Stack]:
    """Build both images, `up -d --wait` a fresh project on free loopback ports; always `down -v`."""
    project = f"salescast-ct-{uuid.uuid4().hex[:8]}"
    log_dir = ARTIFACTS / project
    log_dir.mkdir(parents=True, exist_ok=True)
    ports = {"GATEWAY": free_port(), "UI": free_port(), "MLFLOW": free_port()}
    env = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
    env.update({f"SALESCAST_{name}_PUBLISH_PORT": str(port) for name, port in ports.items()})
    compose = Compose(project, env, log_dir)
    steps.write(
        f"[containers] project {project}; TORCH_CPU_INDEX={env.get('TORCH_CPU_INDEX', '(default)')} "
        f"DOCKER_BUILD_NETWORK={env.get('DOCKER_BUILD_NETWORK', '(default)')}; logs in {log_dir}"
    )
    running = Stack(
        compose,
        gateway_url=f"http://{LOOPBACK}:{ports['GATEWAY']}",
        ui_url=f"http://{LOOPBACK}:{ports['UI']}",
        mlflow_url=f"http://{LOOPBACK}:{ports['MLFLOW']}",
    )
    try:
        with steps.step("build train image (docker compose build trainer)"):
            compose.run("build", "trainer", timeout=BUILD_TIMEOUT_S, log="build-train")
        with steps.step("build serve image (docker compose build torchserve)"):
            compose.run("build", "torchserve", timeout=BUILD_TIMEOUT_S, log="build-serve")
        with steps.step("first up (docker compose up -d --wait: trains every category)"):
            compose.run(
                "up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT_S), timeout=UP_TIMEOUT_S + 60, log="up"
            )
        running.api_key = compose.run("exec", "-T", "gateway", "cat", KEY_FILE).stdout.strip()
        yield running
    finally:
        for service in ("mlflow", "trainer", "torchserve", "gateway", "ui"):
            compose.run("logs", "--no-color", "--timestamps", service, check=False, log=f"logs-{service}")
        compose.run("exec", "-T", "torchserve", "cat", TS_LOG, check=False, log="torchserve-ts_log")
        with steps.step("down -v"):
            compose.run("down", "-v", "--remove-orphans", check=False, log="down")
