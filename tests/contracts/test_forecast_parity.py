"""Training and the handler compute multi-day forecasts and interval scales the same way: the
handler is standalone (torch only), training uses numpy; these tests hold the two together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handlers.forecast_steps import forecast_paths, prepare_stats
from handlers.forecast_steps import window_scale as handler_scale
from training.forecaster import WindowForecaster, as_forecaster
from training.intervals import SCALES
from training.intervals import window_scale as training_scale
from training.model import CNNLSTM, WeeklyProfileES
from training.multistep import recursive_paths

N, H = 14, 6


def test_recursive_forecasts_agree_for_a_raw_model() -> None:
    rng = np.random.default_rng(7)
    values = rng.gamma(4.0, 60.0, size=80)
    classical = WeeklyProfileES(torch.tensor([0.7, 0.8, 1.0, 1.1, 1.3, 1.4, 0.7]), 0.1, N, 0.8)
    nets = [CNNLSTM(N, conv_channels=4, kernel_size=7, lstm_hidden=8, stride=7) for _ in range(2)]
    module = torch.jit.script(WindowForecaster(nets, classical, 0.5, 250.0, 40.0, non_negative=True).eval())
    origins = np.arange(N, 60, dtype=np.int64)
    trained = recursive_paths(as_forecaster(module), values, origins, N, H)
    rows = [values[o - N : o].tolist() for o in origins]
    stats = prepare_stats({"mean": 0.0, "std": 1.0, "model_input": "raw"})
    served = forecast_paths(module, rows, stats, H).numpy()
    assert served == pytest.approx(trained, rel=1e-5, abs=1e-3)


@pytest.mark.parametrize("method", sorted(SCALES))
def test_window_scales_agree(method: str) -> None:
    rng = np.random.default_rng(3)
    windows = rng.gamma(2.0, 100.0, size=(9, N))
    windows[0] = 250.0  # a flat window: the floor applies
    handler = handler_scale(torch.tensor(windows, dtype=torch.float64), method, 0.5).numpy()
    assert handler == pytest.approx(training_scale(windows, method, 0.5), rel=1e-9)  # type: ignore[arg-type]
