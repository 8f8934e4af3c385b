"""One router per resource; `api_router` mounts them all under /api."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.routes import datasets, forecast, health, history, jobs, models, plots, predict, train

api_router = APIRouter(prefix="/api")
for module in (predict, train, jobs, models, plots, history, datasets, forecast, health):
    api_router.include_router(module.router)
