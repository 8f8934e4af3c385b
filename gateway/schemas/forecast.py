"""Body of `GET /api/forecast/{category}`: the days after the history's last day; and of
`POST /api/forecast_batch`: the same for many categories at once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.schemas.common import (
    CALENDAR_DESCRIPTION,
    EXAMPLE_CALENDAR,
    EXAMPLE_STEP,
    HORIZON_DESCRIPTION,
    TOTAL_DESCRIPTION,
    CalendarUse,
    ConfiguredParts,
    ForecastStep,
    ForecastTotal,
    Levels,
    ServiceFacts,
    StrictBody,
)


class Forecast(BaseModel):
    category: str
    date: str = Field(description="The day forecast (YYYY-MM-DD): the day after `history_end`.")
    prediction: float
    model_version: str
    window_size: int
    history_end: str
    horizon: int = 1
    forecast: list[ForecastStep] = Field(
        default_factory=list, description="Every day from `date` on, up to `horizon` days, with intervals."
    )
    total: ForecastTotal | None = Field(default=None, description=TOTAL_DESCRIPTION)
    calendar: CalendarUse | None = Field(
        default=None, description=CALENDAR_DESCRIPTION + " Sent with `history_end` as the last date."
    )


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """A forecast's example, in this gateway's window; the bulk forecast's limits and examples."""
    forecast = {
        "category": facts.category,
        "date": "2025-01-01",
        "prediction": 1034.7,
        "model_version": "20261126.101500",
        "window_size": facts.window_size,
        "history_end": "2024-12-31",
        "horizon": 1,
        "forecast": [{**EXAMPLE_STEP, "date": "2025-01-01"}],
        "calendar": {**EXAMPLE_CALENDAR, "last_date": "2024-12-31"},
    }
    return {"Forecast": {"examples": [forecast]}, **bulk_configured_parts(facts)}


# ---- POST /api/forecast_batch ---------------------------------------------------------------------


class BulkForecastRequest(StrictBody):
    categories: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Categories to forecast (names as in the data, any case); null or absent: every "
        "category of the active dataset. Up to `gateway.max_batch_items`.",
    )
    horizon: int = Field(default=1, ge=1, description=HORIZON_DESCRIPTION + " For every category.")
    levels: Levels = None


class BulkForecastItem(BaseModel):
    category: str
    status: int = Field(description="HTTP-like status of this category: 200, or the error's status.")
    error: str | None = Field(default=None, description="Why this category has no forecast.")
    model_version: str | None = None
    window_size: int | None = None
    history_end: str | None = Field(
        default=None, description="The data's last day the forecast starts after."
    )
    date: str | None = Field(default=None, description="The first day forecast (YYYY-MM-DD).")
    prediction: float | None = Field(default=None, description="The first day's forecast.")
    forecast: list[ForecastStep] | None = Field(
        default=None, description="Every day up to `horizon`, dated, with intervals."
    )
    total: ForecastTotal | None = Field(default=None, description=TOTAL_DESCRIPTION)
    calendar: CalendarUse | None = Field(
        default=None, description=CALENDAR_DESCRIPTION + " Sent with `history_end` as the last date."
    )


class BulkForecastResponse(BaseModel):
    dataset_id: str = Field(description="The active dataset the histories came from.")
    horizon: int
    results: list[BulkForecastItem] = Field(description="One per category, in the order asked.")
    succeeded: int
    failed: int
    computed: int = Field(
        description="Categories computed by this call's batch process; the others were cached (same "
        "dataset days, served version, horizon and levels)."
    )


BULK_CSV_DESCRIPTION = (
    "With `format=csv` or `Accept: text/csv`: one row per category and day, "
    "`category,date,step,prediction,lower_<level>,upper_<level>…,model_version,status,error`; a "
    "category without a forecast has one row with its status and error."
)


def bulk_configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """The batch limits and an example of a bulk forecast."""
    step = {**EXAMPLE_STEP, "date": "2025-01-01"}
    return {
        "BulkForecastRequest": {
            "properties": {
                "categories": {"maxItems": facts.max_batch_items},
                "horizon": {"maximum": facts.max_horizon},
            },
            "examples": [{"categories": [facts.category], "horizon": 1}, {"horizon": 7, "levels": [80]}],
        },
        "BulkForecastResponse": {
            "examples": [
                {
                    "dataset_id": "default",
                    "horizon": 1,
                    "results": [
                        {
                            "category": facts.category,
                            "status": 200,
                            "error": None,
                            "model_version": "20261126.101500",
                            "window_size": facts.window_size,
                            "history_end": "2024-12-31",
                            "date": "2025-01-01",
                            "prediction": 1034.7,
                            "forecast": [step],
                            "calendar": {**EXAMPLE_CALENDAR, "last_date": "2024-12-31"},
                        },
                        {
                            "category": "Toys",
                            "status": 404,
                            "error": "no model serves 'Toys'",
                            "model_version": None,
                            "window_size": None,
                            "history_end": None,
                            "date": None,
                            "prediction": None,
                            "forecast": None,
                        },
                    ],
                    "succeeded": 1,
                    "failed": 1,
                    "computed": 1,
                }
            ]
        },
    }
