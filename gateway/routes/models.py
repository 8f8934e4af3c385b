"""GET /api/models and PUT /api/models/{category}/default: what TorchServe serves, and pinning a version."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from gateway.deps import ApiKeyDep, ManagementDep, RegistryDep
from gateway.errors import ModelServerUnavailableError, NotFoundError
from gateway.model_registry import ServedModel, VersionFacts
from gateway.routes.responses import errors
from gateway.schemas.models import Backtest, CategoryModel, ModelList, ModelVersion, SetDefaultRequest
from serving.management_client import ManagementError

log = logging.getLogger(__name__)
router = APIRouter(tags=["models"])


@router.get("/models", responses=errors(503))
async def list_models(registry: RegistryDep) -> ModelList:
    """Every served category: default version, other registered versions, window size, test metrics."""
    return ModelList(models=[_category_model(model) for model in await registry.describe_all()])


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
    category: str, body: SetDefaultRequest, registry: RegistryDep, management: ManagementDep
) -> CategoryModel:
    """Pin (or roll back to) a registered version; predictions switch to it at once."""
    model = await registry.resolve(category)
    described = {m.model_name: m for m in await registry.describe_all()}.get(model.model_name)
    registered = [version.version for version in described.versions] if described else []
    if body.version not in registered:
        raise NotFoundError(
            f"{model.category} has no registered version {body.version!r}; "
            f"registered: {', '.join(registered)}"
        )
    try:
        await management.set_default(model.model_name, body.version)
    except ManagementError as exc:
        if exc.status_code >= 500:
            raise ModelServerUnavailableError(f"model server is unavailable: {exc.message}") from exc
        raise NotFoundError(exc.message) from exc
    finally:
        registry.invalidate()
    log.info("default version set category=%s version=%s", model.category, body.version)
    updated = {m.model_name: m for m in await registry.describe_all()}[model.model_name]
    return _category_model(updated)


def _category_model(model: ServedModel) -> CategoryModel:
    versions = [
        ModelVersion(
            version=version.version,
            is_default=version.is_default,
            ready_workers=version.ready_workers,
            **_facts(version.facts),
        )
        for version in model.versions
    ]
    return CategoryModel(
        category=model.category,
        model_name=model.model_name,
        default_version=model.version,
        versions=versions,
        **_facts(model),
    )


def _facts(facts: VersionFacts | ServedModel) -> dict[str, Any]:
    """What the API tells of a version (for a model: of its default version)."""
    return {
        "window_size": facts.window_size,
        "test_metrics": facts.test_metrics,
        "max_horizon": facts.max_horizon,
    }
