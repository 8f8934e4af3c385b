"""`salescast bench accuracy`: rolling-origin comparison of the served model recipe with the classical
references, on the same target days, per category and overall, over several seeds.

For every fold and seed the forecaster is made exactly as a served version is, from the days before the
cut-off only: when the networks pool categories they are trained once on every category of the file
(`training.shared.train_networks_before`, as a run trains its served set) and each category's
forecaster fits its classical part and freezes them in (`fit_forecaster(networks=...)`); otherwise
each category trains its own. From every origin of the fold (each day from the cut-off on, knowing
the true days before it) it forecasts 1 and 7 days ahead, feeding its own forecasts back for the later
days, and its prediction intervals — calibrated on its own validation tail — are checked against what
happened. The references — seasonal naive, the 14-day moving average, AutoETS and AutoARIMA (season
7, fitted once per fold, then run with fixed parameters from every origin) — forecast the same days
from the same origins. "Overall" is the mean of each method's RMSE over categories; a ratio below 1
means the model beats the best reference.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.blend_headroom import Headroom, blend_headroom
from salescast.bench.day_kinds import day_kinds, segment_scores
from salescast.bench.kupiec import REJECT_BELOW, kupiec_pvalue
from salescast.bench.rolling_origin import Fold, fold_calendar, fold_windows, make_folds, min_train_days
from salescast.bench.statistical import STATISTICAL_METHODS, MissingBenchExtraError, statistical_paths
from training.calendar import FileCalendar, series_calendar
from training.evaluation import calibrate_intervals
from training.interval_scores import interval_score, pinball_loss
from training.intervals import level_share, total_coverage, window_scale
from training.metrics import METRICS, evaluate
from training.multistep import actual_paths, recursive_paths
from training.windows import SEASON, FloatArray, IndexArray, window_inputs

if TYPE_CHECKING:
    from training.model import CNNLSTM

logger = logging.getLogger(__name__)

MODEL = "cnn_lstm"
HORIZONS = (1, 7)
MA_DAYS = 14
REFERENCES = ("seasonal_naive", "ma14", *STATISTICAL_METHODS)
"""The classical forecasts the model must beat (the best of them is the bar)."""
KNOWN_LEVEL = "centred_level"
"""Not a forecast, never a reference: each target day's level from the `KNOWN_LEVEL_DAYS` days either
side of it (itself left out, the future included) × the weekday profile of the whole series. What
knowing the level around a day scores with the weekly pattern alone: on data without calendar effects,
about as far below the references as a forecaster could be expected to go; a calendar-aware model can go
further where holidays and seasons matter."""
KNOWN_LEVEL_DAYS = 28
OPTIMUM = "optimum"
"""Not a forecast, never a reference, only on a generated profile (`salescast.bench.optimum`): each
target day's expected sales given the generator's own parameters and hidden state, the best any
forecaster could do in squared error on average."""
Optimum = Mapping[str, Mapping[int, pd.Series]]
"""By category and horizon: the `OPTIMUM` forecast of every generated day, dated."""
Progress = Callable[[str], None]
FoldNetworks = Mapping[tuple[pd.Timestamp, int], "Sequence[CNNLSTM] | None"]
"""The networks each fold's forecasters freeze in, by cut-off day and seed (None: each trains its own)."""


