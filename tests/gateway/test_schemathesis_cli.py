"""The OpenAPI document tells the truth: Schemathesis's own CLI, run as an API client would, against a
real gateway in front of a real TorchServe, once with an API key and once without.

`st run …/openapi.json` with every phase (examples, coverage, fuzzing, stateful) and every check
(server errors, status codes, content types, response schemas, schema-valid data accepted,
schema-violating data rejected, `Allow` headers, authentication declared where it is enforced, …),
with a fixed seed and a bounded number of cases per operation. The exceptions to "schema-valid means
accepted" that JSON Schema cannot state are listed, each with its reason, in `schemathesis.toml`
beside this file. The stack is private: the run uploads and activates datasets, pins versions and
starts training jobs (which may deploy).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from salescast.bench.isolation import free_port
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.torchserve import ArchiveCopies

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
API_KEY = "schemathesis-key-0123456789"
SEED = 1
MAX_EXAMPLES = {"api_key": 100, "no_key": 30}
"""Cases per operation and phase. With the key (the configuration a deployment runs): ~75 s, ~3 000
cases. Without it, the same handlers again under a document that declares no security: ~50 s, ~1 400."""
REQUEST_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 600.0  # a hung run fails here rather than at pytest's own timeout


@dataclass
class Stack:
    settings: Settings
    root: Path
    torchserve: TorchServeProcess


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies) -> Iterator[Stack]:
    """A private TorchServe serving copies of the session's tiny models; one training job at a time."""
    root = tmp_path_factory.mktemp("schemathesis")
    settings = make_test_settings(root, gateway={"job_queue_size": 1})
    archives = archive_copies(settings)
    torchserve = torchserve_process(settings, archives).start()
    try:
        yield Stack(settings, root, torchserve)
    finally:
        torchserve.stop()


@pytest.mark.parametrize("api_key", [API_KEY, None], ids=["api_key", "no_key"])
def test_schemathesis_finds_no_failure(stack: Stack, api_key: str | None) -> None:
    mode = "api_key" if api_key else "no_key"
    work = stack.root / mode
    settings = stack.settings.with_overrides(
        {
            "gateway": {"api_key": api_key, "port": free_port()},
            "paths": {
                "jobs_db": str(work / "jobs.sqlite"),
                "datasets": str(work / "datasets"),
                "run": str(work / "run"),
            },
        }
    )
    report_path = work / "report.json"
    with GatewayLauncher(settings, work) as gateway:
        command = [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"{gateway.url}/openapi.json",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-examples",
            str(MAX_EXAMPLES[mode]),
            "--request-timeout",
            str(REQUEST_TIMEOUT_S),
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
        ]
        if api_key:
            command += ["--header", f"X-API-Key: {api_key}"]
        run = subprocess.run(
            command, cwd=work, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
        spec = httpx.get(f"{gateway.url}/openapi.json", timeout=30).json()
    operations = sum(method in HTTP_METHODS for item in spec["paths"].values() for method in item)
    output = run.stdout + run.stderr
    print(output[output.find("=== SUMMARY") - 40 :] if "=== SUMMARY" in output else output[-6000:])
    assert run.returncode == 0, output[-20000:]
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["complete"] and report["exit_code"] == 0
    assert report["failures"] == [] and report["errors"] == [], json.dumps(report["failures"])[:5000]
    # every operation of the gateway's own schema was tested (18 since GET /api/schedule)
    assert report["operations"]["tested"] == report["operations"]["total"] == operations
    assert {phase["status"] for phase in report["phases"].values()} == {"success"}
    assert report["test_cases"]["generated"] > 1000
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    assert scenarios is not None and int(scenarios.group(1)) > 0, "the stateful phase ran no scenario"
