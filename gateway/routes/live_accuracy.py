"""GET /api/models/{category}/live: how the served forecasts held up against the days that followed."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter

from gateway.deps import LiveAccuracyDep, RegistryDep
from gateway.routes.responses import errors
from gateway.schemas.live_accuracy import LiveAccuracy

router = APIRouter(tags=["models"])


@router.get("/models/{category}/live", responses=errors(404, 422, 503))
async def live_accuracy(category: str, registry: RegistryDep, live: LiveAccuracyDep) -> LiveAccuracy:
    """The category's logged forecasts scored against the actuals that arrived later: RMSE, MAE,
    interval coverage and the ratio to the seasonal naive, per version, the served one apart."""
    model = await registry.resolve(category)
    report = await asyncio.to_thread(live.report, model.category)
    return LiveAccuracy.model_validate(asdict(report))