@dataclass
class CategoryAccuracy:
    """One category over every fold: target days, each method's forecasts h days ahead, coverage."""

    category: str
    dates: dict[int, pd.DatetimeIndex]  # horizon → the target days scored
    actual: dict[int, FloatArray]
    insample: FloatArray
    cutoffs: list[str]
    references: dict[int, dict[str, FloatArray]]
    model: dict[int, list[FloatArray]]
    coverage: dict[int, list[dict[str, float]]]
    interval_scores: dict[int, list[dict[str, float]]]
    """Per seed: `pinball` (mean over the median and every level's bounds), `interval_score_<level>`
    and, at the longest horizon, `total_coverage_<level>`: how often the total of the days up to it
    fell inside the total's own interval (percent)."""
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def reference_rmse(self, horizon: int) -> dict[str, float]:
        actual = self.actual[horizon]
        return {name: rmse(actual, forecast) for name, forecast in self.references[horizon].items()}

    def model_rmse(self, horizon: int) -> list[float]:
        """One RMSE per seed."""
        return [rmse(self.actual[horizon], forecast) for forecast in self.model[horizon]]

    def best_reference(self, horizon: int) -> str:
        scores = {name: value for name, value in self.reference_rmse(horizon).items() if name in REFERENCES}
        return min(scores, key=lambda name: scores[name])

    def known_level(self, horizon: int) -> float:
        """`KNOWN_LEVEL`'s RMSE over the best reference's."""
        scores = self.reference_rmse(horizon)
        bar = scores[self.best_reference(horizon)]
        return scores[KNOWN_LEVEL] / bar if bar > 0 else math.nan

    def optimum(self, horizon: int) -> float | None:
        """`OPTIMUM`'s RMSE over the best reference's; None when the file is not a generated profile."""
        scores = self.reference_rmse(horizon)
        if OPTIMUM not in scores:
            return None
        bar = scores[self.best_reference(horizon)]
        return scores[OPTIMUM] / bar if bar > 0 else math.nan

    def ratios(self, horizon: int, reference: str | None = None) -> list[float]:
        """Model RMSE / the reference's (default: the best one), one per seed."""
        bar = self.reference_rmse(horizon)[reference or self.best_reference(horizon)]
        return [value / bar if bar > 0 else math.nan for value in self.model_rmse(horizon)]

    def metrics(self) -> dict[str, dict[str, float]]:
        """Every metric one day ahead: each reference, and the model's mean over seeds."""
        actual = self.actual[1]
        table = {
            name: evaluate(actual, forecast, self.insample) for name, forecast in self.references[1].items()
        }
        per_seed = [evaluate(actual, forecast, self.insample) for forecast in self.model[1]]
        table[MODEL] = {name: float(np.nanmean([seed[name] for seed in per_seed])) for name in METRICS}
        return table

    def mean_coverage(self, horizon: int) -> dict[str, float]:
        levels = self.coverage[horizon][0]
        return {level: float(np.mean([seed[level] for seed in self.coverage[horizon]])) for level in levels}

    def mean_interval_scores(self, horizon: int) -> dict[str, float]:
        """Pinball loss and interval scores, mean over seeds (sales units: lower is better)."""
        seeds = self.interval_scores[horizon]
        return {name: float(np.mean([seed[name] for seed in seeds])) for name in seeds[0]}

    def by_day_kind(self, horizon: int, country: str) -> dict[str, dict[str, float]]:
        """The model's RMSE over the best reference's and its bias on public holidays, in Nov–Dec and
        on the other target days (kinds without a target day left out)."""
        reference = self.references[horizon][self.best_reference(horizon)]
        return {
            kind: segment_scores(self.actual[horizon], self.model[horizon], reference, mask)
            for kind, mask in day_kinds(self.dates[horizon], country).items()
            if mask.any()
        }

    def kupiec(self, horizon: int) -> dict[str, float]:
        """Kupiec's p-value of each level's coverage (mean over seeds) over this category's target
        days: below 5 %, the interval's calibration is rejected for the category."""
        days = len(self.actual[horizon])
        return {
            level: kupiec_pvalue(round(covered / 100 * days), days, float(level) / 100)
            for level, covered in self.mean_coverage(horizon).items()
        }


