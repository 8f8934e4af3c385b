"""GET /api/forecast/{category}: tomorrow's forecast from the last N days of the stored history."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from gateway.deps import HistoryDep, PredictKeyDep, PredictorDep, RegistryDep
from gateway.errors import InputError
from gateway.routes.responses import errors
from gateway.schemas import Forecast

router = APIRouter(tags=["predict"], dependencies=[PredictKeyDep])


@router.get("/forecast/{category}", responses=errors(401, 403, 404, 422, 502, 503))
async def forecast(
    category: str, history: HistoryDep, registry: RegistryDep, predictor: PredictorDep
) -> Forecast:
    """The day after the data's last day, predicted by the served model from the last N days."""
    model = await registry.resolve(category)
    name, series = await history.category(model.category)
    window = model.window_size or 0
    if window <= 0 or len(series) < window:
        raise InputError(f"{name} has {len(series)} days of history; the served model needs {window or '?'}")
    last = series.iloc[-window:]
    answer = await predictor.predict(model.category, [float(value) for value in last.to_numpy()])
    history_end = last.index[-1]
    return Forecast(
        category=answer.category,
        date=(history_end + timedelta(days=1)).strftime("%Y-%m-%d"),
        prediction=answer.prediction,
        model_version=answer.model_version,
        window_size=answer.window_size,
        history_end=history_end.strftime("%Y-%m-%d"),
    )
