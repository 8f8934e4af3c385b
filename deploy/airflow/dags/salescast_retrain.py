"""Nightly salescast retraining from Airflow, for teams whose schedules live there (docs/retraining.md,
"With Airflow"): file `POST /api/train_all`, wait for the job, fail the run when the job fails.

Use either this DAG or the gateway's own schedule (`retrain.enabled`), not both. Only the standard
library talks to the gateway, so the DAG needs nothing beyond Airflow (deploy/airflow/requirements.lock).

Where the gateway is: the Airflow connection `salescast_gateway` when it exists (host, port, schema
`http`/`https`, the API key as its password), else the environment of the workers:
`SALESCAST_GATEWAY_URL` (e.g. http://gateway:8000) and `SALESCAST_API_KEY`. `SALESCAST_POLL_S` (30) is
how often the job is checked, `SALESCAST_WAIT_TIMEOUT_S` (7200) how long it may take.
"""

# Airflow is installed only in its own venv (make venv-airflow): for the project's mypy its names are Any.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.decorators import dag, task  # type: ignore[import-not-found]
from airflow.exceptions import (  # type: ignore[import-not-found]
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
)
from airflow.hooks.base import BaseHook  # type: ignore[import-not-found]
from airflow.models.param import Param  # type: ignore[import-not-found]
from airflow.operators.python import get_current_context  # type: ignore[import-not-found]
from airflow.sensors.base import PokeReturnValue  # type: ignore[import-not-found]

CONNECTION_ID = "salescast_gateway"
POLL_S = float(os.environ.get("SALESCAST_POLL_S", "30"))
WAIT_TIMEOUT_S = float(os.environ.get("SALESCAST_WAIT_TIMEOUT_S", "7200"))  # gateway.job_timeout_s + queue
REQUEST_TIMEOUT_S = 30.0
BUSY = (409, 429)  # a job already queued or running, the queue full: the next night files again
RUNNING = ("queued", "running")

log = logging.getLogger("airflow.task")


def gateway() -> tuple[str, str]:
    """Base URL and API key: the `salescast_gateway` connection, else the environment."""
    try:
        connection = BaseHook.get_connection(CONNECTION_ID)
    except AirflowNotFoundException:
        url = os.environ.get("SALESCAST_GATEWAY_URL", "")
        key = os.environ.get("SALESCAST_API_KEY", "")
    else:
        host = connection.host or ""
        url = host if "://" in host else f"{connection.schema or 'http'}://{host}"
        url += f":{connection.port}" if connection.port else ""
        key = connection.password or ""
    if not url:
        raise AirflowFailException(
            f"no gateway: set SALESCAST_GATEWAY_URL or the Airflow connection {CONNECTION_ID}"
        )
    return url.rstrip("/"), key


def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSON request to the gateway with the API key; an HTTP error raises `HTTPError`."""
    url, key = gateway()
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:
        answered: dict[str, Any] = json.load(answer)
    return answered


def detail(error: urllib.error.HTTPError) -> str:
    """The gateway's `{"detail": ...}` message, or the raw body."""
    text = error.read().decode("utf-8", "replace")
    try:
        return str(json.loads(text)["detail"])
    except (ValueError, KeyError, TypeError):
        return text


@dag(
    dag_id="salescast_retrain",
    description="salescast: POST /api/train_all nightly, wait for the job, fail with it",
    schedule="0 3 * * *",  # daily 03:00, in the DAG's time zone (start_date's: UTC)
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},  # unreachable gateway, 5xx
    params={
        "deploy": Param("if_better", enum=["always", "if_better", "never"], description="deploy policy"),
        "only_changed": Param(True, type="boolean", description="train only categories whose data changed"),
    },
    tags=["salescast"],
)
def salescast_retrain() -> None:
    @task
    def file_job() -> str:
        """POST /api/train_all; a busy gateway (409/429) skips the run, any other 4xx fails it."""
        params = get_current_context()["params"]
        body = {"deploy": params["deploy"], "only_changed": params["only_changed"]}
        try:
            job = call("POST", "/api/train_all", body)
        except urllib.error.HTTPError as error:
            message = f"POST /api/train_all answered {error.code}: {detail(error)}"
            if error.code >= 500:
                log.warning("%s", message)
                raise  # the gateway's trouble, not the request's: Airflow retries
            if error.code in BUSY:
                raise AirflowSkipException(f"{message} (a job is already queued or running)") from None
            raise AirflowFailException(message) from None
        job_id = str(job["job_id"])
        log.info("filed job %s deploy=%s only_changed=%s", job_id, body["deploy"], body["only_changed"])
        return job_id

    @task.sensor(poke_interval=POLL_S, timeout=WAIT_TIMEOUT_S, mode="poke")
    def wait_for_job(job_id: str) -> PokeReturnValue:
        """GET /api/jobs/{job_id} until it ends; a failed job fails the run with its error."""
        job = call("GET", f"/api/jobs/{job_id}")
        if job["status"] in RUNNING:
            log.info("job %s is %s", job_id, job["status"])
            return PokeReturnValue(is_done=False)
        for result in job.get("results") or []:
            log.info(
                "category=%s state=%s version=%s deployed=%s %s",
                result.get("category"),
                result.get("state"),
                result.get("version"),
                result.get("deployed"),
                result.get("error") or result.get("deploy_reason") or "",
            )
        if job["status"] != "succeeded":
            raise AirflowFailException(f"job {job_id} {job['status']}: {job.get('error')}")
        log.info("job %s succeeded", job_id)
        return PokeReturnValue(is_done=True, xcom_value=job["status"])

    wait_for_job(file_job())


salescast_retrain()
