"""Training and the handler compute multi-day forecasts, scaled windows and interval scales the same
way: the handler is standalone (torch only), training uses numpy; these tests hold the two together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.contracts.manifest import LEVEL_SHARE_RANGE
from handlers.forecast_steps import LEVEL_SHARE_RANGE as HANDLER_SHARE_RANGE
from handlers.forecast_steps import forecast_paths, normalize, prepare_stats
from handlers.forecast_steps import level_share as handler_level_share
from handlers.forecast_steps import window_scale as handler_scale
from training.forecaster import WindowForecaster, as_forecaster, scale_windows
from training.intervals import SCALES
from training.intervals import level_share as training_level_share
from training.intervals import window_scale as training_scale
from training.model import CNNLSTM, WeeklyProfileES
from training.multistep import recursive_paths

N, H = 14, 6
MEAN, STD = 250.0, 40.0


def tiny_forecaster() -> WindowForecaster:
    torch.manual_seed(5)
    classical = WeeklyProfileES(torch.tensor([0.7, 0.8, 1.0, 1.1, 1.3, 1.4, 0.7]), 0.1, N, 0.8)
    nets = [
        CNNLSTM(N, conv_channels=4, kernel_size=7, lstm_hidden=8, lstm_layers=1, dropout=0.0, stride=7)
        for _ in range(2)
    ]
    return WindowForecaster(nets, classical, 0.5, MEAN, STD, non_negative=True).eval()


def test_recursive_forecasts_agree_for_a_normalized_model() -> None:
    rng = np.random.default_rng(7)
    values = rng.gamma(4.0, 60.0, size=80)
    eager = tiny_forecaster()
    module = torch.jit.script(eager)
    origins = np.arange(N, 60, dtype=np.int64)
    trained = recursive_paths(as_forecaster(module, eager.normalization()), values, origins, N, H)
    rows = [values[o - N : o].tolist() for o in origins]
    stats = prepare_stats(
        {
            "format_version": 2,
            "model_input": "normalized",
            "normalization": eager.normalization().model_dump(),
        }
    )
    served = forecast_paths(module, rows, stats, H).numpy()
    assert served == pytest.approx(trained, rel=1e-9, abs=1e-9)


def test_the_networks_learn_from_windows_scaled_as_the_handler_scales_a_request() -> None:
    rng = np.random.default_rng(11)
    windows = rng.gamma(2.0, 100.0, size=(12, N))
    windows[0] = 0.0  # below the level floor
    targets = rng.gamma(2.0, 100.0, size=12)
    scaled, scaled_targets = scale_windows(windows, targets, MEAN, STD)
    z, level, unit = normalize(torch.tensor(windows), tiny_forecaster().normalization().model_dump())
    assert z.numpy() == pytest.approx(scaled.astype(np.float32), rel=1e-6, abs=1e-6)
    assert (targets - level.numpy()) / unit.numpy() == pytest.approx(scaled_targets, rel=1e-12)


@pytest.mark.parametrize("method", sorted(SCALES))
def test_window_scales_agree(method: str) -> None:
    rng = np.random.default_rng(3)
    windows = rng.gamma(2.0, 100.0, size=(9, N))
    windows[0] = 250.0  # a flat window: the floor applies
    handler = handler_scale(torch.tensor(windows, dtype=torch.float64), method, 0.5).numpy()
    assert handler == pytest.approx(training_scale(windows, method, 0.5), rel=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0])
def test_level_shares_agree(exponent: float) -> None:
    rng = np.random.default_rng(4)
    windows = rng.gamma(2.0, 100.0, size=(9, N))
    windows[0] = 0.0  # sold nothing: no level to compare with
    paths = rng.gamma(2.0, 100.0, size=(9, H))
    paths[1, 0] = 1e6  # far above the window: clipped
    handler = handler_level_share(torch.tensor(paths), torch.tensor(windows), exponent).numpy()
    assert handler == pytest.approx(training_level_share(paths, windows, exponent), rel=1e-12)


def test_the_level_share_range_is_the_contracts() -> None:
    assert HANDLER_SHARE_RANGE == LEVEL_SHARE_RANGE
