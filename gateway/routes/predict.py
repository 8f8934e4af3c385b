"""POST /api/predict and /api/predict/batch: next-day forecasts through TorchServe."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import PredictKeyDep, PredictorDep, SettingsDep
from gateway.errors import InputError
from gateway.routes.responses import errors
from gateway.schemas import BatchRequest, BatchResponse, PredictRequest, PredictResponse

router = APIRouter(tags=["predict"], dependencies=[PredictKeyDep])


@router.post("/predict", responses=errors(401, 403, 404, 413, 422, 502, 503))
async def predict(body: PredictRequest, predictor: PredictorDep) -> PredictResponse:
    """Forecast the next day's total from the last N daily totals (oldest first), and every day up to
    `horizon` days ahead, each with its prediction intervals."""
    return await predictor.predict(body.category, body.sales, body.horizon, body.levels)


@router.post("/predict/batch", responses=errors(401, 403, 413, 422, 502, 503))
async def predict_batch(body: BatchRequest, predictor: PredictorDep, settings: SettingsDep) -> BatchResponse:
    """Many forecasts at once; each item gets its own result or error, in request order."""
    limit = settings.gateway.max_batch_items
    if len(body.items) > limit:
        raise InputError(f"at most {limit} items per batch, got {len(body.items)}")
    results = await predictor.predict_batch(body.items, body.horizon, body.levels)
    succeeded = sum(1 for result in results if result.status == 200)
    return BatchResponse(results=results, succeeded=succeeded, failed=len(results) - succeeded)