@dataclass
class AccuracyReport:
    data_file: str
    folds: int
    fold_days: int
    window_size: int
    seeds: list[int]
    categories: list[CategoryAccuracy]
    shared_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds training each fold's shared networks (every seed), by cut-off day; empty when the
    networks do not pool categories."""
    holiday_country: str = "US"
    """Whose public holidays `by_day_kind` splits the target days by (`data.holiday_country`)."""

    def overall_rmse(self, horizon: int) -> dict[str, float]:
        """Each reference's RMSE, mean over categories."""
        names = [
            n
            for n in self.categories[0].references[horizon]
            if all(n in c.references[horizon] for c in self.categories)
        ]
        return {n: float(np.mean([c.reference_rmse(horizon)[n] for c in self.categories])) for n in names}

    def overall_model_rmse(self, horizon: int) -> list[float]:
        """The model's RMSE, mean over categories, one per seed."""
        return [float(value) for value in np.mean([c.model_rmse(horizon) for c in self.categories], axis=0)]

    def best_reference(self, horizon: int) -> str:
        overall = {name: value for name, value in self.overall_rmse(horizon).items() if name in REFERENCES}
        return min(overall, key=lambda name: overall[name])

    def overall_known_level(self, horizon: int) -> float:
        """`KNOWN_LEVEL`'s RMSE over the best reference's, both mean over categories."""
        overall = self.overall_rmse(horizon)
        return overall[KNOWN_LEVEL] / overall[self.best_reference(horizon)]

    def overall_optimum(self, horizon: int) -> float | None:
        """`OPTIMUM`'s RMSE over the best reference's, both mean over categories (None: not generated)."""
        overall = self.overall_rmse(horizon)
        return overall[OPTIMUM] / overall[self.best_reference(horizon)] if OPTIMUM in overall else None

    def overall_ratios(self, horizon: int) -> list[float]:
        bar = self.overall_rmse(horizon)[self.best_reference(horizon)]
        return [value / bar for value in self.overall_model_rmse(horizon)]

    def blend_headroom(self, horizon: int) -> list[Headroom]:
        """What blending the model with the statistical references could give at most (`Headroom`)."""
        return blend_headroom(
            self.categories, horizon, self.overall_rmse(horizon)[self.best_reference(horizon)]
        )

    def kupiec_rejected(self, horizon: int) -> dict[str, int]:
        """Categories whose coverage Kupiec's test rejects at 5 %, per level."""
        per_category = [c.kupiec(horizon) for c in self.categories]
        return {level: sum(p[level] < REJECT_BELOW for p in per_category) for level in per_category[0]}

    def coverage(self, horizon: int) -> dict[str, float]:
        """Percent of target days inside each level's interval, mean over categories and seeds."""
        per_category = [c.mean_coverage(horizon) for c in self.categories]
        return {level: float(np.mean([c[level] for c in per_category])) for level in per_category[0]}

    def interval_scores(self, horizon: int) -> dict[str, float]:
        """Pinball loss and interval scores, mean over categories and seeds."""
        per_category = [c.mean_interval_scores(horizon) for c in self.categories]
        return {name: float(np.mean([c[name] for c in per_category])) for name in per_category[0]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_file": self.data_file,
            "folds": self.folds,
            "fold_days": self.fold_days,
            "window_size": self.window_size,
            "seeds": self.seeds,
            "shared_networks_seconds": {day: round(s, 1) for day, s in self.shared_seconds.items()},
            "overall": {
                f"h{h}": {
                    "references_rmse": self.overall_rmse(h),
                    "model_rmse": _spread(self.overall_model_rmse(h)),
                    "best_reference": self.best_reference(h),
                    "model_to_best": _spread(self.overall_ratios(h)),
                    "known_level_to_best": self.overall_known_level(h),
                    **_optimum_entry(self.overall_optimum(h)),
                    "coverage": self.coverage(h),
                    "kupiec_rejected_categories": self.kupiec_rejected(h),
                    "interval_scores": self.interval_scores(h),
                    "blend_headroom": {found.partner: found.as_dict() for found in self.blend_headroom(h)},
                }
                for h in HORIZONS
            },
            "categories": {
                c.category: {
                    "target_start": str(c.dates[1][0].date()),
                    "target_end": str(c.dates[1][-1].date()),
                    "cutoffs": c.cutoffs,
                    "metrics_h1": c.metrics(),
                    **{
                        f"h{h}": {
                            "references_rmse": c.reference_rmse(h),
                            "model_rmse": _spread(c.model_rmse(h)),
                            "best_reference": c.best_reference(h),
                            "model_to_best": _spread(c.ratios(h)),
                            "model_to_ma14": _spread(c.ratios(h, "ma14")),
                            "known_level_to_best": c.known_level(h),
                            **_optimum_entry(c.optimum(h)),
                            "coverage": c.mean_coverage(h),
                            "coverage_kupiec_p": {level: round(p, 4) for level, p in c.kupiec(h).items()},
                            "interval_scores": c.mean_interval_scores(h),
                            "by_day_kind": c.by_day_kind(h, self.holiday_country),
                        }
                        for h in HORIZONS
                    },
                    "errors": c.errors,
                    "seconds": round(c.seconds, 1),
                }
                for c in self.categories
            },
        }


