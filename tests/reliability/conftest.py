"""Reliability tier: one private TorchServe + gateway stack (API key on, tiny model, a training queue
of one job) shared by the tier's tests, which may change its models, kill its TorchServe or corrupt
its data file; the session's shared stack is never touched. Load helpers are bounded in time and
count and target 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.torchserve_process import TorchServeProcess
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.torchserve import ArchiveCopies

API_KEY = "reliability-key-0123456789"
CATEGORY = "Beauty"
JOB_WAIT_S = 240.0  # a tiny training job on a busy 2-core machine, with deploy


@dataclass
class ReliabilityStack:
    settings: Settings
    root: Path
    gateway: GatewayLauncher
    torchserve: TorchServeProcess

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": API_KEY}

    @property
    def data_path(self) -> Path:
        return self.settings.data.path

    def restart_torchserve(self) -> None:
        """Start TorchServe again on the same ports with the newest archive of every category."""
        self.torchserve.stop()
        self.torchserve = torchserve_process(self.settings, None, work_dir=self.torchserve.work_dir).start()

    def window(self, size: int = 14) -> list[float]:
        return [float(100 + 10 * i) for i in range(size)]

    def served_version(self, category: str = CATEGORY) -> str:
        models = httpx.get(f"{self.url}/api/models", timeout=10).json()["models"]
        return next(str(m["default_version"]) for m in models if m["category"] == category)

    def wait_for_job(self, job_id: str, timeout_s: float = JOB_WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job: dict[str, Any] = httpx.get(
                f"{self.url}/api/jobs/{job_id}", headers=self.headers, timeout=10
            ).json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} did not finish within {timeout_s:g} s")

    def wait_until_idle(self, timeout_s: float = JOB_WAIT_S) -> None:
        """Wait until no job is queued or running (jobs left by an earlier test) and the gateway has
        recorded every served version as its category's champion (its start-up reconciliation
        writes champions.json in the model store: not a change a later job made)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            jobs = httpx.get(f"{self.url}/api/jobs", headers=self.headers, timeout=10).json()["jobs"]
            models = httpx.get(f"{self.url}/api/models", timeout=10).json()["models"]
            champions = [
                "champion" in version["aliases"]
                for model in models
                for version in model["versions"]
                if version["is_default"]
            ]
            if all(job["status"] in ("succeeded", "failed") for job in jobs) and champions and all(champions):
                return
            time.sleep(0.5)
        raise AssertionError(f"training jobs still busy, or versions not recorded, after {timeout_s:g} s")


@pytest.fixture(scope="session")
def reliability_stack(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies
) -> Iterator[ReliabilityStack]:
    """A private stack serving copies of the session's tiny models (deploy policy `always`)."""
    root = tmp_path_factory.mktemp("reliability")
    data = root / "sales.csv"
    shutil.copyfile(SAMPLE_DATA, data)
    settings = make_test_settings(
        root,
        data={"path": str(data)},
        gateway={"api_key": API_KEY, "job_queue_size": 1, "deploy_policy": "always"},
    )
    archives = archive_copies(settings)
    stack: ReliabilityStack | None = None
    torchserve = torchserve_process(settings, archives).start()
    try:
        with GatewayLauncher(settings, root / "gateway") as gateway:
            stack = ReliabilityStack(settings, root, gateway, torchserve)
            yield stack
    finally:
        torchserve.stop()
        if stack is not None:
            stack.torchserve.stop()  # the restarted instance, when a test restarted TorchServe


@dataclass
class LoadRecord:
    """What a bounded predict load saw: status codes, latencies, model versions, transport errors."""

    statuses: list[int] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    failed_at_s: list[float] = field(default_factory=list)  # seconds after the load started


async def predict_load(
    url: str,
    body: dict[str, Any],
    *,
    concurrency: int,
    stop: asyncio.Event,
    max_seconds: float,
    max_requests: int,
    timeout_s: float,
) -> LoadRecord:
    """POST /api/predict from `concurrency` clients until `stop` is set or a bound is hit."""
    record = LoadRecord()
    started = time.monotonic()
    deadline = started + max_seconds
    sent = 0
    async with httpx.AsyncClient(timeout=timeout_s) as client:

        async def loop() -> None:
            nonlocal sent
            while not stop.is_set() and time.monotonic() < deadline and sent < max_requests:
                sent += 1
                began = time.monotonic()
                try:
                    response = await client.post(f"{url}/api/predict", json=body)
                except httpx.HTTPError as exc:
                    record.errors.append(f"{type(exc).__name__}: {exc}")
                    record.latencies_s.append(time.monotonic() - began)
                    continue
                record.latencies_s.append(time.monotonic() - began)
                record.statuses.append(response.status_code)
                if response.status_code == 200:
                    record.versions.append(str(response.json()["model_version"]))
                else:
                    record.failed_at_s.append(round(began - started, 2))
                    if len(record.bodies) < 20:
                        record.bodies.append(f"{response.status_code} {response.text[:200]}")

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return record


@dataclass
class BackgroundLoad:
    """A `predict_load` running as a task; `finish()` stops it and returns what it saw."""

    stop: asyncio.Event
    task: asyncio.Task[LoadRecord]

    async def finish(self) -> LoadRecord:
        self.stop.set()
        return await self.task


async def start_load(
    url: str,
    body: dict[str, Any],
    *,
    concurrency: int,
    max_seconds: float,
    max_requests: int,
    timeout_s: float,
) -> BackgroundLoad:
    """Start `predict_load` in the background and give it a second to reach full speed."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        predict_load(
            url,
            body,
            concurrency=concurrency,
            stop=stop,
            max_seconds=max_seconds,
            max_requests=max_requests,
            timeout_s=timeout_s,
        )
    )
    await asyncio.sleep(1.0)
    return BackgroundLoad(stop, task)
