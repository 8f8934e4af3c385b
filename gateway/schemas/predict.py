"""Bodies of `POST /api/predict` and `/api/predict/batch`, and the check every sales value passes."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.schemas.common import (
    EXAMPLE_STEP,
    HORIZON_DESCRIPTION,
    LEVELS_DESCRIPTION,
    ForecastStep,
    StrictBody,
    check_levels,
)

FLOAT32_MAX = 3.4028234663852886e38

EXAMPLE_SALES: list[Any] = [
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
        description="The last N daily sales totals, oldest first; N is the served model's window size.",
        json_schema_extra={"items": {"type": "number"}},
    )
    horizon: int = Field(default=1, ge=1, description=HORIZON_DESCRIPTION)
    levels: list[Any] | None = Field(
        default=None, description=LEVELS_DESCRIPTION, json_schema_extra={"items": {"type": "number"}}
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"category": "Beauty", "sales": EXAMPLE_SALES, "horizon": 1}]},
    )

    @field_validator("sales")
    @classmethod
    def _finite_numbers(cls, values: list[Any]) -> list[float]:
        return check_sales_values(values)

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[Any] | None) -> list[float] | None:
        return check_levels(values)


class PredictResponse(BaseModel):
    category: str
    prediction: float = Field(description="Forecast of the next day's total, in sales units.")
    model_version: str
    window_size: int
    horizon: int = 1
    forecast: list[ForecastStep] = Field(
        default_factory=list, description="Every day ahead up to `horizon`, each with its intervals."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "Beauty",
                    "prediction": 1034.7,
                    "model_version": "20261126.101500",
                    "window_size": 14,
                    "horizon": 1,
                    "forecast": [EXAMPLE_STEP],
                }
            ]
        }
    )


class BatchItem(StrictBody):
    category: str = Field(description="Category name.")
    sales: list[Any] = Field(
        description="Last N daily totals, oldest first (checked per item: a bad item gets its own error).",
        json_schema_extra={"items": {"type": "number"}},
    )


class BatchRequest(StrictBody):
    items: list[BatchItem] = Field(min_length=1, description="Up to `gateway.max_batch_items` items.")
    horizon: int = Field(default=1, ge=1, description=HORIZON_DESCRIPTION + " For every item.")
    levels: list[Any] | None = Field(
        default=None, description=LEVELS_DESCRIPTION, json_schema_extra={"items": {"type": "number"}}
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[Any] | None) -> list[float] | None:
        return check_levels(values)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"category": "Beauty", "sales": EXAMPLE_SALES},
                        {"category": "Clothing", "sales": [1.0, 2.0]},
                    ]
                }
            ]
        },
    )


class BatchResult(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    category: str
    status: int = Field(description="HTTP-like status of this item: 200, or the error's status.")
    prediction: float | None = None
    model_version: str | None = None
    window_size: int | None = None
    forecast: list[ForecastStep] | None = None
    error: str | None = None


class BatchResponse(BaseModel):
    results: list[BatchResult]
    succeeded: int
    failed: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "index": 0,
                            "category": "Beauty",
                            "status": 200,
                            "prediction": 1034.7,
                            "model_version": "20261126.101500",
                            "window_size": 14,
                            "error": None,
                        },
                        {
                            "index": 1,
                            "category": "Clothing",
                            "status": 422,
                            "prediction": None,
                            "model_version": None,
                            "window_size": None,
                            "error": "expected 14 values, got 2",
                        },
                    ],
                    "succeeded": 1,
                    "failed": 1,
                }
            ]
        }
    )
