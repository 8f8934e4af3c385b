"""Bodies and checks several routers share: the error body, forecast steps with their intervals, the
total of the days ahead, the horizon and levels fields, and the facts the documented examples are
built from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.settings import Settings

HORIZON_DESCRIPTION = "Days ahead, 1 (tomorrow, the default) to `forecast.max_horizon` (28)."
LEVELS_DESCRIPTION = "Prediction-interval levels in percent (50–99); default `forecast.interval_levels`."
LEVEL_SCHEMA: dict[str, Any] = {"type": "number", "minimum": 50, "maximum": 99}
LAST_DATE_DESCRIPTION = (
    "The date of the last sales value (YYYY-MM-DD). A version trained with calendar terms (public "
    "holidays, time of year, month's end) divides the window by its days' factors and multiplies the "
    "forecast by the target days' factors, and a version with `weekday_input` reads the weekday of "
    "each day forecast from it; without it the window is used as it is (the weekday read from its "
    "own pattern) and the answer's `calendar.note` says so. Ignored (with a note) by a version "
    "with neither."
)
CALENDAR_DESCRIPTION = (
    "Whether the version's calendar terms were applied (`applied`, from `last_date`) and why not, or "
    "what to know (`note`); absent or null for a version without calendar terms asked without a date."
)
EXAMPLE_CALENDAR: dict[str, Any] = {"applied": True, "last_date": "2024-12-24", "note": None}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLE_CATEGORY = "Beauty"  # a category of the sample data, for data with `data.categories: auto`

EXAMPLE_STEP: dict[str, Any] = {
    "step": 1,
    "date": None,
    "prediction": 1034.7,
    "intervals": [
        {"level": 80, "lower": 712.4, "upper": 1357.0},
        {"level": 95, "lower": 514.9, "upper": 1554.5},
    ],
}
EXAMPLE_TOTAL: dict[str, Any] = {
    "days": 7,
    "prediction": 7243.0,
    "intervals": [
        {"level": 80, "lower": 6211.8, "upper": 8274.2},
        {"level": 95, "lower": 5610.3, "upper": 8875.7},
    ],
    "note": None,
}
EXAMPLE_METRICS: dict[str, Any] = {
    "model": {"mae": 412.3, "rmse": 561.2, "smape": 48.1, "mase": 0.71, "rmsse": 0.69},
    "naive": {"mae": 598.0, "rmse": 802.4, "smape": 61.0, "mase": 1.03, "rmsse": 0.99},
    "seasonal_naive": {"mae": 580.1, "rmse": 810.9, "smape": 60.2, "mase": 1.0, "rmsse": 1.0},
    "moving_average": {"mae": 450.7, "rmse": 598.3, "smape": 52.4, "mase": 0.78, "rmsse": 0.74},
}


@dataclass(frozen=True)
class ServiceFacts:
    """What the settings make true of the bodies (window, horizon and batch limits) and a category of
    the data: the OpenAPI document states them, and its examples use them, so that "Try it out" sends
    what this gateway accepts."""

    window_size: int
    max_horizon: int
    max_batch_items: int
    category: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceFacts:
        categories = settings.data.categories
        return cls(
            window_size=settings.window.size,
            max_horizon=settings.forecast.max_horizon,
            max_batch_items=settings.gateway.max_batch_items,
            category=categories[0] if isinstance(categories, list) else EXAMPLE_CATEGORY,
        )


ConfiguredParts = dict[str, dict[str, Any]]
"""Parts of OpenAPI components (by component name) that follow the settings, merged into the document."""


class StrictBody(BaseModel):
    """A request body: an unknown field is a 422 naming it, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    return {"ErrorBody": {"examples": [{"detail": f"expected {facts.window_size} values, got 3"}]}}


class Interval(BaseModel):
    level: int = Field(description="Nominal coverage in percent.")
    lower: float
    upper: float


class ForecastStep(BaseModel):
    step: int = Field(description="Days ahead (1 = the day after the last input day).")
    date: str | None = Field(default=None, description="The day forecast (YYYY-MM-DD), when known.")
    prediction: float
    intervals: list[Interval] = Field(
        default_factory=list, description="One per level; empty when the version has no calibration."
    )


class ForecastTotal(BaseModel):
    """The total of the days ahead, with intervals of its own: per-day intervals do not add up (errors
    of different days partly cancel, so adding the days' bounds gives a far too wide range)."""

    days: int = Field(description="How many days the total adds up: days 1 to `horizon`.")
    prediction: float = Field(description="The sum of the days' forecasts.")
    intervals: list[Interval] | None = Field(
        default=None,
        description="One per level, calibrated on totals of this many days; absent or null when the "
        "version has none (`note` says why).",
    )
    note: str | None = Field(
        default=None, description="Why `intervals` is absent (e.g. a version calibrated before totals were)."
    )


class CalendarUse(BaseModel):
    """How a forecast used the version's calendar terms (the handler's `calendar` answer, passed on)."""

    applied: bool = Field(description="The holiday and season factors were applied around the model.")
    last_date: str | None = Field(
        default=None, description="The date of the last value they were applied from (YYYY-MM-DD)."
    )
    uses: list[str] | None = Field(
        default=None,
        description="What the date drove when applied: `weekday` (a model that reads it), `holidays "
        "(US)`, `yearly`, `month end`.",
    )
    note: str | None = Field(
        default=None,
        description="Why they were not applied (no `last_date` sent, or a version without them), or "
        "that the days ahead lie past the holidays the version knows, or which of them are forecast "
        "as closed (0: nothing was sold on that holiday before).",
    )


TOTAL_DESCRIPTION = "With `horizon` ≥ 2: the total of the days with its own intervals; absent for one day."


def check_levels(levels: list[Any] | None) -> list[float] | None:
    """Interval levels: real numbers from 50 to 99 (percent)."""
    if levels is None:
        return None
    for level in levels:
        number = isinstance(level, (int, float)) and not isinstance(level, bool)
        if not number or not 50 <= level <= 99:
            shown = f"{level:g}" if number else repr(level)
            raise ValueError(f"each level must be a percent from 50 to 99, got {shown}")
    return [float(level) for level in levels]


Levels = Annotated[
    list[Any] | None,
    AfterValidator(check_levels),
    Field(description=LEVELS_DESCRIPTION, json_schema_extra={"items": LEVEL_SCHEMA}),
]
"""The optional `levels` field of every forecast body: one declaration, one check."""


def check_last_date(value: Any) -> date | None:
    """The optional `last_date`: exactly YYYY-MM-DD (what the handler reads), never a timestamp or a
    number pydantic's lax date parsing would accept; the message names the field."""
    if value is None or type(value) is date:
        return value
    if not isinstance(value, str) or _ISO_DAY.fullmatch(value) is None:
        raise ValueError(f"last_date must be an ISO date (YYYY-MM-DD), got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"last_date must be an ISO date (YYYY-MM-DD), got {value!r}: no such day") from None
