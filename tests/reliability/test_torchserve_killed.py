"""TorchServe SIGKILLed under load: the gateway answers 503 with a message within its configured
prediction timeout (never hangs, never 500s); once a restarted TorchServe has its models ready,
predictions succeed again within 10 s without restarting the gateway."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from tests.reliability.conftest import CATEGORY, LoadRecord, ReliabilityStack, start_load

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

CONCURRENCY = 8
LOAD_AFTER_KILL_S = 8.0
RECOVERY_S = 10.0
SLACK_S = 1.5  # scheduling slack on a shared 2-core machine, on top of the configured timeout


def test_killed_torchserve_gives_503_then_recovers(reliability_stack: ReliabilityStack) -> None:
    stack = reliability_stack
    stack.wait_until_idle()
    timeout_s = stack.settings.gateway.predict_timeout_s
    body = {"category": CATEGORY, "sales": stack.window()}
    assert httpx.post(f"{stack.url}/api/predict", json=body, timeout=10).status_code == 200

    async def scenario() -> LoadRecord:
        load = await start_load(
            stack.url,
            body,
            concurrency=CONCURRENCY,
            max_seconds=60.0,
            max_requests=20_000,
            timeout_s=timeout_s + 10.0,
        )
        for process in stack.torchserve.process_tree():  # java, workers and the launcher, at once
            process.send_signal(signal.SIGKILL)
        await asyncio.sleep(LOAD_AFTER_KILL_S)
        return await load.finish()

    record = asyncio.run(scenario())
    statuses = record.statuses
    assert not record.errors, f"transport errors (the gateway hung up): {record.errors[:5]}"
    assert set(statuses) <= {200, 503}, f"unexpected statuses {sorted(set(statuses))}: {record.bodies[:5]}"
    assert 503 in statuses, "no request saw the outage"
    slowest = max(record.latencies_s)
    assert slowest <= timeout_s + SLACK_S, f"a request took {slowest:.2f} s (timeout {timeout_s} s)"
    unavailable = httpx.post(f"{stack.url}/api/predict", json=body, timeout=timeout_s + 10)
    assert unavailable.status_code == 503
    assert unavailable.json().get("detail"), unavailable.text

    stack.restart_torchserve()  # returns once every model has a ready worker
    ready = time.monotonic()
    while True:
        response = httpx.post(f"{stack.url}/api/predict", json=body, timeout=timeout_s + 5)
        if response.status_code == 200:
            break
        assert time.monotonic() - ready < RECOVERY_S, (
            f"no prediction {RECOVERY_S:g} s after restart: {response.text}"
        )
        time.sleep(0.2)
    assert time.monotonic() - ready < RECOVERY_S
