"""The TSB forecast of intermittent demand: its recursion, its TorchScript export, and when the fit
chooses it over the weekly-profile forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.artifacts import MODEL_FILE, version_dir
from core.contracts.manifest import read_manifest
from core.settings import ModelSettings, Settings
from handlers.forecast_steps import load_model
from tests.training.runs import TrainedRun
from training.classical import describe_classical, fit_classical, fit_tsb
from training.export import export_torchscript
from training.forecaster import WindowForecaster, as_forecaster
from training.model import WEEK, TSBForecast, WeeklyProfileES
from training.multistep import recursive_paths

N = 28
FLAT = torch.ones(WEEK)
PROFILE = np.array([0.6, 0.8, 1.0, 1.0, 1.1, 1.3, 1.2])


def numpy_tsb(window: np.ndarray, alpha_p: float, alpha_z: float, share: float, size: float) -> float:
    """Teunter–Syntetos–Babai, one day at a time: p follows every day, z only the days with a sale."""
    p, z = share, size
    for day in window:
        sold = day > 0
        p = p + alpha_p * (float(sold) - p)
        if sold:
            z = z + alpha_z * (day - z)
    return p * z


def intermittent_window(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.binomial(1, 0.4, size=N) * rng.gamma(2.0, 50.0, size=N)


@pytest.mark.parametrize(("alpha_p", "alpha_z"), [(0.1, 0.2), (0.0, 0.3), (0.3, 0.0), (1.0, 1.0)])
def test_the_module_is_the_tsb_recursion(alpha_p: float, alpha_z: float) -> None:
    windows = np.stack([intermittent_window(seed) for seed in range(5)])
    module = TSBForecast(FLAT, alpha_p, alpha_z, N, 0.0, sale_share=0.4, sale_size=100.0)
    expected = [numpy_tsb(window, alpha_p, alpha_z, 0.4, 100.0) for window in windows]
    forecast = module(torch.tensor(windows, dtype=torch.float32))
    assert forecast.numpy() == pytest.approx(expected, rel=1e-5)


def test_a_window_without_a_sale_decays_from_the_training_anchors() -> None:
    module = TSBForecast(FLAT, 0.1, 0.2, N, 0.0, sale_share=0.5, sale_size=80.0)
    # float32 rounding noise where the handler rebuilt a zero from its scaled form
    quiet = torch.full((1, N), 1e-5)
    assert module(quiet).item() == pytest.approx(0.9**N * 0.5 * 80.0, rel=1e-5)
    assert module(quiet).item() > 0.0


def test_the_weekly_profile_multiplies_the_rate_of_the_next_day() -> None:
    """A window shaped like the profile is aligned to it: the next day is position N mod 7."""
    window = torch.tensor(100.0 * PROFILE[np.arange(N) % WEEK], dtype=torch.float32).unsqueeze(0)
    plain = TSBForecast(torch.tensor(PROFILE), 0.1, 0.1, N, 0.0, sale_share=0.9, sale_size=100.0)
    weekly = TSBForecast(torch.tensor(PROFILE), 0.1, 0.1, N, 1.0, sale_share=0.9, sale_size=100.0)
    factor = PROFILE[N % WEEK] / PROFILE.mean()
    assert (weekly(window) / plain(window)).item() == pytest.approx(factor, rel=1e-5)


def test_the_scripted_module_and_forecaster_forecast_as_the_eager_ones(tmp_path: Path) -> None:
    module = TSBForecast(torch.tensor(PROFILE), 0.1, 0.05, N, 0.5, sale_share=0.4, sale_size=100.0)
    torch.jit.save(torch.jit.script(module), tmp_path / "tsb.pt")
    loaded = load_model(tmp_path / "tsb.pt")
    windows = torch.tensor(np.stack([intermittent_window(seed) for seed in range(4)]), dtype=torch.float32)
    assert loaded(windows) == pytest.approx(module(windows))
    assert loaded.alpha_p == 0.1 and loaded.sale_size == 100.0

    forecaster = WindowForecaster([], module, 1.0, 40.0, 60.0, non_negative=True).eval()
    export_torchscript(forecaster, tmp_path / "model.pt")
    scripted = load_model(tmp_path / "model.pt")
    values = np.concatenate([intermittent_window(seed) for seed in range(3)])
    origins = np.array([N, 2 * N])
    eager = recursive_paths(as_forecaster(forecaster, forecaster.normalization()), values, origins, N, 7)
    served = recursive_paths(as_forecaster(scripted, forecaster.normalization()), values, origins, N, 7)
    assert served == pytest.approx(eager, rel=1e-4)
    assert np.all(served > 0)


def intermittent_days(seed: int) -> np.ndarray:
    """Sale days whose rate shifts (0.1 or 0.9 a day, 80-day spells) with heavy, steady sizes: the
    rate is worth following, a sale's size is not (TSB smooths them apart; the weekly-profile level
    cannot). The gain is a few percent of squared error, clear over 2000 days."""
    rng = np.random.default_rng(seed)
    rate = np.repeat(rng.choice([0.1, 0.9], size=25), 80)
    return rng.binomial(1, rate) * rng.gamma(0.3, 100.0 / 0.3, size=len(rate))


def weekly_days(seed: int) -> np.ndarray:
    """A shop closed three days a week (43 % zero days) with a steady weekday pattern."""
    rng = np.random.default_rng(seed)
    pattern = np.array([0.0, 0.0, 0.0, 1.0, 1.3, 1.8, 1.5])
    return 100.0 * pattern[np.arange(600) % WEEK] * rng.gamma(20.0, 1 / 20.0, size=600)


@pytest.fixture
def model(test_settings: Settings) -> ModelSettings:
    return test_settings.model.model_copy(update={"intermittent_zero_share": 0.3})


def test_the_fit_chooses_tsb_on_a_clearly_intermittent_series(model: ModelSettings) -> None:
    days = intermittent_days(0)
    chosen = fit_classical(days, np.arange(N, len(days)), N, model)
    assert isinstance(chosen, TSBForecast)
    assert describe_classical(chosen, 0.5).method == "tsb"
    assert chosen.alpha_p > 0.0
    assert chosen.sale_share == pytest.approx(np.mean(days > 0))
    assert chosen.sale_size == pytest.approx(days[days > 0].mean())


def test_the_fit_keeps_the_weekly_profile_on_a_weekly_series_with_closed_days(model: ModelSettings) -> None:
    days = weekly_days(1)
    assert np.mean(days == 0) >= model.intermittent_zero_share  # so TSB is tried
    chosen = fit_classical(days, np.arange(N, len(days)), N, model)
    assert isinstance(chosen, WeeklyProfileES)
    assert describe_classical(chosen, 0.5).method == "weekly_profile_es"


def test_tsb_is_not_tried_below_the_zero_share(model: ModelSettings) -> None:
    days = intermittent_days(0)
    never = model.model_copy(update={"intermittent_zero_share": 1.0})
    assert isinstance(fit_classical(days, np.arange(N, len(days)), N, never), WeeklyProfileES)


def test_fit_tsb_needs_a_grid() -> None:
    with pytest.raises(ValueError, match="alpha_p"):
        fit_tsb(intermittent_days(0), np.arange(N, 600), N, alphas_p=[], alphas_z=[0.1])


def test_a_trained_version_records_its_classical_part(abc_run: TrainedRun) -> None:
    """The manifest says which classical method the served `model.pt` holds, with its parameters."""
    for category, version in abc_run.versions.items():
        folder = version_dir(abc_run.settings, category, version)
        classical = read_manifest(folder).classical
        served = load_model(folder / MODEL_FILE).classical
        assert classical is not None
        assert classical.method in {"weekly_profile_es", "long_run_mean"}  # weekly series: no TSB
        assert classical.parameters["alpha"] == pytest.approx(served.alpha)
        assert classical.parameters["anchor_weight"] == pytest.approx(served.anchor_weight)
