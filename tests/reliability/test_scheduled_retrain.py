"""Scheduled retraining across a real restart, on a real gateway and TorchServe: cron times missed
while no gateway ran are run once, not once per missed time; the filed job is an ordinary
`train_all` with the schedule's `if_better` policy, and each category's new version is served only
where it scored better than the served one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from salescast.bench.serving_stack import torchserve_process
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.torchserve import ArchiveCopies

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

JOB_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies
) -> Iterator[tuple[Settings, Path]]:
    """Settings of a gateway with the schedule on (03:00 UTC, checked every 0.3 s, `if_better`) and
    its own TorchServe serving copies of the session's versions (the job deploys into it)."""
    root = tmp_path_factory.mktemp("scheduled")
    settings = make_test_settings(
        root,
        retrain={
            "enabled": True,
            "cron": "0 3 * * *",
            "poll_s": 0.3,
            "deploy": "if_better",
            "only_changed": False,
        },
    )
    server: TorchServeProcess = torchserve_process(settings, archive_copies(settings)).start()
    try:
        yield settings, root
    finally:
        server.stop()


def _schedule(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/api/schedule", timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _served(url: str) -> dict[str, str]:
    models = httpx.get(f"{url}/api/models", timeout=30).json()["models"]
    return {model["category"]: model["default_version"] for model in models}


def test_missed_runs_run_once_after_a_restart_and_deploy_only_what_is_better(
    stack: tuple[Settings, Path],
) -> None:
    settings, root = stack
    state = settings.paths.run / "schedule.json"
    with GatewayProcess(settings, root, name="before-restart") as gateway:
        deadline = time.monotonic() + 30
        while not state.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        planned = _schedule(gateway.url)
        assert planned["runner"] == "this_process" and planned["next_run"], planned
        served_before = _served(gateway.url)
    # The gateway was away for three nights: its planned run is three days in the past.
    record = json.loads(state.read_text(encoding="utf-8"))
    record["next_run"] = "2020-01-01T03:00:00Z"
    state.write_text(json.dumps(record), encoding="utf-8")

    with GatewayProcess(settings, root, name="after-restart") as gateway:
        deadline = time.monotonic() + 60
        schedule = _schedule(gateway.url)
        while not (schedule["last_run"] or {}).get("job_id") and time.monotonic() < deadline:
            time.sleep(0.3)
            schedule = _schedule(gateway.url)
        run = schedule["last_run"]
        assert run and run["job_id"] and run["due"] == "2020-01-01T03:00:00Z", schedule
        assert schedule["next_run"] > "2026", schedule  # planned anew from now, not the missed days
        job_url = f"{gateway.url}/api/jobs/{run['job_id']}"
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while (job := httpx.get(job_url, timeout=30).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["status"] == "succeeded", job
        assert (job["kind"], job["deploy_policy"]) == ("train_all", "if_better")
        time.sleep(1.0)  # several more ticks: the missed nights do not file more jobs
        jobs = httpx.get(f"{gateway.url}/api/jobs", timeout=30).json()["jobs"]
        assert [item["job_id"] for item in jobs] == [run["job_id"]], jobs
        served_after = _served(gateway.url)
        for outcome in job["results"]:
            category = outcome["category"]
            assert outcome["deploy_reason"], outcome
            expected = outcome["version"] if outcome["deployed"] else served_before[category]
            assert served_after[category] == expected, (outcome, served_after)
