"""Everything one running gateway holds: created in the lifespan, closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from core.datasets import DatasetStore
from core.settings import Settings
from gateway.champions import Champions, reconcile_served
from gateway.datasets import DatasetService
from gateway.forecast_cache import ForecastCache
from gateway.history import HistoryCache
from gateway.job_lock import RedisJobLock
from gateway.job_runner import JobRunner
from gateway.job_store import JobRecords, JobStore
from gateway.live_accuracy import LiveAccuracy
from gateway.loaded_models import LoadedModels
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.predictions import Predictor
from gateway.redis_connection import check_reachable
from gateway.redis_job_store import RedisJobStore
from gateway.retrain_scheduler import RetrainScheduler
from gateway.sharded_inference import inference_client
from gateway.shared_loaded_set import SharedLoadedSet
from gateway.torchserve_client import InferenceClient
from serving.management_client import ManagementClient
from serving.sharded_management import management_client

log = logging.getLogger(__name__)


@dataclass
class GatewayState:
    settings: Settings
    metrics: GatewayMetrics
    inference: InferenceClient
    management: ManagementClient
    management_reads: ManagementClient
    registry: ModelRegistry
    loaded: LoadedModels
    predictor: Predictor
    job_store: JobRecords
    job_runner: JobRunner
    forecast_cache: ForecastCache
    history: HistoryCache
    datasets: DatasetService
    champions: Champions
    live_accuracy: LiveAccuracy
    retrain: RetrainScheduler
    _reconciled: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, settings: Settings, metrics: GatewayMetrics) -> GatewayState:
        """Create the clients and stores (inside the running event loop); nothing here needs
        TorchServe to be up."""
        gateway = settings.gateway
        inference = inference_client(settings)
        management = management_client(settings, timeout_s=gateway.management_timeout_s)
        # Reads on the request path (model list, health) must fail fast when TorchServe hangs.
        management_reads = management_client(settings, timeout_s=gateway.predict_timeout_s)
        # With redis.url and a budget, the loaded set is shared with the replicas in front of this TorchServe.
        loaded = LoadedModels(settings, management, SharedLoadedSet.open(settings))
        registry = ModelRegistry(settings, management_reads, loaded)
        predictor = Predictor(
            registry,
            loaded,
            inference,
            metrics,
            gateway.max_instances_per_call,
            settings.forecast.max_horizon,
        )
        # With redis.url, jobs, the one-job lock and cached forecasts are shared with other replicas;
        # a Redis that does not answer stops the start (SharedStateUnavailableError).
        shared = settings.redis
        check_reachable(shared)
        job_store: JobRecords = RedisJobStore.open(shared) if shared.url else JobStore(settings.paths.jobs_db)
        lock = RedisJobLock.open(shared) if shared.url else None
        forecast_cache = ForecastCache.open(shared)
        store = DatasetStore(settings)
        champions = Champions(settings, management)
        job_runner = JobRunner(
            settings, job_store, registry, metrics, store, loaded, champions, lock, forecast_cache
        )
        history = HistoryCache(settings, store)
        live = LiveAccuracy(settings, registry, history, metrics)
        return cls(
            settings=settings,
            metrics=metrics,
            inference=inference,
            management=management,
            management_reads=management_reads,
            registry=registry,
            loaded=loaded,
            predictor=predictor,
            job_store=job_store,
            job_runner=job_runner,
            forecast_cache=forecast_cache,
            history=history,
            datasets=DatasetService(settings, store),
            champions=champions,
            live_accuracy=live,
            retrain=RetrainScheduler(settings, job_store, job_runner, history, live_ratios=live.ratios),
        )

    async def start(self) -> None:
        self.job_runner.hold_jobs()
        await self.job_runner.start()
        try:
            await self.registry.adopt_loaded()
        except Exception as exc:  # the gateway starts without TorchServe and recovers later
            log.warning("model server not ready at start-up: %s", exc)
        # Served means champion: TorchServe and MLflow's registry agree before any job runs (a job
        # moves champions too); MLflow's import and queries stay off the start-up path.
        self._reconciled = asyncio.create_task(self._reconcile_then_release())
        self.retrain.start()
        self.live_accuracy.start()

    async def _reconcile_then_release(self) -> None:
        try:
            await reconcile_served(self.champions, self.registry)
        finally:
            self.job_runner.release_jobs()

    async def close(self) -> None:
        if self._reconciled is not None:
            self._reconciled.cancel()
        await self.retrain.stop()
        await self.live_accuracy.stop()
        await self.job_runner.stop()
        await self.inference.close()
        await self.management.aclose()
        await self.management_reads.aclose()
        self.job_store.close()
        await self.forecast_cache.close()
        await self.loaded.close()
