"""The version manifest, `norm_stats.json`: what a trained version is and how to feed its model.

Written by training beside `model.pt`, packed into the `.mar`, read by the handler (its own reader,
kept in step by tests/contracts) and by every other part through `read_manifest`. The file name is
kept from the first releases so archives already in a model store keep loading.

`format_version` 3 (what training writes): `model.pt` takes normalized windows and the handler
applies the `normalization` block (`WindowNormalization`), and it also takes the weekday of the day
forecast when the request sent the date of its last value (`handlers.forecast_steps`). Format 2 is
the same without the weekday; manifests without a format version (1) keep serving: `model_input`
"raw" (the model scales inside) or "normalized" (`(x − mean) / std`).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.contracts.files import read_contract, write_contract
from core.settings import FillPolicy

MANIFEST_FILE = "norm_stats.json"
VERSION_PATTERN = r"^\d{8}\.\d{6}$"


ModelInput = Literal["normalized", "raw"]
FORMAT_VERSION = 3
"""The format training writes; files without `format_version` are format 1."""
IntervalScale = Literal["none", "diff", "msd", "mad", "std"]
MIN_LEVEL, MAX_LEVEL = 50, 99
"""Interval levels (percent) a version can be asked for."""
LEVEL_SHARE_RANGE = (0.1, 10.0)
"""Bounds of a day's forecast over its window's mean in an interval's width (handler: the same)."""


class IntervalCalibration(BaseModel):
    """Prediction intervals of a version: `forecast ± quantiles[level][step] × scale(window)`.

    Split-conformal quantiles of the absolute errors on held-out windows, each error divided by the
    scale of its own input window, so the width follows how volatile the request's own recent days
    are. Scales of a window x of N days: `diff` mean |x[t] − x[t−1]|, `msd` mean |x[t] − x[t−7]|,
    `mad` mean |x − mean(x)|, `std` its standard deviation, `none` 1.
    `quantiles[i][h - 1]` belongs to `levels[i]` and step h; `default_levels` are answered when a
    request names none; a window's scale is never below `scale_floor` (a flat window still gets an
    interval). With `non_negative` (no negative day in training) lower bounds stop at 0.

    With `level_exponent` e > 0 each day's width is also × (the day's forecast / the window's mean)
    ** e, the share clipped to `LEVEL_SHARE_RANGE`: sales miss by more on a busy day than on a quiet
    one, which one scale per window cannot tell (0: versions calibrated before it). Totals keep the
    window's scale alone.

    `total_quantiles[i][k - 1]` does the same for the total of days 1..k, which per-day quantiles
    cannot give (errors of different days partly cancel): `Σ forecast ± total_quantiles[i][k - 1] ×
    scale(window)`, from conformal quantiles of |Σ actual − Σ forecast| / scale. None (versions
    calibrated before it): the version has no interval for a total, and its answers say so.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    scale: IntervalScale
    scale_floor: float = Field(default=0.0, ge=0.0)
    levels: list[int] = Field(min_length=1)
    default_levels: list[int] = Field(min_length=1)
    quantiles: list[list[float]]
    non_negative: bool = True
    total_quantiles: list[list[float]] | None = None
    level_exponent: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> IntervalCalibration:
        if sorted(set(self.levels)) != self.levels or not all(
            MIN_LEVEL <= lv <= MAX_LEVEL for lv in self.levels
        ):
            raise ValueError(f"levels must be increasing whole percents within {MIN_LEVEL}..{MAX_LEVEL}")
        if not set(self.default_levels) <= set(self.levels):
            raise ValueError("default_levels must be calibrated levels")
        if len(self.quantiles) != len(self.levels) or len({len(row) for row in self.quantiles}) != 1:
            raise ValueError("quantiles must hold one row per level, all rows of one length (the steps)")
        if not all(math.isfinite(q) and q >= 0 for row in self.quantiles for q in row):
            raise ValueError("quantiles must be finite and non-negative")
        totals = self.total_quantiles
        if totals is not None:
            if len(totals) != len(self.levels) or {len(row) for row in totals} != {self.steps}:
                raise ValueError("total_quantiles must hold one row per level, as long as the quantiles rows")
            if not all(math.isfinite(q) and q >= 0 for row in totals for q in row):
                raise ValueError("total_quantiles must be finite and non-negative")
        return self

    @property
    def steps(self) -> int:
        return len(self.quantiles[0])


class WindowNormalization(BaseModel):
    """What the handler applies around a format-2 `model.pt`, per window x of N days:
    `level = max(mean(x), level_floor)`, `unit = level × cv`, `z = (x − level) / unit`;
    `model.pt(z, level, unit)` returns the next day in those units, `y = level + unit × out`,
    clamped at 0 when `non_negative` (no negative day in training). `level_floor` is a share of the
    training segment's mean (a quiet window stays finite), `cv` its std / mean."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    method: Literal["window_level"] = "window_level"
    level_floor: float = Field(gt=0.0, strict=True, allow_inf_nan=False)
    cv: float = Field(gt=0.0, strict=True, allow_inf_nan=False)
    non_negative: bool = Field(strict=True)


