"""POST /api/forecast_batch: the days after the history's last day for many (or all) categories at
once, as JSON or as a CSV download, computed beside TorchServe (`gateway.bulk_forecasts`)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gateway.deps import BulkForecasterDep, PredictKeyDep, SettingsDep
from gateway.errors import InputError
from gateway.json_body import OrjsonBodyRoute
from gateway.routes.responses import OrjsonResponse, errors
from gateway.schemas.forecast import BULK_CSV_DESCRIPTION, BulkForecastRequest, BulkForecastResponse

router = APIRouter(tags=["predict"], dependencies=[PredictKeyDep], route_class=OrjsonBodyRoute)
CSV_TYPE = "text/csv"


@router.post(
    "/forecast_batch",
    response_model=BulkForecastResponse,
    responses={
        200: {"content": {CSV_TYPE: {"schema": {"type": "string"}}}, "description": BULK_CSV_DESCRIPTION},
        **errors(401, 403, 413, 422, 503),
    },
)
async def forecast_batch(
    body: BulkForecastRequest,
    request: Request,
    forecaster: BulkForecasterDep,
    settings: SettingsDep,
    answer_format: Annotated[
        Literal["json", "csv"] | None,
        Query(
            alias="format",
            description="`csv` for a CSV download; default JSON, or CSV when `Accept` asks for text/csv.",
        ),
    ] = None,
) -> Response:
    """Forecast many categories (or every category of the active dataset) from their last N days, as
    `GET /api/forecast/{category}` does for one, without loading their models into TorchServe: a
    category that fails (not served, too little history) gets its own status and error. Answers are
    cached until the data's days or a served version change."""
    limit = settings.gateway.max_batch_items
    if body.categories is not None and len(body.categories) > limit:
        raise InputError(f"at most {limit} categories per bulk forecast, got {len(body.categories)}")
    if body.horizon > settings.forecast.max_horizon:
        raise InputError(
            f"horizon must be from 1 to {settings.forecast.max_horizon} days, got {body.horizon}"
        )
    answer = await forecaster.forecast(body.categories, body.horizon, body.levels)
    if answer_format == "csv" or (answer_format is None and CSV_TYPE in request.headers.get("accept", "")):
        name = f"forecast-{answer['dataset_id']}-{body.horizon}d.csv"
        return Response(
            forecast_csv(answer["results"]),
            media_type=f"{CSV_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return OrjsonResponse(answer)


def forecast_csv(results: list[dict[str, Any]]) -> str:
    """One row per category and day (numbers as the JSON's); a failed category: one row with its error."""
    levels = sorted(
        {
            interval["level"]
            for item in results
            for step in item["forecast"] or ()
            for interval in step["intervals"]
        }
    )
    bounds = [f"{side}_{level}" for level in levels for side in ("lower", "upper")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["category", "date", "step", "prediction", *bounds, "model_version", "status", "error"])
    for item in results:
        if not item["forecast"]:
            blank = [""] * (3 + len(bounds))
            writer.writerow(
                [item["category"], *blank, item["model_version"] or "", item["status"], item["error"]]
            )
            continue
        for step in item["forecast"]:
            by_level = {interval["level"]: interval for interval in step["intervals"]}
            cells = [
                by_level[level][side] if level in by_level else ""
                for level in levels
                for side in ("lower", "upper")
            ]
            writer.writerow(
                [
                    item["category"],
                    step["date"],
                    step["step"],
                    step["prediction"],
                    *cells,
                    item["model_version"],
                    200,
                    "",
                ]
            )
    return out.getvalue()
