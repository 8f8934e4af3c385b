"""Fit the classical part of a forecaster in closed form: `WeeklyProfileES` from the training days.

The weekly profile is each weekday's share of the centred 7-day moving average (a ratio of sums
over the training days, scaled to mean 1); the anchor is their mean level. The smoothing `alpha`,
how far the profile is pulled toward flat (`shrink`: noisy categories whose weekday pattern is hard
to see) and how far the level is pulled toward the anchor (`anchor_weight`: sparse categories whose
window level is mostly noise) are the triple with the least squared error on the training windows,
scored causally (each window with the anchor and profile of the days before its target). The triple
is kept only when it clearly beats the long-run mean (`MIN_T`); otherwise that mean is the forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
import torch

from training.model import WEEK, WeeklyProfileES, decay_weights
from training.windows import FloatArray, IndexArray, window_inputs

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
) -> WeeklyProfileES:
    """The `WeeklyProfileES` with the least squared error on the windows of `days` that predict the
    days at `target_index` (the training windows; `days` ends at the last of them).

    The served anchor is the mean of all `days`, but each window is scored with the mean of the days
    before its target: the full mean knows every window's future and would win in-sample. The long-run
    mean (shrink 0, anchor weight 1) is chosen unless the best triple clearly beats it.
    `first_day` > 0: `days` before it are the zeros padding a short history (`make_short_windows`);
    the anchor, the profile and the level (`since_first_sale`) come from the days from it on."""
    if not (alphas and shrinks and anchor_weights):
        raise ValueError("fit_weekly_profile_es needs at least one alpha, shrink and anchor weight")
    x = torch.tensor(window_inputs(days, target_index, window_size), dtype=torch.float32)
    y = torch.tensor(days[target_index], dtype=torch.float32)
    since = np.cumsum(days)[target_index - 1] - np.sum(days[:first_day])
    known = torch.tensor(since / (target_index - first_day), dtype=torch.float32)
    blocks = _causal_blocks(days, target_index, first_day)
    since_first_sale = first_day > 0
    decays = torch.stack([decay_weights(alpha, window_size) for alpha in alphas])
    squared: dict[tuple[float, float, float], torch.Tensor] = {}
    for shrink in shrinks:
        errors = torch.zeros(len(alphas), len(anchor_weights), len(y), dtype=torch.float64)
        for rows, profile in blocks:
            module = WeeklyProfileES(
                profile, alphas[0], window_size, shrink, since_first_sale=since_first_sale
            )
            with torch.no_grad():
                phase, window_profile = module.align(x[rows])
                levels = module.smooth(x[rows], window_profile, decays).t()  # [A, B]
                season = module.profile[phase]
            for index, weight in enumerate(anchor_weights):
                anchored = (1.0 - weight) * levels + weight * known[rows]
                errors[:, index, rows] = ((anchored * season - y[rows]) ** 2).double()
        for (a, alpha), (w, weight) in product(enumerate(alphas), enumerate(anchor_weights)):
            squared[(alpha, shrink, weight)] = errors[a, w]
    best = min(squared, key=lambda triple: float(squared[triple].mean()))
    if not _clearly_better(squared[best], (known - y).double() ** 2):
        best = LONG_RUN_MEAN
    alpha, shrink, weight = best
    profile = torch.tensor(weekly_profile(days[first_day:]))
    anchor = float(np.mean(days[first_day:]))
    return WeeklyProfileES(
        profile, alpha, window_size, shrink, anchor, weight, since_first_sale=since_first_sale
    )


def is_long_run_mean(module: WeeklyProfileES) -> bool:
    """Whether `module` forecasts the training days' mean whatever the window (no signal found)."""
    return module.shrink == 0.0 and module.anchor_weight == 1.0


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
