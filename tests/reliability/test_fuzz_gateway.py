"""Schemathesis fuzzing of the gateway from its own OpenAPI schema, with the API key and TorchServe up.

Every operation gets schema-valid (positive) and schema-violating (negative) generated requests;
operations whose success needs real names (a category, a job id, a registered version) also get
positive requests with those fixed and the rest generated. Every response must be non-5xx, have a
documented status code and content type and match its response schema; every operation must answer
2xx at least once; at least 500 requests are sent.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode

from tests.reliability.conftest import CATEGORY, ReliabilityStack

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

EXAMPLES_PER_STRATEGY = 25
MIN_REQUESTS = 500
FUZZ_BUDGET_S = 240.0  # stop generating (and fail on the count) rather than run away
REQUEST_TIMEOUT_S = 15.0


def test_fuzzed_requests_never_fail_the_server(reliability_stack: ReliabilityStack) -> None:
    stack = reliability_stack
    stack.wait_until_idle()
    job = httpx.post(
        f"{stack.url}/api/train", json={"categories": ["Clothing"], "deploy": "never"}, headers=stack.headers
    )
    assert job.status_code == 202, job.text
    known: dict[str, Any] = {
        "category": CATEGORY,
        "job_id": job.json()["job_id"],
        "version": stack.served_version(CATEGORY),
        "csv": b"Date,Product Category,Total Amount\n"
        + b"".join(f"2024-01-{day:02d},Toys,{10 * day}\n".encode() for day in range(1, 29)),
    }
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []
    started = time.monotonic()
    deadline = started + FUZZ_BUDGET_S

    def send(case: Any) -> None:
        if time.monotonic() > deadline:
            return
        try:
            response = case.call(base_url=stack.url, headers=stack.headers, timeout=REQUEST_TIMEOUT_S)
        except Exception as exc:  # a timeout or reset is a failure of the server, reported with the rest
            failures.append(f"{case.operation.label}: no answer: {str(exc)[:300]}")
            return
        label = case.operation.label
        statuses[label][response.status_code] += 1
        problem = _problem(case.operation, response)
        if problem:
            failures.append(f"{label} -> {response.status_code}: {problem} | sent {case.body!r:.200}")

    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # train_all conflicts with any running job: fuzz it last, once the queue is idle, so that it
    # can be accepted once (each accepted job trains the tiny model; the rest answer 409/429)
    operations.sort(key=lambda operation: operation.path == "/api/train_all")
    for operation in operations:
        if operation.path == "/api/train_all":
            stack.wait_until_idle()
        for strategy in _strategies(operation, known):
            run = settings(
                max_examples=EXAMPLES_PER_STRATEGY,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(given(case=strategy)(send))
            with contextlib.suppress(Unsatisfiable):  # e.g. no negative case exists for a parameterless GET
                run()

    stack.wait_until_idle()  # leave no training job running for the next tests
    total = sum(sum(counts.values()) for counts in statuses.values())
    summary = {label: dict(counts) for label, counts in sorted(statuses.items())}
    print(f"fuzzing: {total} requests in {time.monotonic() - started:.0f} s: {summary}")
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_REQUESTS, f"only {total} requests within {FUZZ_BUDGET_S:g} s: {summary}"
    without_2xx = sorted(
        operation.label
        for operation in operations
        if not any(200 <= code < 300 for code in statuses[operation.label])
    )
    assert not without_2xx, f"operations never answered 2xx: {without_2xx}; {summary}"


def _problem(operation: Any, response: Any) -> str | None:
    """Why `response` breaks the contract: a 5xx, an undocumented status, a non-JSON body or a body
    that does not match the documented schema; None when it is fine."""
    status = response.status_code
    if status >= 500:
        return f"server error: {response.text[:200]}"
    documented = set(operation.definition.raw.get("responses", {}))
    if str(status) not in documented and "default" not in documented:
        return f"undocumented status (documented: {sorted(documented)}): {response.text[:200]}"
    content_type = " ".join(response.headers.get("content-type", []))
    expected = list((operation.definition.raw["responses"].get(str(status)) or {}).get("content") or {})
    if not any(content_type.startswith(kind) for kind in expected or ["application/json"]):
        return f"content type {content_type!r} is not the documented {expected}"
    if not content_type.startswith("application/json"):
        return None  # a documented image: its bytes have no schema to check
    try:
        operation.schema.validate_response(operation, response)
    except Exception as exc:  # schemathesis raises its own failure types; the message says what differs
        return f"does not match the response schema: {str(exc)[:300]}"
    return None


def _strategies(operation: Any, known: dict[str, Any]) -> list[SearchStrategy[Any]]:
    """Generated positive and negative cases, plus positive ones with real names filled in."""
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    path = operation.path
    fixed: dict[str, Any] = {}
    if "{category}" in path:
        fixed["path_parameters"] = {"category": known["category"]}
    if "{job_id}" in path:
        fixed["path_parameters"] = {"job_id": known["job_id"]}
    if path.endswith("/default"):
        fixed["body"] = {"version": known["version"]}
    if path == "/api/predict":
        fixed["body"] = {"category": known["category"], "sales": [float(v) for v in range(14)]}
    if path == "/api/predict/batch":
        fixed["body"] = {"items": [{"category": known["category"], "sales": [1.0] * 14}]}
    if path in ("/api/train", "/api/train_all"):
        body = {"deploy": "never"}
        fixed["body"] = {"categories": ["Electronics"], **body} if path == "/api/train" else body
    if "{version}" in path:
        fixed["path_parameters"] = {
            "category": known["category"],
            "version": known["version"],
            "name": "loss",
        }
    if path == "/api/datasets/active":
        fixed["body"] = {"dataset_id": "default"}
        fixed["media_type"] = "application/json"
    if path == "/api/datasets" and operation.method.upper() == "POST":
        fixed["body"] = {"file": known["csv"]}
        fixed["media_type"] = "multipart/form-data"
    if fixed:
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, **fixed))
    return strategies
