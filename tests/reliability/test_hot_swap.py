"""Hot swap under load: a new version of a category is trained and deployed through the gateway
while clients hammer POST /api/predict for it; no request fails and the served version changes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import CATEGORY, LoadRecord, ReliabilityStack, start_load

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

CONCURRENCY = 16
MAX_LOAD_S = 240.0  # the job bounds it in practice (a tiny training + deploy); this is the backstop
MAX_REQUESTS = 50_000
AFTER_SWAP_S = 2.0  # keep the load on a little after the job finished


def test_deploy_under_load_fails_no_request(reliability_stack: ReliabilityStack) -> None:
    stack = reliability_stack
    stack.wait_until_idle()
    before = stack.served_version(CATEGORY)
    body = {"category": CATEGORY, "sales": stack.window()}
    timeout_s = stack.settings.gateway.predict_timeout_s + 5.0

    started = time.monotonic()

    async def scenario() -> tuple[dict[str, Any], LoadRecord]:
        load = await start_load(
            stack.url,
            body,
            concurrency=CONCURRENCY,
            max_seconds=MAX_LOAD_S,
            max_requests=MAX_REQUESTS,
            timeout_s=timeout_s,
        )
        async with httpx.AsyncClient(timeout=10.0) as client:
            accepted = await client.post(
                f"{stack.url}/api/train",
                json={"categories": [CATEGORY], "deploy": "always"},
                headers=stack.headers,
            )
            assert accepted.status_code == 202, accepted.text
            submitted_s = time.monotonic() - started
            job = await asyncio.to_thread(stack.wait_for_job, accepted.json()["job_id"])
            job["finished_after_s"] = round(time.monotonic() - started, 2)
            job["submitted_after_s"] = round(submitted_s, 2)
        await asyncio.sleep(AFTER_SWAP_S)
        return job, await load.finish()

    job, record = asyncio.run(scenario())
    assert job["status"] == "succeeded", job
    assert time.monotonic() - started < MAX_LOAD_S + 30
    after = stack.served_version(CATEGORY)
    failed = [status for status in record.statuses if status != 200]
    assert not record.errors and not failed, (
        f"{len(failed)} failed responses at {record.failed_at_s[:10]} s (job submitted at "
        f"{job['submitted_after_s']} s, finished at {job['finished_after_s']} s), transport errors "
        f"{record.errors[:5]}: {record.bodies[:3]}"
    )
    assert len(record.statuses) > CONCURRENCY, "the load sent almost nothing"
    assert after != before, f"served version did not change ({before}); job: {job}"
    assert set(record.versions) >= {before, after}, f"versions seen: {sorted(set(record.versions))}"
