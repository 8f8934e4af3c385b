"""A training job that fails (corrupt data file, or its process killed mid-run) leaves the served
version and model_store/ exactly as they were, and the job says `failed` with the reason."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.reliability.conftest import ReliabilityStack

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

CATEGORY = "Electronics"
FIND_PROCESS_S = 60.0


def _store_state(store: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(store.iterdir())}


def _submit(stack: ReliabilityStack) -> str:
    response = httpx.post(
        f"{stack.url}/api/train", json={"categories": [CATEGORY], "deploy": "always"}, headers=stack.headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def test_corrupt_data_file_fails_the_job_and_changes_nothing(reliability_stack: ReliabilityStack) -> None:
    stack = reliability_stack
    stack.wait_until_idle()
    served = stack.served_version(CATEGORY)
    store = _store_state(stack.settings.paths.model_store)
    backup = stack.root / "sales.csv.bak"
    shutil.copyfile(stack.data_path, backup)
    try:
        job_id = _submit(stack)  # the route checks the file first; the training process reads it later
        stack.data_path.write_bytes(b"Date,Product Category\n\x00\xff garbage, not sales\n")
        job = stack.wait_for_job(job_id)
    finally:
        shutil.copyfile(backup, stack.data_path)
    assert job["status"] == "failed", job
    reason = " ".join(
        str(part) for part in (job.get("error"), *(r.get("error") for r in job["results"])) if part
    )
    assert "sales.csv" in reason or "column" in reason.lower(), (
        f"reason does not name the data problem: {job}"
    )
    assert stack.served_version(CATEGORY) == served
    assert _store_state(stack.settings.paths.model_store) == store


def test_killed_training_process_fails_the_job_and_changes_nothing(
    reliability_stack: ReliabilityStack,
) -> None:
    stack = reliability_stack
    stack.wait_until_idle()
    served = stack.served_version(CATEGORY)
    store = _store_state(stack.settings.paths.model_store)
    job_id = _submit(stack)
    trainer = _training_process(stack)
    trainer.send_signal(signal.SIGKILL)
    job = stack.wait_for_job(job_id)
    assert job["status"] == "failed", job
    assert job.get("error"), f"no reason given: {job}"
    assert stack.served_version(CATEGORY) == served
    assert _store_state(stack.settings.paths.model_store) == store


def _training_process(stack: ReliabilityStack) -> psutil.Process:
    """The gateway's `salescast train` child, once it runs."""
    assert stack.gateway.process is not None
    gateway = psutil.Process(stack.gateway.process.pid)
    deadline = time.monotonic() + FIND_PROCESS_S
    while time.monotonic() < deadline:
        for child in gateway.children(recursive=True):
            try:
                if "train" in child.cmdline() and "--job-spec" in child.cmdline():
                    time.sleep(1.0)  # let it start importing and training
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    raise AssertionError(f"no training process appeared within {FIND_PROCESS_S:g} s")