def run_accuracy(
    settings: Settings,
    data_path: Path,
    *,
    folds: int | None = None,
    fold_days: int | None = None,
    seeds: Sequence[int] | None = None,
    statistical: bool = True,
    progress: Progress = print,
    optimum: Optimum | None = None,
) -> AccuracyReport:
    """Rolling-origin evaluation of every category of `data_path` (the categories of `data.categories`).
    `seeds` default to `training.seed` alone; `statistical=False` skips statsforecast (fast smoke runs);
    `optimum` (a generated profile's, `salescast.bench.optimum`) is scored beside the references."""
    bench = settings.bench
    folds = folds or bench.folds
    fold_days = fold_days or bench.fold_days
    seeds = list(seeds) if seeds else [settings.training.seed]
    sales = load_daily_sales(settings.data, data_path)
    layouts = {
        category: make_folds(len(series), folds, fold_days, min_train_days(settings.window.size), category)
        for category, series in sales.items()
    }
    cutoffs = sorted({sales[c].index[fold.cutoff] for c, layout in layouts.items() for fold in layout})
    # the networks learn from every category of the file, as a run's (training.pipeline) do
    every = load_daily_sales(settings.data.model_copy(update={"categories": "auto"}), data_path)
    if (
        settings.training.executor == "ray"
    ):  # a missing Ray or cluster fails now, not after the folds' networks
        from training.ray_executor import preflight

        preflight(settings)
    file_terms = {cutoff: fold_file_calendar(every, cutoff, settings) for cutoff in cutoffs}
    networks, shared_seconds = _fold_networks(every, cutoffs, settings, seeds, progress, file_terms)
    items = [(category, sales[category], layouts[category]) for category in sales]
    common = {
        "networks": networks,
        "seeds": seeds,
        "statistical": statistical,
        "file_terms": file_terms,
        "optimum": optimum or {},
    }
    outcomes = (
        _ray_accuracies(items, common, settings)
        if settings.training.executor == "ray"
        else _local_accuracies(items, common, settings, progress)
    )
    finished = {}
    for result, seconds in outcomes:  # as each category finishes
        # as in a training run, each category's seconds include its share of the shared networks'
        result.seconds = seconds + sum(shared_seconds.values()) / len(sales)
        ratios = result.ratios(1)
        category = result.category
        progress(
            f"{category}: model/best ({result.best_reference(1)}) one day ahead {np.mean(ratios):.3f} "
            f"± {np.std(ratios):.3f} over {len(seeds)} seed(s), coverage {result.mean_coverage(1)} "
            f"({result.seconds:.0f} s)"
        )
        finished[category] = result
    window = settings.window.size
    results = [finished[category] for category in sales]
    return AccuracyReport(
        str(data_path),
        folds,
        fold_days,
        window,
        seeds,
        results,
        shared_seconds,
        settings.data.holiday_country,
    )


