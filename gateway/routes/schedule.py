"""GET /api/schedule: scheduled retraining's next and last run, why it ran, and which process runs it.

Read-only and open like /api/health: it names no secret and changes nothing."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import StateDep
from gateway.schemas.schedule import Schedule

router = APIRouter(tags=["health"])


@router.get("/schedule")
async def schedule(state: StateDep) -> Schedule:
    """`retrain:` as configured, the next cron time, and the last run: the job it filed and the
    triggers that held, or why it filed nothing."""
    return state.retrain.status()
