"""Fit the classical part of a forecaster in closed form: `WeeklyProfileES` from the training days.

The weekly profile is each weekday's share of the centred 7-day moving average (a ratio of sums
over the training days, scaled to mean 1); the anchor is their mean level. The smoothing `alpha`,
how far the profile is pulled toward flat (`shrink`: noisy categories whose weekday pattern is hard
to see) and how far the level is pulled toward the anchor (`anchor_weight`: sparse categories whose
window level is mostly noise) are the triple with the least squared error on the training windows,
scored causally (each window with the anchor and profile of the days before its target). The triple
is kept only when it clearly beats the long-run mean (`MIN_T`); otherwise that mean is the forecast.

Given the weekday of the first day (`first_weekday`), each window is scored with its target's weekday
(`training.model.next_phase`), as it is served when a request sends its date.

On intermittent days (`model.intermittent_zero_share` of them without a sale) `TSBForecast`
(probability of a sale × its size) is fitted the same way and chosen only when it clearly beats
what the weekly-profile fit chose, on the same windows. With `model.theta` the Theta method
(`ThetaForecast`: smoothing with half the window's trend as drift) is fitted too and replaces that
choice on the same kind of clear win.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import product

import numpy as np
import torch

from core.contracts.manifest import ClassicalPart
from core.settings import ModelSettings
from training.model import (
    WEEK,
    WEEKDAY_UNKNOWN,
    ThetaForecast,
    TSBForecast,
    WeeklyProfileES,
    decay_weights,
    next_phase,
)
from training.windows import FloatArray, IndexArray, window_inputs

logger = logging.getLogger(__name__)

ClassicalForecast = WeeklyProfileES | TSBForecast | ThetaForecast
"""The classical part of a forecaster: what `WindowForecaster` blends with its networks."""

PROFILE_BLOCK = 28
"""Target days scored with one weekly profile, estimated from the days before them."""
MIN_T = 2.0
"""How clearly (paired t over the training windows) the chosen triple must beat the long-run mean."""
LONG_RUN_MEAN = (0.0, 0.0, 1.0)
"""(alpha, shrink, anchor weight) of the long-run mean: a flat profile, fully anchored."""


def weekly_profile(days: FloatArray) -> FloatArray:
    """Mean-1 weekday profile of `days` (index = position modulo 7), flat when there is no signal."""
    average = np.convolve(days, np.ones(WEEK) / WEEK, mode="same")
    weekday = np.arange(len(days)) % WEEK
    inner = slice(WEEK // 2, len(days) - WEEK // 2)  # the centred average is complete there
    profile = np.array(
        [
            days[inner][weekday[inner] == index].sum()
            / max(average[inner][weekday[inner] == index].sum(), 1e-9)
            for index in range(WEEK)
        ]
    )
    return profile / profile.mean() if profile.mean() > 0 else np.ones(WEEK)


def fit_weekly_profile_es(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float],
    anchor_weights: Sequence[float] = (0.0,),
    first_day: int = 0,
    anchor_days: int = 0,
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> WeeklyProfileES:
    """The `WeeklyProfileES` with the least squared error on the windows of `days` that predict the
    days at `target_index` (the training windows; `days` ends at the last of them).

    The served anchor is the mean of the last `anchor_days` of `days` (0: all of them), but each
    window is scored with the mean of as many days before its target: the full mean knows every
    window's future and would win in-sample. A level that moved years ago (a store's level shifts)
    would hold a long-run anchor below or above today's sales. The long-run
    mean (shrink 0, anchor weight 1) is chosen unless the best triple clearly beats it.
    `first_day` > 0: `days` before it are the zeros padding a short history (`make_short_windows`);
    the anchor, the profile and the level (`since_first_sale`) come from the days from it on;
    `first_weekday` is the weekday of `days[first_day]` (unknown: every window's phase is read from it)."""
    module, _ = _fit_weekly(
        days,
        target_index,
        window_size,
        alphas=alphas,
        shrinks=shrinks,
        anchor_weights=anchor_weights,
        first_day=first_day,
        anchor_days=anchor_days,
        first_weekday=first_weekday,
    )
    return module


def fit_classical(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    model: ModelSettings,
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> ClassicalForecast:
    """The classical part of a full forecaster: the weekly-profile fit (or the long-run mean it falls
    back to), or, on intermittent training days (at least `model.intermittent_zero_share` of them
    without a sale), the TSB fit when it clearly beats that choice (`MIN_T`, paired over the same
    causally scored windows: it must win on windows it did not see the anchors of); then, with
    `model.theta`, the Theta fit when it clearly beats what was chosen so far, the same way.
    `first_weekday`: the weekday of `days[0]`, when the dates are known."""
    weekly, weekly_squared = _fit_weekly(
        days,
        target_index,
        window_size,
        alphas=model.profile_alphas,
        shrinks=model.profile_shrinks,
        anchor_weights=model.profile_anchor_weights,
        first_day=0,
        anchor_days=model.profile_anchor_days,
        first_weekday=first_weekday,
    )
    chosen: ClassicalForecast = weekly
    chosen_squared = weekly_squared
    if float(np.mean(days == 0)) >= model.intermittent_zero_share:
        tsb, tsb_squared = _fit_tsb(
            days,
            target_index,
            window_size,
            alphas_p=model.intermittent_alphas_p,
            alphas_z=model.intermittent_alphas_z,
            shrinks=model.profile_shrinks,
            first_weekday=first_weekday,
        )
        if _clearly_better(tsb_squared, weekly_squared):
            chosen, chosen_squared = tsb, tsb_squared
    if model.theta:
        theta, theta_squared = _fit_theta(
            days,
            target_index,
            window_size,
            alphas=model.theta_alphas,
            shrinks=model.profile_shrinks,
            first_weekday=first_weekday,
        )
        if _clearly_better(theta_squared, chosen_squared):
            chosen = theta
    logger.debug("classical part: %s", type(chosen).__name__)
    return chosen


def fit_theta(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float] = (1.0,),
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> ThetaForecast:
    """The `ThetaForecast` with the least squared error on the windows of `days` that predict the days
    at `target_index`, each window deseasonalized with the weekly profile of the days before its block
    (the served profile is that of all `days`)."""
    module, _ = _fit_theta(
        days, target_index, window_size, alphas=alphas, shrinks=shrinks, first_weekday=first_weekday
    )
    return module


def fit_tsb(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas_p: Sequence[float],
    alphas_z: Sequence[float],
    shrinks: Sequence[float] = (0.0,),
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> TSBForecast:
    """The `TSBForecast` with the least squared error on the windows of `days` that predict the days
    at `target_index`, each window scored from the sale share and size of the days before its target
    (the served ones are those of all `days`) and with the weekly profile of the days before its block."""
    module, _ = _fit_tsb(
        days,
        target_index,
        window_size,
        alphas_p=alphas_p,
        alphas_z=alphas_z,
        shrinks=shrinks,
        first_weekday=first_weekday,
    )
    return module


def _fit_weekly(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float],
    anchor_weights: Sequence[float],
    first_day: int,
    anchor_days: int = 0,
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> tuple[WeeklyProfileES, torch.Tensor]:
    """`fit_weekly_profile_es` and the squared errors `[windows]` of its choice on the windows."""
    if not (alphas and shrinks and anchor_weights):
        raise ValueError("fit_weekly_profile_es needs at least one alpha, shrink and anchor weight")
    x = torch.tensor(window_inputs(days, target_index, window_size), dtype=torch.float32)
    y = torch.tensor(days[target_index], dtype=torch.float32)
    known = torch.tensor(_anchors(days, target_index, first_day, anchor_days), dtype=torch.float32)
    blocks = _causal_blocks(days, target_index, first_day)
    since_first_sale = first_day > 0
    weekdays = _target_weekdays(target_index, first_day, first_weekday)
    decays = torch.stack([decay_weights(alpha, window_size) for alpha in alphas])
    squared: dict[tuple[float, float, float], torch.Tensor] = {}
    for shrink in shrinks:
        errors = torch.zeros(len(alphas), len(anchor_weights), len(y), dtype=torch.float64)
        for rows, profile in blocks:
            module = WeeklyProfileES(
                profile,
                alphas[0],
                window_size,
                shrink,
                since_first_sale=since_first_sale,
                first_weekday=first_weekday,
            )
            with torch.no_grad():
                phase, window_profile = module.align(x[rows], _rows(weekdays, rows))
                levels = module.smooth(x[rows], window_profile, decays).t()  # [A, B]
                season = module.profile[phase]
            for index, weight in enumerate(anchor_weights):
                anchored = (1.0 - weight) * levels + weight * known[rows]
                errors[:, index, rows] = ((anchored * season - y[rows]) ** 2).double()
        for (a, alpha), (w, weight) in product(enumerate(alphas), enumerate(anchor_weights)):
            squared[(alpha, shrink, weight)] = errors[a, w]
    long_run = (known - y).double() ** 2
    best = min(squared, key=lambda triple: float(squared[triple].mean()))
    if not _clearly_better(squared[best], long_run):
        best = LONG_RUN_MEAN
    alpha, shrink, weight = best
    profile = torch.tensor(weekly_profile(days[first_day:]))
    anchor = float(_anchors(days, np.array([len(days)]), first_day, anchor_days)[0])
    module = WeeklyProfileES(
        profile,
        alpha,
        window_size,
        shrink,
        anchor,
        weight,
        since_first_sale=since_first_sale,
        first_weekday=first_weekday,
    )
    return module, long_run if best == LONG_RUN_MEAN else squared[best]


def _target_weekdays(target_index: IndexArray, first_day: int, first_weekday: int) -> torch.Tensor | None:
    """`[windows]` the weekday of each target day, from that of `days[first_day]`; None when unknown."""
    if first_weekday == WEEKDAY_UNKNOWN:
        return None
    return torch.tensor((first_weekday + target_index - first_day) % WEEK, dtype=torch.int64)


def _rows(weekdays: torch.Tensor | None, rows: IndexArray) -> torch.Tensor | None:
    return None if weekdays is None else weekdays[rows]


def _anchors(days: FloatArray, target_index: IndexArray, first_day: int, anchor_days: int) -> FloatArray:
    """Per target, the mean of the `anchor_days` days before it (0: all), none before `first_day`."""
    total = np.concatenate([[0.0], np.cumsum(days)])
    start = np.full(len(target_index), first_day)
    if anchor_days > 0:
        start = np.maximum(start, target_index - anchor_days)
    return np.asarray((total[target_index] - total[start]) / (target_index - start), dtype=np.float64)


def _fit_tsb(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas_p: Sequence[float],
    alphas_z: Sequence[float],
    shrinks: Sequence[float],
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> tuple[TSBForecast, torch.Tensor]:
    """`fit_tsb` and the squared errors `[windows]` of its choice on the windows."""
    if not (alphas_p and alphas_z and shrinks):
        raise ValueError("fit_tsb needs at least one alpha_p, alpha_z and shrink")
    x = torch.tensor(window_inputs(days, target_index, window_size), dtype=torch.float32)
    y = torch.tensor(days[target_index], dtype=torch.float64)
    sale_day = days > 0
    sales_before = np.cumsum(sale_day)[target_index - 1]
    share = torch.tensor(sales_before / target_index, dtype=torch.float32)
    amount_before = np.cumsum(np.where(sale_day, days, 0.0))[target_index - 1]
    size = torch.tensor(amount_before / np.maximum(sales_before, 1), dtype=torch.float32)
    weekdays = _target_weekdays(target_index, 0, first_weekday)
    errors = torch.zeros(len(alphas_p), len(alphas_z), len(shrinks), len(y), dtype=torch.float64)
    for rows, profile in _causal_blocks(days, target_index):
        with torch.no_grad():
            sold = (x[rows] > 0).float()
            p = torch.stack(
                [_tsb(profile, alpha, 0.0, window_size).occurrence(sold, share[rows]) for alpha in alphas_p]
            )
            z = torch.stack(
                [_tsb(profile, 0.0, alpha, window_size).size(x[rows], sold, size[rows]) for alpha in alphas_z]
            )
            seasons = []
            for shrink in shrinks:
                module = _tsb(profile, 0.0, 0.0, window_size, shrink)
                phase = next_phase(x[rows], module.centered, _rows(weekdays, rows), first_weekday)
                seasons.append(module.profile[phase])
            season = torch.stack(seasons)
        forecast = p[:, None, None] * z[None, :, None] * season[None, None]  # [P, Z, S, B]
        errors[..., rows] = (forecast.double() - y[rows]) ** 2
    squared = {
        (alpha_p, alpha_z, shrink): errors[a, b, c]
        for (a, alpha_p), (b, alpha_z), (c, shrink) in product(
            enumerate(alphas_p), enumerate(alphas_z), enumerate(shrinks)
        )
    }
    best = min(squared, key=lambda triple: float(squared[triple].mean()))
    alpha_p, alpha_z, shrink = best
    sale_days = days[sale_day]
    module = TSBForecast(
        torch.tensor(weekly_profile(days)),
        alpha_p,
        alpha_z,
        window_size,
        shrink,
        float(np.mean(sale_day)),
        float(sale_days.mean()) if len(sale_days) else 0.0,
        first_weekday,
    )
    return module, squared[best]


def _fit_theta(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float],
    first_weekday: int = WEEKDAY_UNKNOWN,
) -> tuple[ThetaForecast, torch.Tensor]:
    """`fit_theta` and the squared errors `[windows]` of its choice on the windows."""
    if not (alphas and shrinks):
        raise ValueError("fit_theta needs at least one alpha and shrink")
    x = torch.tensor(window_inputs(days, target_index, window_size), dtype=torch.float32)
    y = torch.tensor(days[target_index], dtype=torch.float64)
    decays = torch.stack([decay_weights(alpha, window_size) for alpha in alphas])
    weekdays = _target_weekdays(target_index, 0, first_weekday)
    errors = torch.zeros(len(alphas), len(shrinks), len(y), dtype=torch.float64)
    for rows, profile in _causal_blocks(days, target_index):
        for index, shrink in enumerate(shrinks):
            module = ThetaForecast(profile, alphas[0], window_size, shrink, first_weekday)
            with torch.no_grad():
                phase, deseasonalized, open_days = module.deseasonalize(x[rows], _rows(weekdays, rows))
                level, drift = module.smooth(deseasonalized, open_days, decays)  # [B, A]
                trend = 0.5 * module.slope(deseasonalized, open_days)
                forecast = (level + trend.unsqueeze(1) * drift) * module.profile[phase].unsqueeze(1)
            errors[:, index, rows] = (forecast.t().double() - y[rows]) ** 2
    squared = {
        (alpha, shrink): errors[a, s]
        for (a, alpha), (s, shrink) in product(enumerate(alphas), enumerate(shrinks))
    }
    alpha, shrink = min(squared, key=lambda pair: float(squared[pair].mean()))
    module = ThetaForecast(torch.tensor(weekly_profile(days)), alpha, window_size, shrink, first_weekday)
    return module, squared[(alpha, shrink)]


def _tsb(
    profile: torch.Tensor, alpha_p: float, alpha_z: float, window_size: int, shrink: float = 0.0
) -> TSBForecast:
    """A `TSBForecast` whose anchors the fit passes per window (a sale is any day above 0)."""
    return TSBForecast(profile, alpha_p, alpha_z, window_size, shrink, 0.0, 0.0)


def is_long_run_mean(module: ClassicalForecast) -> bool:
    """Whether `module` forecasts the training days' mean whatever the window (no signal found)."""
    return isinstance(module, WeeklyProfileES) and module.shrink == 0.0 and module.anchor_weight == 1.0


def describe_classical(module: ClassicalForecast, weight: float) -> ClassicalPart:
    """What the manifest says about a version's classical part: its method, fitted parameters and
    `weight` in the blend."""
    if isinstance(module, ThetaForecast):
        return ClassicalPart(
            method="theta", weight=weight, parameters={"alpha": module.alpha, "shrink": module.shrink}
        )
    if isinstance(module, TSBForecast):
        return ClassicalPart(
            method="tsb",
            weight=weight,
            parameters={
                "alpha_p": module.alpha_p,
                "alpha_z": module.alpha_z,
                "shrink": module.shrink,
                "sale_share": module.sale_share,
                "sale_size": module.sale_size,
            },
        )
    return ClassicalPart(
        method="long_run_mean" if is_long_run_mean(module) else "weekly_profile_es",
        weight=weight,
        parameters={
            "alpha": module.alpha,
            "shrink": module.shrink,
            "anchor": module.anchor,
            "anchor_weight": module.anchor_weight,
        },
    )


def _clearly_better(squared: torch.Tensor, baseline: torch.Tensor) -> bool:
    """Whether errors `squared` beat `baseline`'s on the same windows by a paired t of at least
    `MIN_T`: a smaller mean alone is not enough when the series is mostly noise."""
    gain = baseline - squared
    spread = float(gain.std()) / len(gain) ** 0.5 if len(gain) > 1 else 0.0
    return float(gain.mean()) > MIN_T * spread


def _causal_blocks(
    days: FloatArray, target_index: IndexArray, first_day: int = 0
) -> list[tuple[IndexArray, torch.Tensor]]:
    """The windows in blocks of `PROFILE_BLOCK` target days, each with the weekly profile of the
    days (from `first_day`) before the block: scored with the profile of every training day, a window
    would be forecast with a pattern that knows its own target, and a noisy profile would win
    in-sample."""
    first = int(target_index[0])
    block = (target_index - first) // PROFILE_BLOCK
    return [
        (rows, torch.tensor(weekly_profile(days[first_day : first + number * PROFILE_BLOCK])))
        for number in np.unique(block)
        for rows in [np.flatnonzero(block == number)]
    ]
