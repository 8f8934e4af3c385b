"""GET /api/history/{category}: the daily series the models learn from (training's own loader)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from core.dates import parse_day
from gateway.deps import HistoryDep
from gateway.history import slice_days
from gateway.routes.responses import errors
from gateway.schemas.history import History

router = APIRouter(tags=["data"])


@router.get("/history/{category}", responses=errors(404, 422, 503))
async def get_history(
    category: str,
    history: HistoryDep,
    start: str | None = Query(default=None, description="First day, YYYY-MM-DD (default: the first)."),
    end: str | None = Query(default=None, description="Last day, YYYY-MM-DD (default: the last)."),
) -> History:
    """Daily totals of `category` between `start` and `end` (inclusive), on a continuous calendar."""
    first, last = parse_day(start, "start"), parse_day(end, "end")
    name, series = await history.category(category)
    window = slice_days(series, first, last)
    dates = [day.strftime("%Y-%m-%d") for day in window.index]
    return History(
        category=name,
        start=dates[0] if dates else None,
        end=dates[-1] if dates else None,
        days=len(dates),
        dates=dates,
        sales=[float(value) for value in window.to_numpy()],
    )