def _local_accuracies(
    items: Sequence[tuple[str, pd.Series, Sequence[Fold]]],
    common: Mapping[str, Any],
    settings: Settings,
    progress: Progress,
) -> Iterator[tuple[CategoryAccuracy, float]]:
    """Each category's accuracy and seconds, one after another in this process."""
    for item in items:
        start = time.monotonic()
        result = _category_accuracy(*item, settings=settings, progress=progress, **common)
        yield result, time.monotonic() - start


def _ray_accuracies(
    items: Sequence[tuple[str, pd.Series, Sequence[Fold]]], common: Mapping[str, Any], settings: Settings
) -> Iterator[tuple[CategoryAccuracy, float]]:
    """Each category's accuracy and seconds from a Ray task (`training.executor: ray`), as they finish;
    the folds' networks go to the cluster once. A task's fold lines are its log lines."""
    from training.ray_executor import map_on_ray, ray_session, task_settings

    with ray_session(settings):
        common = {**common, "settings": task_settings(settings), "progress": _log_progress}
        for _, output in map_on_ray(settings, _category_accuracy, items, common):
            if isinstance(output, Exception):
                raise output
            yield output.value, output.seconds


def _log_progress(message: str) -> None:
    logger.info("%s", message)


def fold_file_calendar(
    sales: Mapping[str, pd.Series], cutoff: pd.Timestamp, settings: Settings
) -> FileCalendar:
    """What a run on the file's days before `cutoff` finds its categories show together (holiday
    neighbours, closures: `training.run_inputs.file_calendar_of`)."""
    from training.run_inputs import file_calendar_of

    return file_calendar_of({name: _before(series, cutoff) for name, series in sales.items()}, settings)


def adjusted_before(
    sales: Mapping[str, pd.Series],
    cutoff: pd.Timestamp,
    settings: Settings,
    file_terms: FileCalendar | None = None,
) -> dict[str, pd.Series]:
    """Every category divided by the calendar factors a run on its days before `cutoff` learns
    (`training.run_inputs.calendar_of`, with what the file shows together, `file_terms`) before its
    networks learn from them."""
    from training.run_inputs import calendar_end

    adjusted = {}
    for name, series in sales.items():
        end = calendar_end(_before(series, cutoff), settings)
        country = settings.data.holiday_country
        adjusted[name] = series_calendar(series, end, settings.calendar, country, file_terms).adjusted
    return adjusted


def _before(series: pd.Series, cutoff: pd.Timestamp) -> pd.Series:
    return series.iloc[: int(pd.DatetimeIndex(series.index).searchsorted(cutoff))]


def _fold_networks(
    sales: Mapping[str, pd.Series],
    cutoffs: Sequence[pd.Timestamp],
    settings: Settings,
    seeds: Sequence[int],
    progress: Progress,
    file_terms: Mapping[pd.Timestamp, FileCalendar],
) -> tuple[FoldNetworks, dict[str, float]]:
    """Each fold's and seed's networks, trained once on every category of `sales` before the cut-off
    (None for each when the networks do not pool categories), and each fold's training seconds."""
    from training.shared import train_networks_before

    networks: dict[tuple[pd.Timestamp, int], Sequence[CNNLSTM] | None] = {}
    seconds: dict[str, float] = {}
    for number, cutoff in enumerate(cutoffs):
        start = time.monotonic()
        adjusted = adjusted_before(sales, cutoff, settings, file_terms[cutoff])  # the same for every seed
        for seed in seeds:
            seeded = settings.with_overrides({"training": {"seed": seed}})
            networks[cutoff, seed] = train_networks_before(adjusted, cutoff, seeded)
        if settings.model.pool_categories:
            seconds[str(cutoff.date())] = time.monotonic() - start
            progress(
                f"fold {number + 1}/{len(cutoffs)}: shared networks trained on the days before "
                f"{cutoff.date()} for {len(seeds)} seed(s) ({seconds[str(cutoff.date())]:.0f} s)"
            )
    return networks, seconds


