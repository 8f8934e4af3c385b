"""The Theta method as a classical part: the module against the theta-line decomposition written out
in numpy, its TorchScript export, and when the fit chooses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.settings import ModelSettings, Settings
from handlers.forecast_steps import load_model
from training.classical import describe_classical, fit_classical, fit_theta
from training.export import export_torchscript
from training.forecaster import WindowForecaster, as_forecaster
from training.model import WEEK, ThetaForecast, WeeklyProfileES
from training.multistep import recursive_paths

N = 28
PROFILE = np.array([0.6, 0.8, 1.0, 1.0, 1.1, 1.3, 1.2])
CLOSED_SUNDAY = np.array([0.0, 0.9, 1.0, 1.1, 1.2, 1.5, 1.3])


def numpy_theta(window: np.ndarray, profile: np.ndarray, alpha: float) -> float:
    """Theta (theta = 2), one day at a time, for a window whose day j has profile index j mod 7: the
    theta = 0 line (least-squares trend of the deseasonalized open days) extrapolated to day N, averaged
    with the theta = 2 line (2 × days - trend) smoothed by SES started from the running mean (gain
    1/w with w = (1 - alpha) w + 1), then reseasonalized."""
    season = profile[np.arange(N) % WEEK]
    open_days = season > 0.05
    t = np.arange(N)[open_days]
    deseasonalized = window[open_days] / season[open_days]
    slope, intercept = np.polyfit(t, deseasonalized, 1)
    theta2 = 2.0 * deseasonalized - (intercept + slope * t)
    level, weight = theta2[0], 1.0
    for value in theta2[1:]:
        weight = (1.0 - alpha) * weight + 1.0
        level += (value - level) / weight
    return float((0.5 * (intercept + slope * N) + 0.5 * level) * profile[N % WEEK])


def trending_window(seed: int, profile: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    trend = 100.0 + rng.uniform(-3.0, 3.0) * t
    days: np.ndarray = trend * profile[t % WEEK] * rng.gamma(400.0, 1 / 400.0, size=N)
    return days


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("profile", [PROFILE, CLOSED_SUNDAY], ids=["weekly", "closed-day"])
def test_the_module_is_the_theta_decomposition(alpha: float, profile: np.ndarray) -> None:
    windows = np.stack([trending_window(seed, profile) for seed in range(6)])
    module = ThetaForecast(torch.tensor(profile), alpha, N, 1.0)
    expected = [numpy_theta(window, profile, alpha) for window in windows]
    assert module(torch.tensor(windows, dtype=torch.float32)).numpy() == pytest.approx(expected, rel=1e-4)


def test_its_drift_is_hyndman_and_billahs_for_ses_from_the_first_day() -> None:
    """With the weights of SES started at the first day, D is 1/alpha - (1 - alpha)^N / alpha."""
    alpha = 0.2
    module = ThetaForecast(torch.ones(WEEK), alpha, N, 0.0)
    ses = alpha * (1.0 - alpha) ** (N - 1 - torch.arange(N).double())
    ses[0] = (1.0 - alpha) ** (N - 1)
    _, drift = module.smooth(torch.zeros(1, N), torch.ones(1, N), ses.float().unsqueeze(0))
    assert drift.item() == pytest.approx(1 / alpha - (1 - alpha) ** N / alpha, rel=1e-5)


def test_a_straight_line_is_continued_by_half_its_slope_beyond_the_smoothed_level() -> None:
    line = torch.tensor(50.0 + 2.0 * np.arange(N), dtype=torch.float32).unsqueeze(0)
    module = ThetaForecast(torch.ones(WEEK), 0.0, N, 0.0)
    # alpha 0: the level is the window's mean (at day (N - 1) / 2), the drift (N + 1) / 2 days
    assert module(line).item() == pytest.approx(50.0 + 2.0 * (N - 1) / 2 + 2.0 / 2 * (N + 1) / 2)


def test_the_scripted_module_and_forecaster_forecast_as_the_eager_ones(tmp_path: Path) -> None:
    module = ThetaForecast(torch.tensor(PROFILE), 0.1, N, 0.5)
    torch.jit.save(torch.jit.script(module), tmp_path / "theta.pt")
    loaded = load_model(tmp_path / "theta.pt")
    windows = torch.tensor(
        np.stack([trending_window(seed, PROFILE) for seed in range(4)]), dtype=torch.float32
    )
    assert loaded(windows) == pytest.approx(module(windows))
    assert loaded.alpha == 0.1 and loaded.shrink == 0.5

    forecaster = WindowForecaster([], module, 1.0, 150.0, 40.0, non_negative=True).eval()
    export_torchscript(forecaster, tmp_path / "model.pt")
    scripted = load_model(tmp_path / "model.pt")
    values = np.concatenate([trending_window(seed, PROFILE) for seed in range(3)])
    origins = np.array([N, 2 * N])
    eager = recursive_paths(as_forecaster(forecaster, forecaster.normalization()), values, origins, N, 7)
    served = recursive_paths(as_forecaster(scripted, forecaster.normalization()), values, origins, N, 7)
    assert served == pytest.approx(eager, rel=1e-4)


def trending_days(seed: int) -> np.ndarray:
    """A weekly pattern on a steady upward trend with small noise: the window's slope is worth following."""
    rng = np.random.default_rng(seed)
    t = np.arange(600)
    days: np.ndarray = (100.0 + 0.5 * t) * PROFILE[t % WEEK] + rng.normal(0.0, 5.0, size=len(t))
    return days


def flat_days(seed: int) -> np.ndarray:
    """Noise around a constant level: any slope a window shows is noise."""
    return 100.0 * np.random.default_rng(seed).gamma(5.0, 1 / 5.0, size=600)


@pytest.fixture
def model(test_settings: Settings) -> ModelSettings:
    return test_settings.model.model_copy(update={"theta": True})


def test_the_fit_chooses_theta_on_a_clearly_trending_weekly_series(model: ModelSettings) -> None:
    days = trending_days(0)
    chosen = fit_classical(days, np.arange(N, len(days)), N, model)
    assert isinstance(chosen, ThetaForecast)
    part = describe_classical(chosen, 0.5)
    assert part.method == "theta"
    assert part.parameters == {"alpha": chosen.alpha, "shrink": chosen.shrink}
    assert chosen.shrink > 0.0  # the weekly pattern is kept


def test_the_fit_keeps_the_weekly_profile_on_a_flat_noisy_series(model: ModelSettings) -> None:
    days = flat_days(1)
    chosen = fit_classical(days, np.arange(N, len(days)), N, model)
    assert isinstance(chosen, WeeklyProfileES)


def test_theta_is_not_tried_when_switched_off(model: ModelSettings) -> None:
    days = trending_days(0)
    off = model.model_copy(update={"theta": False})
    assert isinstance(fit_classical(days, np.arange(N, len(days)), N, off), WeeklyProfileES)


def test_fit_theta_needs_a_grid() -> None:
    with pytest.raises(ValueError, match="alpha"):
        fit_theta(trending_days(0), np.arange(N, 600), N, alphas=[])
