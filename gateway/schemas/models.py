"""Bodies of `GET /api/models`, `PUT /api/models/{category}/default` and the backtest route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.slugs import category_slug
from gateway.schemas.common import EXAMPLE_METRICS, ConfiguredParts, ServiceFacts, StrictBody


class ModelFallback(BaseModel):
    """Why a version serves less than the full model."""

    kind: str = Field(
        description="`classical_only`: the history was too short for the networks' windows, so the "
        "weekly-profile forecast serves alone (its intervals are wide: calibrated on few days)."
    )
    reason: str = Field(description="In words, e.g. how many days there were and how many the networks need.")


FALLBACK_DESCRIPTION = "Why this version serves less than the full model (null: it serves the full model)."


class ModelClassical(BaseModel):
    """The classical forecast a version blends with its CNN-LSTM networks, and its share of the blend."""

    method: str = Field(
        description="`weekly_profile_es` (a weekday profile × a smoothed level), `long_run_mean` (the fit "
        "found nothing that clearly beats the training days' mean), `tsb` (intermittent demand: "
        "chance of a sale × its size) or `theta` (the Theta method: smoothing with half the "
        "window's trend as drift)."
    )
    parameters: dict[str, float] = Field(default_factory=dict, description="What the fit chose, by name.")
    weight: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Its share of the blend; the networks have the rest (1: it serves alone).",
    )


CLASSICAL_DESCRIPTION = "Its classical part and blend weight (null: trained before they were recorded)."


class ModelCalendar(BaseModel):
    """The calendar terms a version applies around its model when a forecast sends `last_date`."""

    country: str | None = Field(default=None, description="Whose public holidays (e.g. `US`).")
    holidays: int = Field(ge=0, description="How many holiday days it knows a factor for.")
    holidays_until: str = Field(description="The last day its holidays reach (YYYY-MM-DD); later: normal.")
    yearly: bool = Field(description="A factor by time of year (day of the year).")
    month_end: bool = Field(description="A factor for the last days of every month.")


CALENDAR_TERMS_DESCRIPTION = "Its calendar terms (null: none; `last_date` is then not needed)."
WEEKDAY_INPUT_DESCRIPTION = (
    "Its model reads the weekday of the days forecast from `last_date` (without it, from the window's "
    "own pattern, and the answer says so); false: versions trained before it."
)


class ModelVersion(BaseModel):
    version: str
    is_default: bool
    window_size: int | None = None
    ready_workers: int = 0
    loaded: bool = Field(
        default=False,
        description="Holds a worker now; an archived version loads on its first request "
        "(`torchserve.max_loaded_models`).",
    )
    test_metrics: dict[str, Any] | None = Field(default=None, description="`test` part of `metrics.json`.")
    max_horizon: int = Field(ge=1, description="Most days ahead (`horizon`) this version forecasts.")
    fallback: ModelFallback | None = Field(default=None, description=FALLBACK_DESCRIPTION)
    classical: ModelClassical | None = Field(default=None, description=CLASSICAL_DESCRIPTION)
    calendar: ModelCalendar | None = Field(default=None, description=CALENDAR_TERMS_DESCRIPTION)
    weekday_input: bool = Field(default=False, description=WEEKDAY_INPUT_DESCRIPTION)
    registry_version: str | None = Field(
        default=None, description="Its model version in MLflow's registry (null: not recorded yet)."
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Its registry aliases: `champion` is the served version, `previous` the one before it.",
    )
    run_id: str | None = Field(default=None, description="The MLflow run that trained it.")
    registered_model: str | None = Field(
        default=None,
        description="Its registered model in MLflow (`mlflow.registry_prefix` + the model name).",
    )


class CategoryModel(BaseModel):
    category: str
    model_name: str = Field(description="TorchServe model name (slug of the category).")
    default_version: str | None
    window_size: int | None
    max_horizon: int = Field(ge=1, description="Most days ahead (`horizon`) the default version forecasts.")
    test_metrics: dict[str, Any] | None = None
    loaded: bool = Field(default=False, description="The default version holds a worker now.")
    fallback: ModelFallback | None = Field(
        default=None, description=FALLBACK_DESCRIPTION + " Of the default version."
    )
    classical: ModelClassical | None = Field(
        default=None, description=CLASSICAL_DESCRIPTION + " Of the default version."
    )
    calendar: ModelCalendar | None = Field(
        default=None, description=CALENDAR_TERMS_DESCRIPTION + " Of the default version."
    )
    weekday_input: bool = Field(
        default=False, description=WEEKDAY_INPUT_DESCRIPTION + " Of the default version."
    )
    versions: list[ModelVersion]


class ModelList(BaseModel):
    models: list[CategoryModel] = Field(description="This page, by category name.")
    total: int = Field(ge=0, description="Categories matching the filter, over all pages.")
    offset: int = Field(ge=0)
    limit: int | None = Field(description="Page size asked for (null: every match).")
    loaded: int = Field(ge=0, description="Served categories whose default version holds a worker.")
    archived: int = Field(ge=0, description="Served categories registered without a worker (load on demand).")
    max_loaded_models: int | None = Field(description="The memory budget in versions (null: none).")


class SetDefaultRequest(StrictBody):
    version: str = Field(min_length=1, description="A version registered in TorchServe.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"version": "20261125.090000"}]}
    )


class Backtest(BaseModel):
    category: str
    model_version: str
    dates: list[str] = Field(description="The held-out test days of the version (YYYY-MM-DD).")
    actual: list[float]
    forecasts: dict[str, list[float]] = Field(
        description="One-step forecasts of each test day: `model` (the held-out evaluation model) and "
        "every baseline."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "Beauty",
                    "model_version": "20261126.101500",
                    "dates": ["2024-12-29", "2024-12-30"],
                    "actual": [1200.0, 845.0],
                    "forecasts": {"model": [1102.3, 910.8], "seasonal_naive": [980.0, 1310.0]},
                }
            ]
        }
    )


EXAMPLE_CALENDAR_TERMS: dict[str, Any] = {
    "country": "US",
    "holidays": 22,
    "holidays_until": "2025-12-31",
    "yearly": True,
    "month_end": False,
}


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """A served category's example, in this gateway's window and horizon."""
    version = {
        "version": "20261126.101500",
        "is_default": True,
        "window_size": facts.window_size,
        "ready_workers": 1,
        "loaded": True,
        "test_metrics": EXAMPLE_METRICS,
        "max_horizon": facts.max_horizon,
        "calendar": EXAMPLE_CALENDAR_TERMS,
        "weekday_input": True,
    }
    model = {
        "category": facts.category,
        "model_name": category_slug(facts.category),
        "default_version": version["version"],
        "window_size": facts.window_size,
        "max_horizon": facts.max_horizon,
        "test_metrics": EXAMPLE_METRICS,
        "loaded": True,
        "calendar": EXAMPLE_CALENDAR_TERMS,
        "weekday_input": True,
        "versions": [version],
    }
    page = {
        "models": [model],
        "total": 1,
        "offset": 0,
        "limit": None,
        "loaded": 1,
        "archived": 0,
        "max_loaded_models": None,
    }
    return {"ModelList": {"examples": [page]}}
