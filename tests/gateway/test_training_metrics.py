"""Training metrics on /metrics: gauges read from the job store and the active dataset at scrape time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.contracts.active_dataset import ActiveDataset, write_active
from core.contracts.dataset import CategorySummary, DatasetColumns, DatasetRecord, write_dataset
from core.datasets import DatasetStore
from core.settings import RedisSettings
from gateway.job_store import JobRecords, JobStore
from gateway.metrics import GatewayMetrics
from gateway.redis_job_store import RedisJobStore
from gateway.schemas.jobs import CategoryOutcome, Job
from gateway.training_metrics import TrainingMetricsCollector
from salescast.bench.isolation import free_port
from tests.conftest import make_test_settings
from tests.fixtures.redis_server import RedisServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a /metrics answer by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def named(found: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in found.items() if sample == name}


def unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def finished_job(job_id: str, status: str, finished_at: str, results: list[CategoryOutcome]) -> Job:
    return Job(
        job_id=job_id,
        kind="train",
        status=status,
        categories=[outcome.category for outcome in results],
        experiment_name="exp",
        deploy_policy="if_better",
        created_at=finished_at,
        started_at=finished_at,
        finished_at=finished_at,
        results=results,
    )


def trained(category: str, seconds: float, test_end: str) -> CategoryOutcome:
    metrics: dict[str, Any] = {"window_size": 14, "test_start": "2026-11-01", "test_end": test_end}
    return CategoryOutcome(
        category=category, state="succeeded", version="20261126.101500", metrics=metrics, seconds=seconds
    )


def test_a_finished_jobs_training_metrics_appear_on_metrics(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    jobs_db = tmp_path / "jobs.sqlite"
    store = JobStore(jobs_db)
    store.save(
        finished_job("old", "succeeded", "2026-11-20T08:00:00Z", [trained("Beauty", 30.0, "2026-11-19")])
    )
    store.save(
        finished_job(
            "new",
            "failed",  # one category failed; Beauty's training still succeeded
            "2026-11-26T10:15:42Z",
            [
                trained("Beauty", 41.8, "2026-11-25"),
                CategoryOutcome(category="Clothing", state="failed", failed_step="training", seconds=3.0),
                CategoryOutcome(category="Electronics", state="unchanged"),
            ],
        )
    )
    store.save(
        Job(
            job_id="interrupted",
            kind="train",
            status="running",
            categories=["Electronics"],
            experiment_name="exp",
            deploy_policy="if_better",
            created_at="2026-11-27T09:00:00Z",
            results=[CategoryOutcome(category="Electronics", state="training")],
        )
    )
    store.close()

    client = make_client(paths={"jobs_db": str(jobs_db)})
    found = samples(client.get("/metrics").text)

    # The gateway failed the interrupted job at start-up: the scrape reads the store as it is now.
    assert named(found, "salescast_training_jobs") == {
        (("outcome", "queued"),): 0.0,
        (("outcome", "running"),): 0.0,
        (("outcome", "succeeded"),): 1.0,
        (("outcome", "failed"),): 2.0,
    }
    beauty = (("category", "Beauty"),)
    assert named(found, "salescast_training_last_success_timestamp_seconds") == {
        beauty: unix("2026-11-26T10:15:42Z")
    }
    assert named(found, "salescast_training_last_duration_seconds") == {beauty: 41.8}
    assert named(found, "salescast_training_data_end_timestamp_seconds") == {
        beauty: unix("2026-11-25T00:00:00Z")
    }
    # The configured data file's last days are not known without loading it; live accuracy is not built.
    assert named(found, "salescast_data_end_timestamp_seconds") == {}
    assert named(found, "salescast_live_rmse_ratio_to_seasonal_naive") == {}


def test_a_job_saved_after_a_scrape_shows_at_the_next_one(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    store = JobStore(settings.paths.jobs_db)
    metrics = GatewayMetrics(TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings)))
    before = samples(metrics.render().decode())
    assert named(before, "salescast_training_jobs")[(("outcome", "succeeded"),)] == 0.0
    assert named(before, "salescast_training_last_success_timestamp_seconds") == {}

    store.save(
        finished_job("j1", "succeeded", "2026-11-26T10:00:00Z", [trained("Clothing", 12.5, "2026-11-24")])
    )
    after = samples(metrics.render().decode())
    assert named(after, "salescast_training_jobs")[(("outcome", "succeeded"),)] == 1.0
    assert named(after, "salescast_training_last_duration_seconds") == {(("category", "Clothing"),): 12.5}
    store.close()


def test_the_active_uploads_last_days_are_exported(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    root = settings.paths.datasets
    record = DatasetRecord(
        dataset_id="0123456789abcdef",
        name="shop.csv",
        file=f"{'a' * 64}.csv",
        sha256="a" * 64,
        size_bytes=10,
        uploaded_at="2026-11-26T10:00:00Z",
        columns=DatasetColumns(date="Date", category="Category", amount="Amount"),
        categories=[
            CategorySummary(
                category="Tea", days=30, first="2026-10-01", last="2026-10-30", zero_days_pct=0.0
            ),
            CategorySummary(
                category="Café", days=20, first="2026-10-01", last="2026-10-20", zero_days_pct=5.0
            ),
        ],
    )
    write_dataset(root, record)
    collector = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings))
    metrics = GatewayMetrics(collector)
    assert named(samples(metrics.render().decode()), "salescast_data_end_timestamp_seconds") == {}

    write_active(root, ActiveDataset(dataset_id=record.dataset_id, activated_at="2026-11-26T10:00:01Z"))
    assert named(samples(metrics.render().decode()), "salescast_data_end_timestamp_seconds") == {
        (("category", "Tea"),): unix("2026-10-30T00:00:00Z"),
        (("category", "Café"),): unix("2026-10-20T00:00:00Z"),
    }
    collector.close()


def test_an_unreadable_store_gives_empty_families_and_is_read_once_it_exists(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    collector = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings))
    metrics = GatewayMetrics(collector)
    text = metrics.render().decode()
    assert "# TYPE salescast_training_jobs gauge" in text
    assert named(samples(text), "salescast_training_jobs") == {}

    JobStore(settings.paths.jobs_db).save(
        finished_job(
            "j1", "failed", "2026-11-26T10:00:00Z", [CategoryOutcome(category="Tea", state="failed")]
        )
    )
    found = samples(metrics.render().decode())
    assert named(found, "salescast_training_jobs")[(("outcome", "failed"),)] == 1.0
    assert named(found, "salescast_training_last_success_timestamp_seconds") == {}
    collector.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_both_job_stores_are_scraped_the_same_way(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """With `redis.url` the jobs live in Redis: the gauges read that shared store, not the (then
    empty) SQLite file, so every replica reports the jobs any of them ran."""
    settings = make_test_settings(tmp_path)
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = settings.model_copy(update={"redis": server.settings()})
    store: JobRecords = (
        RedisJobStore.open(settings.redis) if kind == "redis" else JobStore(settings.paths.jobs_db)
    )
    collector = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings), settings.redis)
    metrics = GatewayMetrics(collector)
    try:
        before = samples(metrics.render().decode())
        assert named(before, "salescast_training_jobs")[(("outcome", "succeeded"),)] == 0.0
        store.save(
            finished_job("j1", "succeeded", "2026-11-26T10:00:00Z", [trained("Clothing", 12.5, "2026-11-24")])
        )
        store.save(finished_job("j2", "failed", "2026-11-26T11:00:00Z", []))
        after = samples(metrics.render().decode())
        jobs = named(after, "salescast_training_jobs")
        assert jobs[(("outcome", "succeeded"),)] == 1.0 and jobs[(("outcome", "failed"),)] == 1.0
        assert named(after, "salescast_training_last_duration_seconds") == {(("category", "Clothing"),): 12.5}
    finally:
        collector.close()
        store.close()


def test_a_redis_that_does_not_answer_gives_empty_gauges_not_a_failed_scrape(tmp_path: Path) -> None:
    nobody = RedisSettings(
        url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.5, socket_timeout_s=0.5
    )
    settings = make_test_settings(tmp_path)
    collector = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings), nobody)
    found = samples(GatewayMetrics(collector).render().decode())
    assert named(found, "salescast_training_jobs") == {}
    assert named(found, "salescast_training_last_success_timestamp_seconds") == {}
    collector.close()
