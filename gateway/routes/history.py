"""GET /api/history/{category}: the daily series the models learn from (training's own loader)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from gateway.deps import HistoryDep
from gateway.history import query_day, slice_days
from gateway.routes.responses import errors
from gateway.schemas.history import History

router = APIRouter(tags=["data"])
DATE = {"format": "date"}


@router.get("/history/{category}", responses=errors(404, 422, 503))
async def get_history(
    category: str,
    history: HistoryDep,
    start: str | None = Query(
        default=None, description="First day, YYYY-MM-DD (default: the first).", json_schema_extra=DATE
    ),
    end: str | None = Query(
        default=None, description="Last day, YYYY-MM-DD (default: the last).", json_schema_extra=DATE
    ),
) -> History:
    """Daily totals of `category` between `start` and `end` (inclusive), on a continuous calendar."""
    first, last = query_day(start, "start"), query_day(end, "end")
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
