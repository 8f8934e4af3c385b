"""The Airflow DAG (deploy/airflow/dags/salescast_retrain.py) as Airflow runs it: in its own venv
(`make venv-airflow`, from deploy/airflow/requirements.lock), on a fresh sqlite metadata database,
loaded by Airflow's DagBag and run once with `dag.test()` against a real gateway.

The gateway is this module's own, in front of the session's TorchServe, on a copy of the session's
trained versions: the DAG files `only_changed` with deploy `never` on unchanged data, so the real job
ends fast with every category `unchanged` and no served model moves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.conftest import REPO_ROOT, make_test_settings
from tests.fixtures.gateway import GatewayProcess

AIRFLOW_VENV = REPO_ROOT / ".venv-airflow"
DAGS_FOLDER = REPO_ROOT / "deploy" / "airflow" / "dags"
DAG_ID = "salescast_retrain"
API_KEY = "airflow-test-key"
MIGRATE_TIMEOUT_S = 180
RUN_TIMEOUT_S = 240
JOB_TIMEOUT_S = 120
REPORT = "DAG_REPORT "

pytestmark = [
    pytest.mark.slow,
    pytest.mark.torchserve,
    pytest.mark.skipif(
        not (AIRFLOW_VENV / "bin" / "python").exists(),
        reason="no .venv-airflow: `make venv-airflow` builds it from deploy/airflow/requirements.lock",
    ),
]

# Runs in .venv-airflow: Airflow's own loader, then one run; prints what the tests check as one line.
RUN_ONCE = f"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(include_examples=False)
report = {{"import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}}, "dag_ids": bag.dag_ids}}
dag = bag.get_dag({DAG_ID!r})
if dag is not None:
    report.update(
        schedule=dag.timetable.summary, catchup=dag.catchup, max_active_runs=dag.max_active_runs,
        deploy_default=dag.params["deploy"], tz=str(dag.timezone),
    )
    run = dag.test(run_conf=json.loads(sys.argv[1]))
    report["state"] = str(run.state)
    report["tasks"] = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
print({REPORT!r} + json.dumps(report), flush=True)
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an Airflow process: its home and sqlite database in a temp folder, migrated."""
    home = tmp_path_factory.mktemp("airflow-home")
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "SALESCAST_")) and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env = {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "SALESCAST_POLL_S": "1",
    }
    start = time.monotonic()
    migrate = subprocess.run(
        [str(AIRFLOW_VENV / "bin" / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    print(f"airflow db migrate: {time.monotonic() - start:.1f} s")
    return env


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, test_settings: Settings, torchserve: object
) -> Iterator[GatewayProcess]:
    """A gateway with an API key on a copy of the session's versions, serving from its TorchServe."""
    root = tmp_path_factory.mktemp("airflow-gateway")
    artifacts = root / "artifacts"
    shutil.copytree(test_settings.paths.artifacts, artifacts)
    served = test_settings.torchserve
    settings = make_test_settings(
        root,
        paths={"artifacts": str(artifacts), "model_store": str(test_settings.paths.model_store)},
        torchserve={
            "inference_port": served.inference_port,
            "management_port": served.management_port,
            "metrics_port": served.metrics_port,
        },
        gateway={"api_key": API_KEY},
    )
    with GatewayProcess(settings, root) as process:
        yield process


def _start_dag(env: dict[str, str], conf: dict[str, Any]) -> subprocess.Popen[str]:
    """One `dag.test()` in .venv-airflow with `env`, started."""
    return subprocess.Popen(
        [str(AIRFLOW_VENV / "bin" / "python"), "-c", RUN_ONCE, json.dumps(conf)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(process: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    """The started run's report and everything it printed, once it ended."""
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        process.kill()
    output = stdout + stderr
    lines = [line for line in stdout.splitlines() if line.startswith(REPORT)]
    assert process.returncode == 0 and lines, output[-5000:]
    report: dict[str, Any] = json.loads(lines[-1].removeprefix(REPORT))
    assert report["import_errors"] == {} and DAG_ID in report["dag_ids"], report
    return report, output


def _run_dag(env: dict[str, str], conf: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One `dag.test()` in .venv-airflow with `env`: the report and everything printed."""
    return _report(_start_dag(env, conf))


def _jobs(url: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/jobs", headers={"X-API-Key": API_KEY}, timeout=30)
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()["jobs"]
    return jobs


def test_the_dag_files_train_all_through_the_connection_and_succeeds_with_the_job(
    airflow_env: dict[str, str], gateway: GatewayProcess
) -> None:
    # The connection wins over the environment, which points nowhere here.
    settings = gateway.settings.gateway
    connection = {"conn_type": "http", "host": settings.host, "port": settings.port, "password": API_KEY}
    env = {
        **airflow_env,
        "AIRFLOW_CONN_SALESCAST_GATEWAY": json.dumps(connection),
        "SALESCAST_GATEWAY_URL": "http://127.0.0.1:9",
    }
    report, output = _run_dag(env, {"deploy": "never", "only_changed": True})
    assert (report["schedule"], report["catchup"], report["max_active_runs"]) == ("0 3 * * *", False, 1)
    assert (report["deploy_default"], report["tz"]) == ("if_better", "UTC")
    assert report["state"] == "success", output[-5000:]
    assert report["tasks"] == {"file_job": "success", "wait_for_job": "success"}, report
    (job,) = _jobs(gateway.url)  # the gateway's own job store: the one job the DAG filed
    assert (job["kind"], job["status"], job["deploy_policy"]) == ("train_all", "succeeded", "never"), job
    assert f"filed job {job['job_id']}" in output and f"job {job['job_id']} succeeded" in output
    details = httpx.get(
        f"{gateway.url}/api/jobs/{job['job_id']}", headers={"X-API-Key": API_KEY}, timeout=30
    ).json()
    assert details["only_changed"] is True
    assert {result["state"] for result in details["results"]} == {"unchanged"}, details["results"]


def test_a_wrong_api_key_in_the_environment_fails_the_run_with_the_gateways_answer(
    airflow_env: dict[str, str], gateway: GatewayProcess
) -> None:
    before = len(_jobs(gateway.url))
    env = {**airflow_env, "SALESCAST_GATEWAY_URL": gateway.url, "SALESCAST_API_KEY": "not-the-key"}
    report, output = _run_dag(env, {"deploy": "never"})
    assert report["state"] == "failed", output[-5000:]
    assert report["tasks"]["file_job"] == "failed", report
    assert "POST /api/train_all answered 403: wrong X-API-Key" in output, output[-5000:]
    assert len(_jobs(gateway.url)) == before  # nothing filed


def test_a_job_already_running_skips_the_run_without_failing_it(
    airflow_env: dict[str, str], gateway: GatewayProcess
) -> None:
    headers = {"X-API-Key": API_KEY}
    # A real training of Beauty holds it while the DAG runs; it is cancelled once the DAG is done.
    filed = httpx.post(
        f"{gateway.url}/api/train",
        headers=headers,
        json={"categories": ["Beauty"], "deploy": "never"},
        timeout=30,
    )
    assert filed.status_code == 202, filed.text
    env = {**airflow_env, "SALESCAST_GATEWAY_URL": gateway.url, "SALESCAST_API_KEY": API_KEY}
    report, output = _run_dag(env, {"deploy": "never"})
    assert "POST /api/train_all answered 409: already queued or training: Beauty" in output, output[-5000:]
    assert report["state"] == "success", output[-5000:]
    assert report["tasks"] == {"file_job": "skipped", "wait_for_job": "skipped"}, report
    deadline = time.monotonic() + JOB_TIMEOUT_S
    job_url = f"{gateway.url}/api/jobs/{filed.json()['job_id']}"
    # a 409 if it finished meanwhile: either is fine
    httpx.post(f"{job_url}/cancel", headers=headers, timeout=30)
    while (job := httpx.get(job_url, headers=headers, timeout=30).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)


def test_a_failed_job_fails_the_run_with_the_jobs_error(
    airflow_env: dict[str, str], gateway: GatewayProcess
) -> None:
    headers = {"X-API-Key": API_KEY}
    before = {job["job_id"] for job in _jobs(gateway.url)}
    env = {**airflow_env, "SALESCAST_GATEWAY_URL": gateway.url, "SALESCAST_API_KEY": API_KEY}
    process = _start_dag(env, {"deploy": "never"})
    try:  # the job the DAG files is cancelled through the API: it fails, "cancelled by a request"
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while not (filed := [job for job in _jobs(gateway.url) if job["job_id"] not in before]):
            assert time.monotonic() < deadline and process.poll() is None, "the DAG filed no job"
            time.sleep(0.2)
        (job,) = filed
        cancel = httpx.post(f"{gateway.url}/api/jobs/{job['job_id']}/cancel", headers=headers, timeout=30)
        assert cancel.status_code in (200, 202) and cancel.json()["cancel_requested"], cancel.text
    finally:
        report, output = _report(process)
    assert report["state"] == "failed", output[-5000:]
    assert report["tasks"] == {"file_job": "success", "wait_for_job": "failed"}, report
    assert f"job {job['job_id']} failed: cancelled by a request" in output, output[-5000:]
