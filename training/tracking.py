"""MLflow tracking: one run per category and training, in a named experiment.

Embedded by default (a SQLite store plus a local artifacts folder, nothing to start); a server
when `mlflow.tracking_uri` (or MLFLOW_TRACKING_URI) is an http(s) URL. Uses `MlflowClient`
directly, not the fluent API, so no global active run, git lookup or autologging is involved
and several trainings may share a process. Every MLflow failure becomes a `TrackingError`
naming the tracking URI.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.contracts.metrics import ForecastScores
from core.errors import SalescastError
from core.settings import MlflowSettings, Settings
from serving.object_store import storage_endpoint

logger = logging.getLogger(__name__)

_SQLITE_PREFIX = "sqlite:///"


class TrackingError(SalescastError):
    """The MLflow tracking store could not be reached or refused a write."""


def configure_environment(settings: MlflowSettings) -> None:
    """Cheap, quiet MLflow: no telemetry, short retries; variables already set by the user win."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.http_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.http_timeout_s))


def mlflow_artifact_root(settings: Settings) -> str | None:
    """With `storage.uri`, new experiments of the embedded store keep their artifacts in the bucket
    (`<uri>/mlflow`), reached at the storage endpoint; None keeps `mlflow.artifact_location`. An
    experiment keeps the root it was created with (MLflow's rule): the bucket still gets every
    version's files from the archive step."""
    storage = settings.storage
    if not storage.enabled:
        return None
    endpoint = storage_endpoint(storage, os.environ)
    if endpoint is not None:
        os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", endpoint)
    return f"{storage.uri.rstrip('/')}/mlflow"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of an embedded `sqlite:///…` store, else None."""
    if not tracking_uri.startswith(_SQLITE_PREFIX):
        return None
    return Path(tracking_uri[len(_SQLITE_PREFIX) :])


def is_embedded(tracking_uri: str) -> bool:
    """True for a local store (SQLite or a plain folder), False for a tracking server."""
    return "://" not in tracking_uri or tracking_uri.startswith((_SQLITE_PREFIX, "file:"))


class Tracker:
    """Connection to one experiment; `start_run` opens a category's run."""

    def __init__(
        self, settings: MlflowSettings, experiment_name: str, artifact_root: str | None = None
    ) -> None:
        """`artifact_root`: where a new experiment of the embedded store keeps its artifacts (the
        bucket with `storage.uri`); None = `mlflow.artifact_location`."""
        configure_environment(settings)
        self.uri = settings.tracking_uri
        database = sqlite_path(self.uri)
        with self._step(f"opening experiment {experiment_name!r}"):
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=self.uri)
            experiment = self.client.get_experiment_by_name(experiment_name)
            if experiment is None:
                location = (
                    artifact_root or Path(settings.artifact_location).resolve().as_uri()
                    if is_embedded(self.uri)
                    else None
                )
                self.experiment_id = self.client.create_experiment(
                    experiment_name, artifact_location=location
                )
            else:
                self.experiment_id = experiment.experiment_id

    def start_run(self, category: str, version: str) -> TrackedRun:
        with self._step(f"starting the run of {category!r}"):
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"{category} {version}",
                tags={"salescast.category": category, "salescast.version": version},
            )
        return TrackedRun(self, run.info.run_id)

    @contextmanager
    def _step(self, action: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise TrackingError(f"MLflow tracking at {self.uri} failed while {action}: {exc}") from exc


class TrackedRun:
    """One category's run: params once, loss per epoch, test metrics and artifacts at the end."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        self.tracker = tracker
        self.run_id = run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        with self.tracker._step("logging params"):
            self.tracker.client.log_batch(
                self.run_id, params=[Param(key, str(value)) for key, value in params.items()]
            )

    def set_tags(self, tags: Mapping[str, str]) -> None:
        with self.tracker._step("setting tags"):
            for key, value in tags.items():
                self.tracker.client.set_tag(self.run_id, key, value)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        batch = [
            Metric(key, float(value), timestamp, step)
            for key, value in metrics.items()
            if math.isfinite(value)
        ]
        with self.tracker._step("logging metrics"):
            self.tracker.client.log_batch(self.run_id, metrics=batch)

    def log_metric_history(self, history: Mapping[str, list[float]]) -> None:
        """Every step of each metric (step n: the n-th value, from 1) in one batch."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        batch = [
            Metric(key, float(value), timestamp, step)
            for key, values in history.items()
            for step, value in enumerate(values, start=1)
            if math.isfinite(value)
        ]
        with self.tracker._step("logging metrics"):
            self.tracker.client.log_batch(self.run_id, metrics=batch)

    def log_artifacts(self, folder: Path) -> None:
        with self.tracker._step(f"uploading the artifacts of {folder}"):
            self.tracker.client.log_artifacts(self.run_id, str(folder))

    def finish(self, succeeded: bool) -> None:
        """Mark the run FINISHED or FAILED; when a failure is already being reported, only log errors."""
        status = "FINISHED" if succeeded else "FAILED"
        try:
            with self.tracker._step(f"closing run {self.run_id}"):
                self.tracker.client.set_terminated(self.run_id, status=status)
        except TrackingError:
            if succeeded:
                raise
            logger.warning("could not mark MLflow run %s as FAILED", self.run_id, exc_info=True)


def flatten_metrics(test_metrics: Mapping[str, ForecastScores]) -> dict[str, float]:
    """`{"model": ForecastScores(rmse=…)}` → `{"test_model_rmse": …}` for MLflow (undefined ones left out)."""
    return {
        f"test_{forecaster}_{name}": float(value)
        for forecaster, scores in test_metrics.items()
        for name, value in scores.model_dump().items()
        if isinstance(value, int | float)
    }
