"""Bodies of `POST /api/predict` and `/api/predict/batch`, and the check every sales value passes."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from gateway.schemas.common import (
    CALENDAR_DESCRIPTION,
    EXAMPLE_CALENDAR,
    EXAMPLE_STEP,
    EXAMPLE_TOTAL,
    HORIZON_DESCRIPTION,
    LAST_DATE_DESCRIPTION,
    TOTAL_DESCRIPTION,
    CalendarUse,
    ConfiguredParts,
    ForecastStep,
    ForecastTotal,
    Levels,
    ServiceFacts,
    StrictBody,
    check_last_date,
)

FLOAT32_MAX = 3.4028234663852886e38
SALES_VALUE_SCHEMA: dict[str, Any] = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
# Two weeks of daily totals, repeated to fill an example window of any size.
_EXAMPLE_WEEKS = [
    820.0,
    1310.5,
    0.0,
    455.0,
    990.0,
    1500.0,
    620.0,
    700.0,
    1210.0,
    0.0,
    300.0,
    845.5,
    1100.0,
    960.0,
]
_EXAMPLE_VERSION = "20261126.101500"


def check_sales_values(values: list[Any]) -> list[float]:
    """Every value must be a real JSON number, finite and within float32 range; message names the index."""
    checked: list[float] = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"sales[{index}] must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float64 (JSON allows any number of digits)
            message = f"sales[{index}] is an integer outside the float32 range (±{FLOAT32_MAX:.4g})"
            raise ValueError(message) from None
        if not math.isfinite(number):
            raise ValueError(f"sales[{index}] must be a finite number, got {value!r}")
        if abs(number) > FLOAT32_MAX:
            raise ValueError(f"sales[{index}] = {value!r} is outside the float32 range (±{FLOAT32_MAX:.4g})")
        checked.append(number)
    return checked


class PredictRequest(StrictBody):
    category: str = Field(min_length=1, description="Category name as in the data (e.g. `Beauty`).")
    sales: list[Any] = Field(
        description="The last N daily sales totals, oldest first; N is the served model's window size "
        "(`window.size` for models trained with this configuration).",
        json_schema_extra={"items": SALES_VALUE_SCHEMA},
    )
    horizon: int = Field(default=1, ge=1, description=HORIZON_DESCRIPTION)
    levels: Levels = None
    last_date: date | None = Field(default=None, description=LAST_DATE_DESCRIPTION)

    @field_validator("sales")
    @classmethod
    def _finite_numbers(cls, values: list[Any]) -> list[float]:
        return check_sales_values(values)

    @field_validator("last_date", mode="before")
    @classmethod
    def _last_date(cls, value: Any) -> date | None:
        return check_last_date(value)


class PredictResponse(BaseModel):
    category: str
    prediction: float = Field(description="Forecast of the next day's total, in sales units.")
    model_version: str
    window_size: int
    horizon: int = 1
    forecast: list[ForecastStep] = Field(
        default_factory=list, description="Every day ahead up to `horizon`, each with its intervals."
    )
    total: ForecastTotal | None = Field(default=None, description=TOTAL_DESCRIPTION)
    calendar: CalendarUse | None = Field(default=None, description=CALENDAR_DESCRIPTION)


class BatchItem(StrictBody):
    category: str = Field(description="Category name.")
    sales: list[Any] = Field(
        description="Last N daily totals (numbers), oldest first. Checked per item: a wrong count or a "
        "value that is not a finite float32 number gets this item its own error, not the whole batch."
    )
    last_date: date | None = Field(default=None, description=LAST_DATE_DESCRIPTION + " Per item.")

    @field_validator("last_date", mode="before")
    @classmethod
    def _last_date(cls, value: Any) -> date | None:
        return check_last_date(value)


class BatchRequest(StrictBody):
    items: list[BatchItem] = Field(min_length=1, description="Up to `gateway.max_batch_items` items.")
    horizon: int = Field(default=1, ge=1, description=HORIZON_DESCRIPTION + " For every item.")
    levels: Levels = None


class BatchResult(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    category: str
    status: int = Field(description="HTTP-like status of this item: 200, or the error's status.")
    prediction: float | None = None
    model_version: str | None = None
    window_size: int | None = None
    forecast: list[ForecastStep] | None = None
    error: str | None = None
    total: ForecastTotal | None = Field(default=None, description=TOTAL_DESCRIPTION)
    calendar: CalendarUse | None = Field(default=None, description=CALENDAR_DESCRIPTION)


class BatchResponse(BaseModel):
    results: list[BatchResult]
    succeeded: int
    failed: int


def _week_steps() -> list[dict[str, Any]]:
    """Seven example days (the example step, each later day a little wider)."""
    return [
        {
            **EXAMPLE_STEP,
            "step": step,
            "intervals": [
                {
                    **interval,
                    "lower": round(interval["lower"] - 20 * step, 1),
                    "upper": round(interval["upper"] + 20 * step, 1),
                }
                for interval in EXAMPLE_STEP["intervals"]
            ],
        }
        for step in range(1, 8)
    ]


def example_sales(window_size: int) -> list[float]:
    """An example window of `window_size` daily totals."""
    return [_EXAMPLE_WEEKS[day % len(_EXAMPLE_WEEKS)] for day in range(window_size)]


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """The window and horizon limits the predictor enforces, and examples sized to them."""
    window, category = facts.window_size, facts.category
    sales = example_sales(window)
    horizon = {"maximum": facts.max_horizon}
    answer = {
        "category": category,
        "prediction": 1034.7,
        "model_version": _EXAMPLE_VERSION,
        "window_size": window,
    }
    short = {"category": category, "sales": [1.0, 2.0]}  # shows a per-item error
    return {
        "PredictRequest": {
            "properties": {"sales": {"minItems": window, "maxItems": window}, "horizon": horizon},
            "examples": [
                {"category": category, "sales": sales, "horizon": 1},
                {"category": category, "sales": sales, "horizon": 1, "last_date": "2024-12-24"},
            ],
        },
        "PredictResponse": {
            "examples": [
                {**answer, "horizon": 1, "forecast": [EXAMPLE_STEP]},
                {**answer, "horizon": 1, "forecast": [EXAMPLE_STEP], "calendar": EXAMPLE_CALENDAR},
                {**answer, "horizon": 7, "forecast": _week_steps(), "total": EXAMPLE_TOTAL},
            ]
        },
        "BatchRequest": {
            "properties": {"items": {"maxItems": facts.max_batch_items}, "horizon": horizon},
            "examples": [{"items": [{"category": category, "sales": sales}, short]}],
        },
        "BatchResponse": {
            "examples": [
                {
                    "results": [
                        {"index": 0, "status": 200, **answer, "forecast": [EXAMPLE_STEP], "error": None},
                        {
                            "index": 1,
                            "category": category,
                            "status": 422,
                            "prediction": None,
                            "model_version": None,
                            "window_size": None,
                            "forecast": None,
                            "error": f"expected {window} values, got 2 ({category} model {_EXAMPLE_VERSION} "
                            f"reads the last {window} days)",
                        },
                    ],
                    "succeeded": 1,
                    "failed": 1,
                }
            ]
        },
    }
