"""An MLflow run kept in memory where it is made and written later by the process that owns MLflow.

A category trained in a Ray task (`training.ray_executor`) must not write MLflow itself: the tracking
store (an SQLite file, or a server with its credentials) belongs to the driver, and many tasks
writing one SQLite file at once would lock each other out. The task's pipeline logs into a
`RecordingTracker` exactly as it logs into `training.tracking.Tracker`; the record travels back with
the task's result and `replay` makes the same calls on a real run, in the same order, so the run
looks as a local training's does (only its timestamps are the driver's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

RunMethod = Literal["log_params", "set_tags", "log_metrics", "log_metric_history", "log_artifacts"]


class RunLog(Protocol):
    """What the pipeline logs into one category's run (`training.tracking.TrackedRun`)."""

    @property
    def run_id(self) -> str: ...

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None: ...

    def log_metric_history(self, history: Mapping[str, list[float]]) -> None: ...

    def log_artifacts(self, folder: Path) -> None: ...

    def finish(self, succeeded: bool) -> None: ...


class RunOpener(Protocol):
    """What opens a category's run (`training.tracking.Tracker`)."""

    @property
    def experiment_id(self) -> str: ...

    def start_run(self, category: str, version: str) -> RunLog: ...


@dataclass
class RunRecord:
    """One run's calls in order, and how it ended (None: it never finished)."""

    category: str
    version: str
    calls: list[tuple[RunMethod, tuple[Any, ...]]] = field(default_factory=list)
    succeeded: bool | None = None


class RecordedRun:
    """A `RunLog` that only records: picklable, no MLflow import."""

    run_id = ""  # the real run's id is known once the driver replays it

    def __init__(self, record: RunRecord) -> None:
        self.record = record

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.record.calls.append(("log_params", (dict(params),)))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.record.calls.append(("set_tags", (dict(tags),)))

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        self.record.calls.append(("log_metrics", (dict(metrics), step)))

    def log_metric_history(self, history: Mapping[str, list[float]]) -> None:
        self.record.calls.append(("log_metric_history", ({k: list(v) for k, v in history.items()},)))

    def log_artifacts(self, folder: Path) -> None:
        # the folder is the staging one; the driver uploads the finished version folder instead
        self.record.calls.append(("log_artifacts", (str(folder),)))

    def finish(self, succeeded: bool) -> None:
        self.record.succeeded = succeeded


class RecordingTracker:
    """A `RunOpener` whose runs are records (`runs`), in the driver's experiment `experiment_id`."""

    def __init__(self, experiment_id: str) -> None:
        self.experiment_id = experiment_id
        self.runs: list[RunRecord] = []

    def start_run(self, category: str, version: str) -> RecordedRun:
        self.runs.append(RunRecord(category, version))
        return RecordedRun(self.runs[-1])


def replay(record: RunRecord, tracker: RunOpener, artifacts: Path | None, tags: Mapping[str, str]) -> str:
    """Make `record`'s calls on a new run of `tracker` plus `tags`, upload `artifacts` (the version
    folder) where the record uploaded its staging folder, and end the run as the record did; returns
    the run's id. `artifacts` None (the folder is not visible here) ends the run FAILED; a tracking
    error marks it FAILED and is raised."""
    run = tracker.start_run(record.category, record.version)
    succeeded = bool(record.succeeded)
    try:
        for method, args in record.calls:
            if method != "log_artifacts":
                getattr(run, method)(*args)
            elif artifacts is not None:
                run.log_artifacts(artifacts)
            else:
                succeeded = False
        run.set_tags(tags)
    except BaseException:
        run.finish(succeeded=False)
        raise
    run.finish(succeeded=succeeded)
    return run.run_id
