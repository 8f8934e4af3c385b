"""`Annotated` dependency aliases: routes declare what they need, tests point the app at real instances.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread
hop per dependency per request, the second-largest cost of a prediction after the HTTP client.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from core.settings import Settings
from gateway.datasets import DatasetService
from gateway.history import HistoryCache
from gateway.job_runner import JobRunner
from gateway.job_store import JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.predictions import Predictor
from gateway.security import api_key_header, check_api_key, check_write_allowed
from gateway.state import GatewayState
from gateway.torchserve_client import InferenceClient
from serving.management_client import ManagementClient


async def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_inference(state: StateDep) -> InferenceClient:
    return state.inference


async def get_management(state: StateDep) -> ManagementClient:
    return state.management


async def get_registry(state: StateDep) -> ModelRegistry:
    return state.registry


async def get_predictor(state: StateDep) -> Predictor:
    return state.predictor


async def get_job_store(state: StateDep) -> JobStore:
    return state.job_store


async def get_job_runner(state: StateDep) -> JobRunner:
    return state.job_runner


async def get_history(state: StateDep) -> HistoryCache:
    return state.history


async def get_metrics(state: StateDep) -> GatewayMetrics:
    return state.metrics


def get_datasets(state: StateDep) -> DatasetService:
    return state.datasets


SettingsDep = Annotated[Settings, Depends(get_settings)]
InferenceDep = Annotated[InferenceClient, Depends(get_inference)]
ManagementDep = Annotated[ManagementClient, Depends(get_management)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
JobStoreDep = Annotated[JobStore, Depends(get_job_store)]
JobRunnerDep = Annotated[JobRunner, Depends(get_job_runner)]
HistoryDep = Annotated[HistoryCache, Depends(get_history)]
MetricsDep = Annotated[GatewayMetrics, Depends(get_metrics)]
DatasetsDep = Annotated[DatasetService, Depends(get_datasets)]


async def require_api_key(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Admin routes: the key whenever one is configured; writes refused beyond loopback without one."""
    check_write_allowed(settings.gateway.api_key, settings.gateway.host, request.method)
    check_api_key(settings.gateway.api_key, key)


async def require_predict_key(
    settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Predict routes: the key only when `gateway.protect_predict` is on."""
    if settings.gateway.protect_predict:
        check_api_key(settings.gateway.api_key, key)


ApiKeyDep = Depends(require_api_key)
PredictKeyDep = Depends(require_predict_key)
