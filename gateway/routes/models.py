"""GET /api/models and PUT /api/models/{category}/default: what TorchServe serves, and pinning a version."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from core.settings import Settings
from gateway.champions import RegistryUnavailableError
from gateway.deps import (
    ApiKeyDep,
    ChampionsDep,
    ForecastCacheDep,
    LoadedDep,
    ManagementDep,
    RegistryDep,
    SettingsDep,
)
from gateway.errors import ModelServerUnavailableError, NotFoundError
from gateway.loaded_models import LoadedModels
from gateway.model_registry import ModelRegistry, ServedModel, VersionFacts
from gateway.routes.responses import errors
from gateway.schemas.models import Backtest, CategoryModel, ModelList, ModelVersion, SetDefaultRequest
from serving.archive import archive_file_name
from serving.management_client import ManagementClient, ManagementError
from serving.model_record import RecordedVersion
from serving.workers import WorkerLoadError, load_workers

log = logging.getLogger(__name__)
router = APIRouter(tags=["models"])


@router.get("/models", responses=errors(422, 503))
async def list_models(
    registry: RegistryDep,
    loaded: LoadedDep,
    champions: ChampionsDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Only categories whose name contains this (any case).")
    ] = None,
    state: Annotated[
        Literal["loaded", "archived"] | None,
        Query(
            description="Only categories whose served version holds a worker (`loaded`) or not (`archived`)."
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Categories to skip (by name).")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Page size; omitted: every match.")] = None,
) -> ModelList:
    """Served categories by name: default version, archived versions, which hold a worker, window size,
    test metrics, and each version's MLflow registry version, aliases and run. Filter with `q` and
    `state`, page with `offset` and `limit`."""
    every = await registry.describe_all()
    recorded = await champions.recorded()
    answered = [_category_model(model, registry, recorded) for model in every]
    in_memory = sum(model.loaded for model in answered)
    if q:
        folded = q.casefold()
        answered = [model for model in answered if folded in model.category.casefold()]
    if state is not None:
        answered = [model for model in answered if model.loaded == (state == "loaded")]
    page = answered[offset : None if limit is None else offset + limit]
    return ModelList(
        models=page,
        total=len(answered),
        offset=offset,
        limit=limit,
        loaded=in_memory,
        archived=len(every) - in_memory,
        max_loaded_models=loaded.budget,
    )


@router.get("/models/{category}/backtest", responses=errors(404, 422, 503))
async def backtest(category: str, registry: RegistryDep) -> Backtest:
    """The served version's held-out test days: what happened, its model's and every baseline's
    one-step forecasts (the numbers behind its test metrics)."""
    model = await registry.resolve(category)
    if model.backtest is None:
        raise NotFoundError(
            f"{model.category} model {model.version} has no backtest (it was trained before backtests were "
            "kept); train it again to get one"
        )
    return Backtest(
        category=model.category,
        model_version=model.version,
        dates=[day.isoformat() for day in model.backtest.dates],
        actual=model.backtest.actual,
        forecasts=model.backtest.forecasts,
    )


@router.put(
    "/models/{category}/default", dependencies=[ApiKeyDep], responses=errors(401, 403, 404, 413, 422, 503)
)
async def set_default_version(
    category: str,
    body: SetDefaultRequest,
    registry: RegistryDep,
    management: ManagementDep,
    champions: ChampionsDep,
    loaded: LoadedDep,
    settings: SettingsDep,
    forecasts: ForecastCacheDep,
) -> CategoryModel:
    """Pin (or roll back to) an archived version; predictions switch to it at once, and it becomes
    the registry's `champion` (the version it replaces `previous`)."""
    model = await registry.resolve(category)
    described = {m.model_name: m for m in await registry.describe_all()}.get(model.model_name)
    known = [version.version for version in described.versions] if described else []
    if body.version not in known:
        raise NotFoundError(
            f"{model.category} has no archived or registered version {body.version!r}; "
            f"known: {', '.join(known)}"
        )
    try:
        await _make_servable(management, model.model_name, body.version, registry, loaded, settings)
        await management.set_default(model.model_name, body.version)
        try:
            await champions.promote(model.category, model.model_name, body.version)
        except RegistryUnavailableError as exc:  # served means champion: switch back
            await management.set_default(model.model_name, model.version)
            raise ModelServerUnavailableError(
                f"the model registry did not take {body.version} as the champion, so {model.version} "
                f"keeps serving: {exc}"
            ) from exc
    except ManagementError as exc:
        if exc.status_code >= 500:
            raise ModelServerUnavailableError(f"model server is unavailable: {exc.message}") from exc
        raise NotFoundError(exc.message) from exc
    finally:
        registry.invalidate(model.model_name)
        await forecasts.drop([model.model_name])  # every replica's cached forecasts of it, with redis.url
    log.info("default version set category=%s version=%s", model.category, body.version)
    updated = {m.model_name: m for m in await registry.describe_all()}[model.model_name]
    return _category_model(updated, registry, await champions.recorded())


async def _make_servable(
    management: ManagementClient,
    model_name: str,
    version: str,
    registry: ModelRegistry,
    loaded: LoadedModels,
    settings: Settings,
) -> None:
    """An archived version that TorchServe no longer holds (older than `torchserve.loaded_versions`,
    or after a restart) is registered again. Under a memory budget its first request loads it; without
    one it gets its workers now (nothing else would load it, and health would wait on it forever)."""
    try:
        described = await management.describe(model_name, version)
    except ManagementError as exc:
        if exc.status_code != 404 or version not in registry.archived_versions(model_name):
            raise
        await management.register(
            archive_file_name(model_name, version), initial_workers=0, synchronous=False
        )
        log.info("archived version registered again model=%s version=%s", model_name, version)
        described = []
    if loaded.budget is None and not any(description.ready_workers for description in described):
        try:
            await load_workers(
                management,
                model_name,
                version,
                settings.archive.workers,
                settings.torchserve.startup_timeout_s,
            )
        except WorkerLoadError as exc:
            raise ModelServerUnavailableError(
                f"{model_name} version {version} could not load: {exc}"
            ) from exc


def _category_model(
    model: ServedModel, registry: ModelRegistry, recorded: Mapping[str, list[RecordedVersion]]
) -> CategoryModel:
    in_registry = {item.version: item for item in recorded.get(model.model_name, [])}
    versions = [
        ModelVersion(
            version=version.version,
            is_default=version.is_default,
            ready_workers=version.ready_workers,
            loaded=version.loaded,
            **_facts(version.facts),
            **_registry_facts(in_registry.get(version.version)),
        )
        for version in model.versions
    ]
    return CategoryModel(
        category=model.category,
        model_name=model.model_name,
        default_version=model.version,
        loaded=registry.is_loaded(model.model_name, model.version),
        versions=versions,
        **_facts(model),
    )


def _registry_facts(item: RecordedVersion | None) -> dict[str, Any]:
    if item is None:
        return {}
    return {
        "registry_version": item.registry_version,
        "aliases": list(item.aliases),
        "run_id": item.run_id,
        "registered_model": item.registered_model,
    }


def _facts(facts: VersionFacts | ServedModel) -> dict[str, Any]:
    """What the API tells of a version (for a model: of its default version)."""
    return {
        "window_size": facts.window_size,
        "test_metrics": facts.test_metrics,
        "max_horizon": facts.max_horizon,
        "fallback": facts.fallback.model_dump() if facts.fallback is not None else None,
        "classical": facts.classical.model_dump() if facts.classical is not None else None,
        "calendar": facts.calendar,
        "weekday_input": facts.weekday_input,
    }
