"""Two real gateway processes sharing one real Redis (`redis.url`), as replicas behind a Service: one
job list, a job filed through one is read and cancelled through the other (the cancel travels through
the store: the gateway told to cancel is not the one running the process), never two jobs at once
across both, and a deploy or a rollback through one drops the other's cached forecast."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from core.settings import Settings
from gateway.job_runner import CANCEL_REASON
from salescast.bench.isolation import free_port
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.torchserve_process import TorchServeProcess
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.torchserve import ArchiveCopies

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

API_KEY = "shared-state-key-0123456789"
HEADERS = {"X-API-Key": API_KEY}
JOB_WAIT_S = 300.0  # a tiny training job on a busy 2-core machine, with deploy
SAMPLE_S = 0.2
REFRESH_WAIT_S = 30.0  # a gateway's background refresh of its model list, TorchServe busy after a deploy


@dataclass
class SharedStack:
    settings: Settings
    torchserve: TorchServeProcess
    gateways: tuple[GatewayLauncher, GatewayLauncher]

    def url(self, index: int) -> str:
        return self.gateways[index].url

    def pid(self, index: int) -> int:
        process = self.gateways[index].process
        assert process is not None
        return process.pid

    def get(self, index: int, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url(index)}{path}", headers=HEADERS, params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def train(self, index: int, category: str, deploy: str) -> str:
        response = httpx.post(
            f"{self.url(index)}/api/train",
            json={"categories": [category], "deploy": deploy},
            headers=HEADERS,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    def wait(self, index: int, job_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_WAIT_S
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.get(index, f"/api/jobs/{job_id}")
            if done(job):
                return job
            time.sleep(SAMPLE_S)
        raise AssertionError(f"job {job_id} not as expected within {JOB_WAIT_S:g} s: {job}")

    def forecast(self, index: int, category: str) -> tuple[str, str]:
        """(model version, X-Cache) of GET /api/forecast/{category} through gateway `index`."""
        response = httpx.get(f"{self.url(index)}/api/forecast/{category}", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["model_version"], response.headers["X-Cache"]


def training_processes(run: Path, job_id: str = "") -> list[psutil.Process]:
    """The `salescast train --job-spec` processes of this stack (spec under `run`) alive now, of
    `job_id` when given (other tests on the machine run jobs of their own)."""
    spec = f"--job-spec {run / 'jobs'}/{job_id}"
    return [
        process
        for process in psutil.process_iter(["cmdline", "status"])
        if spec in " ".join(process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE
    ]


@pytest.fixture(scope="module")
def shared_stack(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies, redis_server: RedisServer
) -> Iterator[SharedStack]:
    """A private TorchServe with copies of the session's tiny models and two gateways on one Redis
    prefix. Each gateway's model list refreshes only hourly: a gateway learns of a deploy through the
    other only from an answer, so a cached forecast it kept would show."""
    root = tmp_path_factory.mktemp("shared-state")
    data = root / "sales.csv"
    shutil.copyfile(SAMPLE_DATA, data)
    settings = make_test_settings(
        root,
        data={"path": str(data)},
        gateway={"api_key": API_KEY, "job_queue_size": 4, "models_refresh_s": 3600, "job_poll_s": 0.2},
        redis=redis_server.settings().model_dump(),
    )
    other = settings.with_overrides({"gateway": {"port": free_port()}})
    archives = archive_copies(settings)
    torchserve = torchserve_process(settings, archives).start()
    try:
        with (
            GatewayLauncher(settings, root / "gateway-a") as first,
            GatewayLauncher(other, root / "gateway-b") as second,
        ):
            yield SharedStack(settings, torchserve, (first, second))
    finally:
        torchserve.stop()


def test_a_job_filed_through_one_gateway_is_read_and_cancelled_through_the_other(
    shared_stack: SharedStack,
) -> None:
    job_id = shared_stack.train(0, "Electronics", "never")
    listed = shared_stack.get(1, "/api/jobs")["jobs"]
    assert job_id in [job["job_id"] for job in listed]
    read = shared_stack.get(1, f"/api/jobs/{job_id}")
    assert (read["categories"], read["deploy_policy"]) == (["Electronics"], "never")

    shared_stack.wait(
        1,
        job_id,
        lambda job: (
            job["status"] == "running" and bool(training_processes(shared_stack.settings.paths.run, job_id))
        ),
    )
    [process] = training_processes(shared_stack.settings.paths.run, job_id)
    runner = 0 if process.ppid() == shared_stack.pid(0) else 1
    assert process.ppid() == shared_stack.pid(runner)
    other = 1 - runner  # told to cancel: it has no process of this job to signal
    response = httpx.post(f"{shared_stack.url(other)}/api/jobs/{job_id}/cancel", headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text
    assert response.json()["cancel_requested"] is True

    job = shared_stack.wait(runner, job_id, lambda job: job["status"] != "running")
    assert (job["status"], job["error"], job["cancel_requested"]) == ("failed", CANCEL_REASON, True)
    assert [outcome["state"] for outcome in job["results"]] == ["failed"]
    deadline = time.monotonic() + 10
    while process.is_running() and process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    again = httpx.post(f"{shared_stack.url(runner)}/api/jobs/{job_id}/cancel", headers=HEADERS, timeout=30)
    assert again.status_code == 409


def test_two_gateways_never_run_two_jobs_at_once(shared_stack: SharedStack) -> None:
    first = shared_stack.train(0, "Beauty", "never")
    second = shared_stack.train(1, "Clothing", "never")
    ids = {first, second}
    most_running = 0
    seen_running: set[str] = set()
    deadline = time.monotonic() + 2 * JOB_WAIT_S
    while time.monotonic() < deadline:
        jobs = [job for job in shared_stack.get(1, "/api/jobs")["jobs"] if job["job_id"] in ids]
        running = {job["job_id"] for job in jobs if job["status"] == "running"}
        seen_running |= running
        most_running = max(
            most_running, len(running), len(training_processes(shared_stack.settings.paths.run))
        )
        if all(job["status"] in ("succeeded", "failed") for job in jobs):
            break
        time.sleep(SAMPLE_S)
    finished = {job_id: shared_stack.get(0, f"/api/jobs/{job_id}") for job_id in ids}
    assert [job["status"] for job in finished.values()] == ["succeeded", "succeeded"], finished
    assert seen_running == ids
    assert most_running == 1
    earlier, later = sorted(finished.values(), key=lambda job: job["started_at"])
    assert later["started_at"] >= earlier["finished_at"]


def test_a_deploy_or_rollback_through_one_gateway_drops_the_others_cached_forecast(
    shared_stack: SharedStack,
) -> None:
    before, _ = shared_stack.forecast(1, "Beauty")
    assert shared_stack.forecast(1, "Beauty") == (before, "hit")
    assert shared_stack.forecast(0, "Beauty") == (before, "hit")  # one cache for both

    job_id = shared_stack.train(0, "Beauty", "always")
    job = shared_stack.wait(0, job_id, lambda job: job["status"] in ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    [outcome] = job["results"]
    assert outcome["deployed"] is True
    deployed = outcome["version"]
    assert deployed != before
    # Gateway B still believes `before` is served (its list refreshes hourly): only the drop keeps it
    # from answering the cached forecast of the old version.
    assert shared_stack.forecast(1, "Beauty")[0] == deployed
    # B learns the new version in the background (an answer from another version asks for a refresh,
    # which no prediction waits on): misses until then, hits after, never the old version's forecast.
    answers: list[tuple[str, str]] = []
    deadline = time.monotonic() + REFRESH_WAIT_S
    while not answers or answers[-1] != (deployed, "hit"):
        assert time.monotonic() < deadline, f"gateway B never cached the new version's forecast: {answers}"
        answers.append(shared_stack.forecast(1, "Beauty"))
        time.sleep(SAMPLE_S)
    assert {version for version, _ in answers} == {deployed}, answers

    rollback = httpx.put(
        f"{shared_stack.url(0)}/api/models/Beauty/default",
        json={"version": before},
        headers=HEADERS,
        timeout=60,
    )
    assert rollback.status_code == 200, rollback.text
    assert shared_stack.forecast(1, "Beauty")[0] == before
