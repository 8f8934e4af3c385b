"""Request and response bodies of the HTTP API, with the examples shown in the OpenAPI docs."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.settings import DeployPolicy

FLOAT32_MAX = 3.4028234663852886e38
JobStatus = Literal["queued", "running", "succeeded", "failed"]
CategoryState = Literal["queued", "training", "deploying", "succeeded", "failed"]

_EXAMPLE_SALES: list[Any] = [
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
_EXAMPLE_METRICS: dict[str, Any] = {
    "model": {"mae": 412.3, "rmse": 561.2, "smape": 48.1, "mase": 0.71, "rmsse": 0.69},
    "naive": {"mae": 598.0, "rmse": 802.4, "smape": 61.0, "mase": 1.03, "rmsse": 0.99},
    "seasonal_naive": {"mae": 580.1, "rmse": 810.9, "smape": 60.2, "mase": 1.0, "rmsse": 1.0},
    "moving_average": {"mae": 450.7, "rmse": 598.3, "smape": 52.4, "mase": 0.78, "rmsse": 0.74},
}


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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


HORIZON_DESCRIPTION = "Days ahead, 1 (tomorrow, the default) to `forecast.max_horizon` (28)."
LEVELS_DESCRIPTION = "Prediction-interval levels in percent (50–99); default `forecast.interval_levels`."


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


class PredictRequest(_Body):
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
        json_schema_extra={"examples": [{"category": "Beauty", "sales": _EXAMPLE_SALES, "horizon": 1}]},
    )

    @field_validator("sales")
    @classmethod
    def _finite_numbers(cls, values: list[Any]) -> list[float]:
        return check_sales_values(values)

    @field_validator("levels")
    @classmethod
    def _levels(cls, values: list[Any] | None) -> list[float] | None:
        return check_levels(values)


_EXAMPLE_STEP: dict[str, Any] = {
    "step": 1,
    "date": None,
    "prediction": 1034.7,
    "intervals": [
        {"level": 80, "lower": 712.4, "upper": 1357.0},
        {"level": 95, "lower": 514.9, "upper": 1554.5},
    ],
}


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
                    "forecast": [_EXAMPLE_STEP],
                }
            ]
        }
    )


class BatchItem(_Body):
    category: str = Field(description="Category name.")
    sales: list[Any] = Field(
        description="Last N daily totals, oldest first (checked per item: a bad item gets its own error).",
        json_schema_extra={"items": {"type": "number"}},
    )


class BatchRequest(_Body):
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
                        {"category": "Beauty", "sales": _EXAMPLE_SALES},
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


class TrainRequest(_Body):
    categories: list[str] = Field(min_length=1, description="Categories to train (each trained separately).")
    experiment_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="MLflow experiment; default from config."
    )
    deploy: DeployPolicy | None = Field(
        default=None, description="Deploy policy for this job; default `gateway.deploy_policy`."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"categories": ["Beauty"], "experiment_name": "exp-1", "deploy": "if_better"}]
        },
    )


class TrainAllRequest(_Body):
    experiment_name: str | None = Field(default=None, min_length=1, max_length=200)
    deploy: DeployPolicy | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"experiment_name": "nightly", "deploy": "always"}]}
    )


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
                    "status": "queued",
                    "status_url": "/api/jobs/5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
                }
            ]
        }
    )


class CategoryOutcome(BaseModel):
    category: str
    state: CategoryState
    version: str | None = Field(default=None, description="The version this job trained.")
    served_version_before: str | None = Field(
        default=None, description="Version TorchServe served when the job started."
    )
    metrics: dict[str, Any] | None = Field(default=None, description="`metrics.json` of the new version.")
    deployed: bool | None = None
    deploy_reason: str | None = None
    failed_step: Literal["training", "archive", "deploy"] | None = None
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What went wrong after the new version took over (e.g. an old version that would "
        "not unregister); the deploy still stands.",
    )
    seconds: float | None = Field(
        default=None,
        description="While the category runs: seconds since it started (training and deploy). Once it "
        "finished: its training alone; the job's elapsed time (finished_at - started_at) adds process "
        "start-up and deploying.",
    )
    phase: Literal["evaluation", "serving"] | None = Field(
        default=None, description="While training: the held-out evaluation fit, then the served model's fit."
    )
    epoch: int | None = Field(default=None, description="Epochs done (while training: the current one).")
    max_epochs: int | None = Field(default=None, description="Epoch limit; early stopping may end sooner.")
    train_loss: float | None = Field(default=None, description="Last epoch's training loss (normalized).")
    val_loss: float | None = Field(default=None, description="Last epoch's validation loss (normalized).")
    train_losses: list[float] = Field(
        default_factory=list, description="Training loss per epoch of the current fit (normalized)."
    )
    val_losses: list[float | None] = Field(
        default_factory=list, description="Validation loss per epoch of the current fit (normalized)."
    )
    mlflow_experiment_id: str | None = Field(default=None, description="MLflow experiment of the run.")
    mlflow_run_id: str | None = Field(default=None, description="MLflow run that tracked this training.")


class Job(BaseModel):
    job_id: str
    kind: Literal["train", "train_all"]
    status: JobStatus
    categories: list[str]
    experiment_name: str
    deploy_policy: DeployPolicy
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    dataset_id: str | None = Field(default=None, description="Dataset the job learns from.")
    dataset_name: str | None = None
    dataset_sha256: str | None = Field(default=None, description="SHA-256 of that dataset's file.")
    results: list[CategoryOutcome]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
                    "kind": "train",
                    "status": "succeeded",
                    "categories": ["Beauty"],
                    "experiment_name": "exp-1",
                    "deploy_policy": "if_better",
                    "created_at": "2026-11-26T10:15:00Z",
                    "started_at": "2026-11-26T10:15:00Z",
                    "finished_at": "2026-11-26T10:15:42Z",
                    "error": None,
                    "results": [
                        {
                            "category": "Beauty",
                            "state": "succeeded",
                            "version": "20261126.101500",
                            "served_version_before": "20261125.090000",
                            "metrics": {"window_size": 14, "test": _EXAMPLE_METRICS},
                            "deployed": True,
                            "deploy_reason": "test RMSE 561.2 < seasonal-naive 810.9 and <= served 590.0",
                            "failed_step": None,
                            "error": None,
                            "warnings": [],
                            "seconds": 41.8,
                        }
                    ],
                }
            ]
        }
    )


class JobList(BaseModel):
    jobs: list[Job]


class ModelVersion(BaseModel):
    version: str
    is_default: bool
    window_size: int | None = None
    ready_workers: int = 0
    test_metrics: dict[str, Any] | None = Field(default=None, description="`test` part of `metrics.json`.")
    max_horizon: int = Field(ge=1, description="Most days ahead (`horizon`) this version forecasts.")


class CategoryModel(BaseModel):
    category: str
    model_name: str = Field(description="TorchServe model name (slug of the category).")
    default_version: str | None
    window_size: int | None
    max_horizon: int = Field(ge=1, description="Most days ahead (`horizon`) the default version forecasts.")
    test_metrics: dict[str, Any] | None = None
    versions: list[ModelVersion]


class ModelList(BaseModel):
    models: list[CategoryModel]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "models": [
                        {
                            "category": "Beauty",
                            "model_name": "beauty",
                            "default_version": "20261126.101500",
                            "window_size": 14,
                            "max_horizon": 28,
                            "test_metrics": _EXAMPLE_METRICS,
                            "versions": [
                                {
                                    "version": "20261126.101500",
                                    "is_default": True,
                                    "window_size": 14,
                                    "ready_workers": 1,
                                    "test_metrics": _EXAMPLE_METRICS,
                                    "max_horizon": 28,
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )


class SetDefaultRequest(_Body):
    version: str = Field(min_length=1, description="A version registered in TorchServe.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"version": "20261125.090000"}]}
    )


class History(BaseModel):
    category: str
    start: str | None = Field(description="First day returned (YYYY-MM-DD); null when empty.")
    end: str | None
    days: int
    dates: list[str]
    sales: list[float]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "Beauty",
                    "start": "2024-12-29",
                    "end": "2024-12-31",
                    "days": 3,
                    "dates": ["2024-12-29", "2024-12-30", "2024-12-31"],
                    "sales": [1200.0, 0.0, 845.0],
                }
            ]
        }
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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "Beauty",
                    "date": "2025-01-01",
                    "prediction": 1034.7,
                    "model_version": "20261126.101500",
                    "window_size": 14,
                    "history_end": "2024-12-31",
                    "horizon": 1,
                    "forecast": [{**_EXAMPLE_STEP, "date": "2025-01-01"}],
                }
            ]
        }
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


class ModelHealth(BaseModel):
    category: str
    model_name: str
    version: str | None
    ready_workers: int


class TorchServeHealth(BaseModel):
    status: Literal["ready", "unavailable", "not_ready"]
    detail: str | None = None
    models: list[ModelHealth] = []


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    gateway: Literal["ok"] = "ok"
    torchserve: TorchServeHealth

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "gateway": "ok",
                    "torchserve": {
                        "status": "ready",
                        "detail": None,
                        "models": [
                            {
                                "category": "Beauty",
                                "model_name": "beauty",
                                "version": "20261126.101500",
                                "ready_workers": 1,
                            }
                        ],
                    },
                }
            ]
        }
    )


class ErrorBody(BaseModel):
    detail: str

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "expected 14 values, got 3"}]})
