"""Hot swap under load: a new version of a category is trained and deployed through the gateway
while clients hammer POST /api/predict for it; no request fails and the served version changes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.reliability.conftest import CATEGORY, ReliabilityStack, predict_load

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

    async def scenario() -> tuple[dict[str, object], object]:
        stop = asyncio.Event()
        load = asyncio.create_task(
            predict_load(
                stack.url,
                body,
                concurrency=CONCURRENCY,
                stop=stop,
                max_seconds=MAX_LOAD_S,
                max_requests=MAX_REQUESTS,
                timeout_s=timeout_s,
            )
        )
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(timeout=10.0) as client:
            accepted = await client.post(
                f"{stack.url}/api/train",
                json={"categories": [CATEGORY], "deploy": "always"},
                headers=stack.headers,
            )
            assert accepted.status_code == 202, accepted.text
            job = await asyncio.to_thread(stack.wait_for_job, accepted.json()["job_id"])
        await asyncio.sleep(AFTER_SWAP_S)
        stop.set()
        return job, await load

    started = time.monotonic()
    job, record = asyncio.run(scenario())
    assert job["status"] == "succeeded", job
    assert time.monotonic() - started < MAX_LOAD_S + 30
    after = stack.served_version(CATEGORY)
    failed = [status for status in record.statuses if status != 200]  # type: ignore[attr-defined]
    assert not record.errors and not failed, (  # type: ignore[attr-defined]
        f"{len(failed)} failed responses, transport errors {record.errors[:5]}: {record.bodies[:5]}"  # type: ignore[attr-defined]
    )
    assert len(record.statuses) > CONCURRENCY, "the load sent almost nothing"  # type: ignore[attr-defined]
    assert after != before, f"served version did not change ({before}); job: {job}"
    assert set(record.versions) >= {before, after}, f"versions seen: {sorted(set(record.versions))}"  # type: ignore[attr-defined]