def _category_accuracy(
    category: str,
    series: pd.Series,
    layout: Sequence[Fold],
    networks: FoldNetworks,
    settings: Settings,
    seeds: Sequence[int],
    statistical: bool,
    progress: Progress,
    file_terms: Mapping[pd.Timestamp, FileCalendar] | None = None,
    optimum: Optimum | None = None,
) -> CategoryAccuracy:
    values = series.to_numpy(dtype=np.float64)
    expected = (optimum or {}).get(category, {})
    dates = pd.DatetimeIndex(series.index)
    folds = len(layout)
    longest = max(HORIZONS)
    references: list[dict[int, dict[str, FloatArray]]] = []
    model: list[list[dict[int, FloatArray]]] = [[] for _ in seeds]
    coverage: list[list[dict[int, dict[str, float]]]] = [[] for _ in seeds]
    scores: list[list[dict[int, dict[str, float]]]] = [[] for _ in seeds]
    errors: dict[str, str] = {}
    for fold in layout:
        progress(f"{category}: fold {fold.number + 1}/{folds} (cut-off {dates[fold.cutoff].date()})")
        origins = fold.targets  # every day of the fold is an origin; day h - 1 after it is its target
        fold_references = {h: _references(values, _targets(origins, h), h) for h in HORIZONS}
        for h, forecast in expected.items():
            days = dates[_targets(origins, h)]
            fold_references[h][OPTIMUM] = forecast.reindex(days).to_numpy(dtype=np.float64)
        if statistical:
            try:
                paths = statistical_paths(values, fold.cutoff, origins, longest, settings.bench.season_length)
            except MissingBenchExtraError:
                raise
            except Exception as exc:  # a reference that cannot fit this series is reported, not fatal
                errors[f"fold {fold.number + 1}"] = f"statistical references failed: {exc}"
                logger.warning(
                    "statistical references failed category=%s fold=%d: %s", category, fold.number + 1, exc
                )
            else:
                for h in HORIZONS:
                    fold_references[h].update({name: _at(path, h) for name, path in paths.items()})
        references.append(fold_references)
        for index, seed in enumerate(seeds):
            seeded = settings.with_overrides({"training": {"seed": seed}})
            forecasts, covered, scored = _model_forecasts(
                category,
                values,
                dates,
                fold.cutoff,
                origins,
                seeded,
                networks[dates[fold.cutoff], seed],
                None if file_terms is None else file_terms[dates[fold.cutoff]],
            )
            model[index].append(forecasts)
            coverage[index].append(covered)
            scores[index].append(scored)
    targets = {h: np.concatenate([_targets(fold.targets, h) for fold in layout]) for h in HORIZONS}
    shared = {
        h: [
            n for n in references[0][h] if all(n in f[h] and np.all(np.isfinite(f[h][n])) for f in references)
        ]
        for h in HORIZONS
    }
    return CategoryAccuracy(
        category=category,
        dates={h: dates[targets[h]] for h in HORIZONS},
        actual={h: values[targets[h]] for h in HORIZONS},
        insample=values[: layout[0].cutoff],
        cutoffs=[str(dates[fold.cutoff].date()) for fold in layout],
        references={
            h: {n: np.concatenate([f[h][n] for f in references]) for n in shared[h]} for h in HORIZONS
        },
        model={h: [np.concatenate([f[h] for f in per_seed]) for per_seed in model] for h in HORIZONS},
        coverage=_over_folds(coverage, layout),
        interval_scores=_over_folds(scores, layout),
        errors=errors,
    )


def _over_folds(
    per_seed: Sequence[Sequence[Mapping[int, dict[str, float]]]], layout: Sequence[Fold]
) -> dict[int, list[dict[str, float]]]:
    """Each seed's per-fold numbers as one mean over every fold's target days, by horizon."""
    return {
        h: [
            _mean_coverage([f[h] for f in folds], [len(_targets(fold.targets, h)) for fold in layout])
            for folds in per_seed
        ]
        for h in HORIZONS
    }


