"""A version's forecasts from `model.pt` + `norm_stats.json` alone (tests/handlers/reference.py: the
documented formula in plain torch and json) equal what the handler serves and what training scored,
and equal what the previous raw-in `model.pt` computed (the scaling inside the model) within float32
rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.contracts.manifest import MANIFEST_FILE, write_manifest
from handlers.forecast_steps import MODEL_FILE, forecast_paths, load_model, load_norm_stats
from tests.handlers.reference import reference_next_day
from tests.handlers.scripted_artifacts import manifest
from training.export import export_torchscript
from training.forecaster import LEVEL_FLOOR, WindowForecaster, as_forecaster
from training.model import CNNLSTM, WeeklyProfileES

N = 14
MEAN, STD = 180.0, 70.0
VERSION = "20250102.030405"


def fitted() -> WindowForecaster:
    """A forecaster shaped like a trained one (seeded weights, no Lightning needed)."""
    torch.manual_seed(17)
    profile = torch.tensor([0.2, 0.9, 1.0, 1.1, 1.3, 1.5, 1.0])
    classical = WeeklyProfileES(profile, 0.15, N, shrink=0.8, anchor=170.0, anchor_weight=0.3)
    nets = [
        CNNLSTM(N, conv_channels=4, kernel_size=7, lstm_hidden=8, lstm_layers=1, dropout=0.0, stride=7)
        for _ in range(3)
    ]
    for net in nets:  # larger weights than the initialisation: forecasts far from the level
        for parameter in net.parameters():
            parameter.data.mul_(4.0)
    return WindowForecaster(nets, classical, 0.4, MEAN, STD, non_negative=True).eval()


def windows() -> np.ndarray:
    rng = np.random.default_rng(23)
    rows = rng.gamma(3.0, 60.0, size=(40, N))
    rows[0] = 0.0  # an empty fortnight: the level floor holds
    rows[1] = rng.gamma(2.0, 2.5, size=N)  # quiet, below the floor
    rows[2, -7:] = 0.0  # a shop closed for a week
    rows[3] = 4000.0  # far above anything in training
    return rows


def previous_raw_model(model: WindowForecaster, x: torch.Tensor) -> torch.Tensor:
    """What the served model computed before the handler owned the scaling: raw float32 window in,
    scaled inside, raw next day out (clamped at 0)."""
    mean = max(MEAN, 1e-9)
    level = torch.clamp(x.mean(dim=1), min=LEVEL_FLOOR * mean)
    unit = level * (STD / mean)
    z = (x - level.unsqueeze(1)) / unit.unsqueeze(1)
    with torch.no_grad():
        networks = torch.stack([net(z) for net in model.nets]).mean(dim=0)
        classical = (model.classical(x) - level) / unit
    blended = model.classical_weight * classical + (1.0 - model.classical_weight) * networks
    return torch.clamp(level + unit * blended, min=0.0)


@pytest.fixture
def version_dir(tmp_path: Path) -> Path:
    model = fitted()
    export_torchscript(model, tmp_path / MODEL_FILE)
    written = manifest("Beauty", VERSION, N, MEAN, STD, kind="window_level")
    write_manifest(tmp_path, written.model_copy(update={"normalization": model.normalization()}))
    return tmp_path


def test_files_alone_give_the_served_and_the_trained_forecasts(version_dir: Path) -> None:
    rows = windows()
    reference = np.asarray(reference_next_day(version_dir, rows.tolist()))
    stats = load_norm_stats(version_dir / MANIFEST_FILE)
    served = forecast_paths(load_model(version_dir / MODEL_FILE), rows.tolist(), stats, 1)[:, 0].numpy()
    model = fitted()
    trained = as_forecaster(model, model.normalization())(rows)
    assert served == pytest.approx(reference, rel=1e-12, abs=1e-9)
    assert trained == pytest.approx(reference, rel=1e-5, abs=1e-3)  # eager vs scripted: float32 rounding
    assert reference.min() >= 0.0
    assert np.ptp(reference) > 100.0  # the test windows give clearly different forecasts


def test_forecasts_equal_the_previous_raw_in_model_within_float32_rounding(version_dir: Path) -> None:
    """Flat windows are left out: every weekday phase fits them equally, so the classical part's
    choice among the tied phases follows float32 rounding noise in either model."""
    rows = windows()
    rows = rows[np.ptp(rows, axis=1) > 0]
    reference = np.asarray(reference_next_day(version_dir, rows.tolist()))
    before = previous_raw_model(fitted(), torch.tensor(rows, dtype=torch.float32)).double().numpy()
    assert reference == pytest.approx(before, rel=1e-4, abs=1e-2)
