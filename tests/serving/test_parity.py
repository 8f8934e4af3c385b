"""TorchServe answers equal the trained model.pt + norm_stats.json read independently, every category."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from core.contracts.job_result import CategoryResult
from core.contracts.manifest import FORMAT_VERSION
from core.sales_data import load_daily_sales
from core.settings import Settings
from serving.archive import ArchiveInfo
from serving.torchserve_process import TorchServeProcess
from tests.handlers.reference import reference_next_day

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]


def in_process(artifact_dir: Path, windows: Sequence[Sequence[float]]) -> list[float]:
    """The exported model.pt called directly, normalized as its norm_stats.json documents (format 2:
    the handler, not the model, scales each window)."""
    assert json.loads((artifact_dir / "norm_stats.json").read_text())["format_version"] == FORMAT_VERSION
    return reference_next_day(artifact_dir, windows)


def real_windows(settings: Settings, category: str) -> list[list[float]]:
    """Three windows of the category's actual daily sales: the latest, one a month back, one at the start."""
    series = load_daily_sales(settings.data)[category]
    n = settings.window.size
    values = [float(value) for value in series.to_numpy()]
    return [values[-n:], values[-n - 30 : -30], values[:n]]


def test_predictions_equal_the_in_process_model_for_every_category(
    test_settings: Settings,
    torchserve: TorchServeProcess,
    trained_models: dict[str, CategoryResult],
    model_store_archives: dict[str, ArchiveInfo],
) -> None:
    with httpx.Client(base_url=torchserve.inference_url, timeout=10) as client:
        for category, result in trained_models.items():
            assert result.artifact_dir is not None
            model_name = model_store_archives[category].model_name
            windows = real_windows(test_settings, category)
            expected = in_process(Path(result.artifact_dir), windows)
            for window, want in zip(windows, expected, strict=True):
                answer = client.post(f"/predictions/{model_name}", json={"sales": window}).json()
                # float32 throughout: a batch of one and a batch of many may differ in the last bits
                assert answer["prediction"] == pytest.approx(want, rel=1e-6, abs=1e-4), category
                assert (answer["category"], answer["model_version"]) == (category, result.version)
                assert answer["window_size"] == test_settings.window.size
            batch = client.post(f"/predictions/{model_name}", json={"instances": windows}).json()
            assert batch["predictions"] == pytest.approx(expected, rel=1e-6, abs=1e-4), category