class Evaluation(BaseModel):
    """The held-out evaluation the version's metrics come from: a model fitted on `train_*` only and
    scored on `test_*` (the served model itself may have learned from later days)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    train_start: date
    train_end: date
    test_start: date
    test_end: date


class SharedNetwork(BaseModel):
    """The networks a version froze into its `model.pt` when they learn across categories: trained
    once per training run on every category's windows (`categories`), saved under the artifacts
    folder at `weights` (relative to it). `id` names them (a hash of their weights and `trained_at`,
    the run's start); versions of one run share it, a category refitted alone may reuse it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    trained_at: datetime
    categories: list[str] = Field(min_length=1)
    weights: str = Field(min_length=1)


class Fallback(BaseModel):
    """Why a version serves less than the full model: `classical_only` (a history too short for the
    networks' windows: the weekly-profile forecast alone, intervals calibrated on the few days there
    were), with the reason in words for the user."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["classical_only"]
    reason: str = Field(min_length=1)


class ClassicalPart(BaseModel):
    """The classical forecast a version blends with its networks (or serves alone): `weekly_profile_es`
    (a weekly profile × a smoothed level), `long_run_mean` (the fit found nothing that clearly beats
    the training days' mean), `tsb` (intermittent demand: probability of a sale × its size) or
    `theta` (the Theta method: smoothing with half the window's trend as drift), with
    the fitted `parameters` by name, and its `weight` in the blend (1: it serves alone)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    method: Literal["weekly_profile_es", "long_run_mean", "tsb", "theta"]
    parameters: dict[str, float] = Field(default_factory=dict)
    weight: float | None = Field(
        default=None, ge=0.0, le=1.0, description="its share of the blend; the networks have the rest"
    )


class MonthEnd(BaseModel):
    """The factor of the last `days` days of every month."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    days: int = Field(ge=1, le=7, strict=True)
    factor: float = Field(ge=0.0, allow_inf_nan=False)


class CalendarTerms(BaseModel):
    """A version's calendar terms (`handlers/calendar_terms.py` applies them): sales were divided by
    a factor per day before fitting — `holidays` by ISO day up to `holidays_until` (public holidays
    of `country`), `yearly` by day of a leap year (366 values, None: off), `month_end` (None: off) —
    and a request's window is divided alike (never by less than `floor`), its forecast multiplied back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    country: str
    holidays: dict[date, float]
    holidays_until: date
    yearly: list[float] | None = Field(default=None, min_length=366, max_length=366)
    month_end: MonthEnd | None = None
    floor: float = Field(gt=0.0, le=1.0)


class VersionManifest(BaseModel):
    """One trained version of one category.

    `mean`/`std` are the training segment's (`std` > 0: a flat segment stores 1.0); how the model's
    input is made from the last `window_size` daily totals (oldest first) is `format_version`'s and
    `normalization`'s (see the module docstring). `train_*` is the period the
    served model learned from, `last_date` the last day of the data it saw, and `data_file` /
    `data_sha256` name that data exactly (`dataset_id`: the uploaded dataset it came from, if any);
    `shared_network` the cross-category networks it froze (None: its networks are its own);
    `series_sha256` the fingerprint of the category's own daily series as training saw it (ISO days
    and float64 values, `training.changes`), which `train --only-changed` compares with the current
    data's (None: trained before it was recorded, so the category counts as changed); `fallback`
    says why the version serves less than the full model (None: it does not); `classical` is its
    classical part (None: trained before it was recorded); `calendar` its calendar terms (None: none).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    version: str = Field(pattern=VERSION_PATTERN)
    window_size: int = Field(ge=1, strict=True)
    mean: float = Field(strict=True, allow_inf_nan=False)
    std: float = Field(gt=0.0, strict=True, allow_inf_nan=False)
    fill_policy: FillPolicy
    train_start: date
    train_end: date
    last_date: date
    data_file: str
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format_version: int = Field(default=1, ge=1, le=FORMAT_VERSION, strict=True)
    model_input: ModelInput = "normalized"
    normalization: WindowNormalization | None = None
    max_horizon: int = Field(default=1, ge=1, strict=True)
    intervals: IntervalCalibration | None = None
    evaluation: Evaluation | None = None
    dataset_id: str | None = None
    shared_network: SharedNetwork | None = None
    series_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    fallback: Fallback | None = None
    classical: ClassicalPart | None = None
    calendar: CalendarTerms | None = None

    @model_validator(mode="after")
    def _normalization_matches_format(self) -> VersionManifest:
        if self.format_version >= 2:
            if self.normalization is None or self.model_input != "normalized":
                raise ValueError(
                    "format_version 2 and later need a normalization block and model_input 'normalized'"
                )
        elif self.normalization is not None:
            raise ValueError("a normalization block needs format_version 2")
        return self


def write_manifest(folder: Path, manifest: VersionManifest) -> Path:
    """Write `folder/norm_stats.json` atomically."""
    return write_contract(folder / MANIFEST_FILE, manifest)


def read_manifest(folder: Path) -> VersionManifest:
    """`folder/norm_stats.json` as a `VersionManifest`; `ContractError` naming the file and the fields."""
    return read_contract(VersionManifest, folder / MANIFEST_FILE)
