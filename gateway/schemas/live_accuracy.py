"""Body of `GET /api/models/{category}/live`: the served forecasts scored against what happened."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LiveVersionScore(BaseModel):
    version: str
    days: int = Field(description="Distinct days scored (forecast days the data now holds).")
    steps: int = Field(
        description="Forecast steps scored: a day forecast from several origins counts each time."
    )
    rmse: float
    mae: float
    naive_rmse: float | None = Field(
        description="RMSE of the seasonal naive forecasting the same days from the same origins."
    )
    ratio_to_seasonal_naive: float | None = Field(description="rmse / naive_rmse: below 1 beats the naive.")
    coverage: dict[int, float] = Field(description="Interval level (%) → share of actual days inside it.")
    first_day: str
    last_day: str
    ready: bool = Field(
        description="At least `min_days` days scored: the scores count (metrics, retraining)."
    )


class LiveAccuracy(BaseModel):
    """Forecasts logged when they were issued — never a forecast of the past remade with today's
    model — scored once later data held their days."""

    category: str
    served_version: str | None
    min_days: int
    logged_origins: int = Field(description="Distinct days forecasts were issued from that have been scored.")
    served: LiveVersionScore | None = Field(
        description="The served version's scores, if any of its days are scored."
    )
    versions: list[LiveVersionScore] = Field(description="Every version with scored days, newest first.")
