"""GET /api/forecast/{category}: the days after the history's last day, forecast from its last N days
(that day sent as `last_date` to a version with calendar terms or weekday input).

Answers are cached (`gateway.forecast_cache`) by category, served version, dataset SHA-256, last day,
horizon and levels (the last day, the calendar terms' date, is in the key); the `X-Cache` header says
`hit` or `miss`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.deps import ForecastCacheDep, HistoryDep, PredictKeyDep, PredictorDep, RegistryDep
from gateway.errors import InputError
from gateway.forecast_cache import ForecastKey
from gateway.routes.responses import errors
from gateway.schemas.common import (
    HORIZON_DESCRIPTION,
    LEVEL_SCHEMA,
    LEVELS_DESCRIPTION,
    CalendarUse,
    ForecastStep,
    ForecastTotal,
    check_levels,
)
from gateway.schemas.forecast import Forecast

router = APIRouter(tags=["predict"], dependencies=[PredictKeyDep])
CACHE_HEADER = "X-Cache"


@router.get("/forecast/{category}", response_model=Forecast, responses=errors(401, 403, 404, 422, 502, 503))
async def forecast(
    category: str,
    history: HistoryDep,
    registry: RegistryDep,
    predictor: PredictorDep,
    cache: ForecastCacheDep,
    horizon: Annotated[int, Query(ge=1, description=HORIZON_DESCRIPTION)] = 1,
    levels: Annotated[
        list[float] | None, Query(description=LEVELS_DESCRIPTION, json_schema_extra={"items": LEVEL_SCHEMA})
    ] = None,
) -> Response:
    """The day after the data's last day (and up to `horizon` days), predicted by the served model from
    the last N days, with prediction intervals."""
    model = await registry.resolve(category)
    name, series = await history.category(model.category)
    window = model.window_size or 0
    # A classical-only version (a category launched less than a window ago) reads the window from its
    # first sale on: the days before the history's first day go in as the zeros they were.
    launched = model.fallback is not None and len(series) > 0
    if window <= 0 or (len(series) < window and not launched):
        raise InputError(f"{name} has {len(series)} days of history; the served model needs {window or '?'}")
    last = series.iloc[-window:]
    try:
        levels = check_levels(levels)
    except ValueError as exc:
        raise InputError(f"levels: {exc}") from None
    history_end = last.index[-1]
    key = ForecastKey(
        model_name=model.model_name,
        version=model.version,
        dataset_sha256=await cache.dataset_sha256(history.source()),
        history_end=history_end.strftime("%Y-%m-%d"),
        horizon=horizon,
        levels=tuple(levels) if levels is not None else None,
    )
    cached = await cache.get(key)
    if cached is not None:
        return Response(cached, media_type="application/json", headers={CACHE_HEADER: "hit"})
    sales = [0.0] * (window - len(last)) + [float(value) for value in last.to_numpy()]
    # the history's last day, for a version with calendar terms or weekday input (the others would
    # only answer a note)
    last_date = history_end.date() if model.uses_last_date else None
    answer = await predictor.predict(model.category, sales, horizon, levels, last_date)
    steps = [
        ForecastStep.model_validate(
            {**step, "date": (history_end + timedelta(days=step["step"])).strftime("%Y-%m-%d")}
        )
        for step in answer["forecast"]
    ]
    body = (
        Forecast(
            category=answer["category"],
            date=(history_end + timedelta(days=1)).strftime("%Y-%m-%d"),
            prediction=answer["prediction"],
            model_version=answer["model_version"],
            window_size=answer["window_size"],
            history_end=history_end.strftime("%Y-%m-%d"),
            horizon=answer["horizon"],
            forecast=steps,
            total=ForecastTotal.model_validate(answer["total"]) if "total" in answer else None,
            calendar=CalendarUse.model_validate(answer["calendar"]) if "calendar" in answer else None,
        )
        .model_dump_json()
        .encode()
    )
    # Kept only when the version that answered is the one in the key (a registry behind a deploy
    # elsewhere must not file the new version's answer under the old version).
    if answer["model_version"] == model.version:
        await cache.put(key, body)
    return Response(body, media_type="application/json", headers={CACHE_HEADER: "miss"})
