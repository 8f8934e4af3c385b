"""GET /api/health: 200 when TorchServe answers and every served category can answer, else 503.

A category can answer when its served version holds a ready worker, or — under a memory budget
(`torchserve.max_loaded_models`) — when it is registered without one and loads on its first request.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.deps import InferenceDep, LoadedDep, RegistryDep
from gateway.errors import GatewayError
from gateway.schemas.health import Health, ModelHealth, TorchServeHealth
from serving.management_client import ManagementError

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
async def health(inference: InferenceDep, registry: RegistryDep, loaded: LoadedDep) -> JSONResponse:
    """Same body either way; the status code says whether predictions can be answered now."""
    torchserve = await _torchserve_health(inference, registry, loaded.budget)
    ready = torchserve.status == "ready"
    body = Health(status="ok" if ready else "unavailable", torchserve=torchserve)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


async def _torchserve_health(
    inference: InferenceDep, registry: RegistryDep, budget: int | None
) -> TorchServeHealth:
    try:
        await inference.ping()
        models = await registry.refresh()
    except GatewayError as exc:
        return TorchServeHealth(status="unavailable", detail=exc.message)
    except ManagementError as exc:
        return TorchServeHealth(status="unavailable", detail=f"management API: {exc.message}")
    listed = [
        ModelHealth(
            category=model.category,
            model_name=model.model_name,
            version=model.version,
            ready_workers=model.ready_workers,
            loaded=registry.is_loaded(model.model_name, model.version),
        )
        for model in sorted(models.values(), key=lambda item: item.category)
    ]
    counts = {
        "loaded": sum(item.loaded for item in listed),
        "archived": sum(not item.loaded for item in listed),
        "max_loaded_models": budget,
        "models": listed,
    }
    if not listed:
        return TorchServeHealth(status="not_ready", detail="no model is registered", **counts)
    waiting = [item.category for item in listed if item.ready_workers < 1]
    if waiting and budget is None:
        detail = f"no ready worker for: {', '.join(waiting[:20])}" + (" …" if len(waiting) > 20 else "")
        return TorchServeHealth(status="not_ready", detail=detail, **counts)
    return TorchServeHealth(status="ready", **counts)