def _targets(origins: IndexArray, horizon: int) -> IndexArray:
    """The days forecast `horizon` days ahead from the origins whose target still lies in the fold."""
    return origins[: len(origins) - horizon + 1] + (horizon - 1)


def _at(paths: FloatArray, horizon: int) -> FloatArray:
    """Column `horizon` of `[origins, steps]` paths, for the origins whose target lies in the fold."""
    return paths[: len(paths) - horizon + 1, horizon - 1]


def _references(values: FloatArray, targets: IndexArray, horizon: int) -> dict[str, FloatArray]:
    """Naive, seasonal-naive and 14-day-MA forecasts of `targets` made `horizon` days before them,
    and the `KNOWN_LEVEL` of those days."""
    origins = targets - (horizon - 1)  # the first day the forecaster does not know
    lag = SEASON * math.ceil(horizon / SEASON)  # the latest same weekday known at the origin
    return {
        "naive": np.asarray(values[origins - 1], dtype=np.float64),
        "seasonal_naive": np.asarray(values[targets - lag], dtype=np.float64),
        "ma14": window_inputs(values, origins, MA_DAYS).mean(axis=1),
        KNOWN_LEVEL: centred_level(values, targets),
    }


def centred_level(values: FloatArray, targets: IndexArray, days: int = KNOWN_LEVEL_DAYS) -> FloatArray:
    """`KNOWN_LEVEL` at `targets`: the level of the `days` days either side of each (itself left out,
    divided by their weekday factors) × its own weekday factor, the profile from the whole series."""
    from training.classical import weekly_profile

    factor = weekly_profile(values)[np.arange(len(values)) % SEASON]
    sales = np.concatenate([[0.0], np.cumsum(values)])
    weights = np.concatenate([[0.0], np.cumsum(factor)])
    low = np.maximum(targets - days, 0)
    high = np.minimum(targets + days + 1, len(values))
    around = weights[high] - weights[low] - factor[targets]
    level = (sales[high] - sales[low] - values[targets]) / np.maximum(around, 1e-12)
    return np.asarray(level * factor[targets], dtype=np.float64)


