"""POST /api/predict and /api/predict/batch: next-day forecasts through TorchServe.

Bodies are decoded with orjson where it reads what the standard library reads; the answers are
built as dicts of the documented shape (`response_model`) and sent with orjson.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import PredictKeyDep, PredictorDep, SettingsDep
from gateway.errors import InputError
from gateway.json_body import OrjsonBodyRoute
from gateway.routes.responses import OrjsonResponse, errors
from gateway.schemas.predict import BatchRequest, BatchResponse, PredictRequest, PredictResponse

router = APIRouter(tags=["predict"], dependencies=[PredictKeyDep], route_class=OrjsonBodyRoute)


@router.post("/predict", response_model=PredictResponse, responses=errors(401, 403, 404, 413, 422, 502, 503))
async def predict(body: PredictRequest, predictor: PredictorDep) -> OrjsonResponse:
    """Forecast the next day's total from the last N daily totals (oldest first), and every day up to
    `horizon` days ahead, each with its prediction intervals; with `last_date`, through the version's
    calendar terms."""
    answer = await predictor.predict(body.category, body.sales, body.horizon, body.levels, body.last_date)
    return OrjsonResponse(answer)


@router.post("/predict/batch", response_model=BatchResponse, responses=errors(401, 403, 413, 422, 502, 503))
async def predict_batch(body: BatchRequest, predictor: PredictorDep, settings: SettingsDep) -> OrjsonResponse:
    """Many forecasts at once; each item gets its own result or error, in request order."""
    limit = settings.gateway.max_batch_items
    if len(body.items) > limit:
        raise InputError(f"at most {limit} items per batch, got {len(body.items)}")
    if body.horizon > settings.forecast.max_horizon:  # the service's limit; a version's own is per item
        raise InputError(
            f"horizon must be from 1 to {settings.forecast.max_horizon} days, got {body.horizon}"
        )
    return OrjsonResponse(await predictor.predict_batch(body.items, body.horizon, body.levels))
