"""Body of `GET /api/forecast/{category}`: the days after the history's last day."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.schemas.common import EXAMPLE_STEP, ConfiguredParts, ForecastStep, ServiceFacts


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


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """A forecast's example, in this gateway's window."""
    forecast = {
        "category": facts.category,
        "date": "2025-01-01",
        "prediction": 1034.7,
        "model_version": "20261126.101500",
        "window_size": facts.window_size,
        "history_end": "2024-12-31",
        "horizon": 1,
        "forecast": [{**EXAMPLE_STEP, "date": "2025-01-01"}],
    }
    return {"Forecast": {"examples": [forecast]}}