def _model_forecasts(
    category: str,
    values: FloatArray,
    dates: pd.DatetimeIndex,
    cutoff: int,
    origins: IndexArray,
    settings: Settings,
    networks: Sequence[CNNLSTM] | None,
    file_terms: FileCalendar | None = None,
) -> tuple[dict[int, FloatArray], dict[int, dict[str, float]], dict[int, dict[str, float]]]:
    """The forecaster made from the days before `cutoff` (freezing in the fold's shared `networks`, or
    training its own when None): its forecasts h days ahead from `origins`, and the coverage, pinball
    loss and interval scores of its intervals (calibrated on its own validation tail) on those days.
    `file_terms`: what the file shows together before `cutoff` (None: tested on this series alone)."""
    import torch

    from training.fitting import fit_forecaster
    from training.forecaster import as_forecaster

    torch.set_num_threads(settings.training.num_threads)  # the fit restores the caller's afterwards
    longest = max(HORIZONS)
    raw = values
    # the model's units (1:1 without calendar terms) and each day's factor, the horizon's days included
    values, factors = fold_calendar(category, values, dates, cutoff, settings, file_terms, longest)
    windows = fold_windows(category, values, dates, cutoff, settings)
    with tempfile.TemporaryDirectory(prefix="salescast-bench-") as checkpoints:
        fitted = fit_forecaster(windows, settings, Path(checkpoints), networks=networks)
        forecaster = as_forecaster(fitted, fitted.normalization())
    forecast = settings.forecast
    calibration = calibrate_intervals(
        forecaster,
        windows,
        longest,
        scale=forecast.interval_scale,
        default_levels=forecast.interval_levels,
        history=forecast.interval_history,
        level_exponent=forecast.interval_level_exponent,
    )
    size = settings.window.size
    days = origins[:, None] + np.arange(longest)[None, :]
    weekdays = np.asarray(dates[origins].weekday, dtype=np.int64)  # of each origin: the date is known
    adjusted = recursive_paths(forecaster, values, origins, size, longest, weekdays)
    paths = adjusted * factors[days]  # multiplied back by the target days' factors, as served
    inputs = window_inputs(values, origins, size)
    # each day's width: the window's scale × the day's level share (`training.intervals.level_share`)
    widths = window_scale(inputs, calibration.scale, calibration.scale_floor)[:, None] * level_share(
        adjusted, inputs, calibration.level_exponent
    )
    forecasts: dict[int, FloatArray] = {}
    covered: dict[int, dict[str, float]] = {}
    scored: dict[int, dict[str, float]] = {}
    for h in HORIZONS:
        predicted = _at(paths, h)
        actual = raw[_targets(origins, h)]
        forecasts[h] = predicted
        covered[h], scored[h] = {}, {}
        losses = [pinball_loss(actual, predicted, 0.5)]
        for level in calibration.default_levels:
            quantile = calibration.quantiles[calibration.levels.index(level)][h - 1]
            half = quantile * _at(widths, h) * _at(factors[days], h)
            lower = np.maximum(predicted - half, 0.0) if calibration.non_negative else predicted - half
            upper = predicted + half
            covered[h][str(level)] = 100.0 * float(np.mean((actual >= lower) & (actual <= upper)))
            scored[h][f"interval_score_{level}"] = float(
                np.mean(interval_score(actual, lower, upper, level / 100))
            )
            losses += [
                pinball_loss(actual, lower, (1 - level / 100) / 2),
                pinball_loss(actual, upper, (1 + level / 100) / 2),
            ]
        scored[h]["pinball"] = float(np.mean(losses))
    within = len(origins) - longest + 1  # origins whose days up to the longest horizon lie in the fold
    adjusted_total = adjusted[:within].sum(axis=1)
    share = np.where(
        adjusted_total > 0,
        paths[:within].sum(axis=1) / np.maximum(adjusted_total, 1e-12),
        factors[days[:within]].mean(axis=1),
    )  # the handler's rule: the adjusted total's interval times the target days' share
    totals = total_coverage(
        calibration,
        paths[:within],
        actual_paths(raw, origins[:within], longest),
        inputs[:within],
        longest,
        widen=share,
    )
    scored[longest].update({f"total_coverage_{level}": value for level, value in totals.items()})
    return forecasts, covered, scored


def _mean_coverage(per_fold: list[dict[str, float]], sizes: list[int]) -> dict[str, float]:
    """Coverage (or any per-day mean) over every fold's target days, folds weighted by their days."""
    total = sum(sizes)
    return {
        level: sum(fold[level] * size for fold, size in zip(per_fold, sizes, strict=True)) / total
        for level in per_fold[0]
    }


def rmse(actual: FloatArray, forecast: FloatArray) -> float:
    """Root mean squared error of `forecast` against `actual` (the order does not matter)."""
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def _optimum_entry(ratio: float | None) -> dict[str, float]:
    """`optimum_to_best` where the file is a generated profile (nothing otherwise)."""
    return {} if ratio is None else {"optimum_to_best": ratio}


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values)), "n": len(values)}


METRIC_COLUMNS = ("rmse", "rmsse", "mae", "smape", "mase", "wape", "bias")
"""The metrics' order in the docs' tables."""


def metric_rows(metrics: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> list[list[str]]:
    """Table rows `method, RMSE, RMSSE, MAE, sMAPE, MASE, WAPE, bias` (the order the docs use)."""
    return [[method, *(_fmt(metrics[method][name]) for name in METRIC_COLUMNS)] for method in methods]


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
