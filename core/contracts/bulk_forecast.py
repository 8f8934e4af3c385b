"""A bulk forecast's hand-off: what the gateway asks `python -m serving.bulk_forecast` (on stdin) and
what that batch process answers (on stdout), both as JSON.

The gateway never imports torch: it sends each category's archive and history window here and reads
back the answers the handler's own steps made, one `BulkOutcome` per item in the job's order.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from core.contracts.files import ContractError, describe_errors


class BulkItem(BaseModel):
    """One category to forecast: its served archive and its history (the last days, oldest first; at
    least the version's window, else the item fails with "has N days of history")."""

    category: str
    archive: str = Field(description="path of the version's .mar in the model store")
    sales: list[float]
    last_date: str | None = Field(default=None, description="ISO date of the last value (calendar terms)")


class BulkForecastJob(BaseModel):
    """Every item is forecast `horizon` days ahead with intervals at `levels` (None: each version's
    defaults), as one request to the handler would be."""

    horizon: int = Field(ge=1)
    levels: list[float] | None = None
    items: list[BulkItem]


class BulkInterval(BaseModel):
    level: int
    lower: float
    upper: float


class BulkStep(BaseModel):
    step: int
    prediction: float
    intervals: list[BulkInterval] = Field(default_factory=list)


class BulkTotal(BaseModel):
    """The total of the days ahead as the handler answers it (`intervals` None, `note` saying why,
    when the version has no intervals of totals)."""

    days: int
    prediction: float
    intervals: list[BulkInterval] | None = None
    note: str | None = None


class BulkOutcome(BaseModel):
    """One item's answer: status 200 with the forecast, or the item's own status and error (404 no
    history, 422 too little history or a horizon beyond the version's, 503 archive unreadable)."""

    category: str
    status: int
    error: str | None = None
    model_version: str | None = None
    window_size: int | None = None
    forecast: list[BulkStep] | None = None
    total: BulkTotal | None = Field(default=None, description="the total of the days, horizon ≥ 2")
    calendar: dict[str, str | bool | list[str]] | None = Field(
        default=None, description="the handler's `calendar`"
    )


class BulkForecastAnswer(BaseModel):
    outcomes: list[BulkOutcome]
    seconds: float = Field(description="wall time of the batch process's forecasting, torch import excluded")


def encode_job(job: BulkForecastJob) -> bytes:
    return job.model_dump_json().encode("utf-8")


def decode_job(data: bytes) -> BulkForecastJob:
    """The job read from stdin; `ContractError` when it is not one."""
    try:
        return BulkForecastJob.model_validate_json(data)
    except ValidationError as exc:
        raise ContractError(f"not a valid BulkForecastJob: {describe_errors(exc)}") from None


def encode_answer(answer: BulkForecastAnswer) -> bytes:
    return answer.model_dump_json().encode("utf-8")


def decode_answer(data: bytes) -> BulkForecastAnswer:
    """The answer read from the batch process's stdout; `ContractError` when it is not one."""
    try:
        return BulkForecastAnswer.model_validate_json(data)
    except ValidationError as exc:
        raise ContractError(f"not a valid BulkForecastAnswer: {describe_errors(exc)}") from None
