"""What TorchServe says about a loaded version: the handler's answer to a customized describe,
`GET /models/<name>/<version>?customized=true` → `customizedMetadata`.

The gateway learns each served version's category, window size and test metrics from this answer
(HTTP only, never from files). TorchServe answers it only per version, not for `/all`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.contracts.files import ContractError, describe_errors
from core.contracts.manifest import ClassicalPart, Fallback
from core.contracts.metrics import Backtest, ForecastScores


class ServedVersionInfo(BaseModel):
    """One version as its handler describes it (`metrics` is the `test` part of `metrics.json`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str = Field(min_length=1)
    model_version: str
    window_size: int = Field(ge=1)
    train_end: str | None = None
    last_date: str | None = None
    metrics: dict[str, ForecastScores] = Field(default_factory=dict)
    max_horizon: int = 1
    interval_levels: list[int] = Field(default_factory=list, description="the version's default levels")
    backtest: Backtest | None = None
    fallback: Fallback | None = Field(default=None, description="why it serves less than the full model")
    classical: ClassicalPart | None = Field(default=None, description="its classical part and blend weight")
    calendar: dict[str, Any] | None = Field(default=None, description="its calendar terms, summed up")
    weekday_input: bool = Field(
        default=False, description="its model reads the weekday of the days forecast from `last_date`"
    )


def parse_served_info(raw: Mapping[str, Any] | str, where: str) -> ServedVersionInfo:
    """The `customizedMetadata` of a describe answer (an object, or JSON text in older releases)."""
    try:
        if isinstance(raw, str):
            return ServedVersionInfo.model_validate_json(raw)
        return ServedVersionInfo.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"{where}: not a valid ServedVersionInfo: {describe_errors(exc)}") from None
