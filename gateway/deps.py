"""`Annotated` dependency aliases: routes declare what they need, tests point the app at real instances.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread
hop per dependency per request, the second-largest cost of a prediction after the HTTP client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security

from core.settings import Settings
from gateway.bulk_forecasts import BulkForecaster
from gateway.champions import Champions
from gateway.datasets import DatasetService
from gateway.forecast_cache import ForecastCache
from gateway.history import HistoryCache
from gateway.job_runner import JobRunner
from gateway.job_store import JobRecords
from gateway.live_accuracy import LiveAccuracy
from gateway.loaded_models import LoadedModels
from gateway.model_registry import ModelRegistry
from gateway.predictions import Predictor
from gateway.security import KeyScope, api_key_header, check_api_key, check_write_allowed, key_required
from gateway.state import GatewayState
from gateway.torchserve_client import InferenceClient
from serving.management_client import ManagementClient


async def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


def _part(name: str) -> Callable[[GatewayState], Awaitable[Any]]:
    """A dependency answering one attribute of the gateway's state (the alias below carries its type)."""

    async def dependency(state: StateDep) -> Any:
        return getattr(state, name)

    dependency.__name__ = f"get_{name}"
    return dependency


SettingsDep = Annotated[Settings, Depends(_part("settings"))]
InferenceDep = Annotated[InferenceClient, Depends(_part("inference"))]
ManagementDep = Annotated[ManagementClient, Depends(_part("management"))]
RegistryDep = Annotated[ModelRegistry, Depends(_part("registry"))]
LoadedDep = Annotated[LoadedModels, Depends(_part("loaded"))]
PredictorDep = Annotated[Predictor, Depends(_part("predictor"))]
JobStoreDep = Annotated[JobRecords, Depends(_part("job_store"))]
JobRunnerDep = Annotated[JobRunner, Depends(_part("job_runner"))]
HistoryDep = Annotated[HistoryCache, Depends(_part("history"))]
DatasetsDep = Annotated[DatasetService, Depends(_part("datasets"))]
ChampionsDep = Annotated[Champions, Depends(_part("champions"))]
LiveAccuracyDep = Annotated[LiveAccuracy, Depends(_part("live_accuracy"))]
ForecastCacheDep = Annotated[ForecastCache, Depends(_part("forecast_cache"))]


async def get_bulk_forecaster(request: Request, state: StateDep) -> BulkForecaster:
    """The app's one bulk forecaster (its cache and its one-at-a-time batch process), made on first use
    for the running state."""
    forecaster: BulkForecaster | None = getattr(request.app.state, "bulk_forecaster", None)
    if forecaster is None or forecaster.registry is not state.registry:
        forecaster = BulkForecaster(state.settings, state.registry, state.history)
        request.app.state.bulk_forecaster = forecaster
    return forecaster


BulkForecasterDep = Annotated[BulkForecaster, Depends(get_bulk_forecaster)]


async def require_api_key(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Admin routes: the key whenever one is configured; writes refused beyond loopback without one."""
    check_write_allowed(settings.gateway.api_key, settings.gateway.host, request.method)
    if key_required(settings.gateway, "admin"):
        check_api_key(settings.gateway.api_key, key)


async def require_predict_key(
    settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Predict routes: the key only when `gateway.protect_predict` is on."""
    if key_required(settings.gateway, "predict"):
        check_api_key(settings.gateway.api_key, key)


ApiKeyDep = Depends(require_api_key)
PredictKeyDep = Depends(require_predict_key)
KEY_SCOPES: dict[Callable[..., Awaitable[None]], KeyScope] = {
    require_api_key: "admin",
    require_predict_key: "predict",
}
"""The key checks by the routes they guard: the OpenAPI document declares the key where it is enforced."""
