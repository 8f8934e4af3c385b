"""`salescast bench scale` end to end at tiny sizes (real training, TorchServe, gateway, UI and
Chromium), and the pieces it reads numbers with."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from salescast.bench.scale_measure import Latency, private_bytes, torchserve_memory
from salescast.bench.scale_report import ScaleReport, SizeResult, TrainingCost, scale_markdown
from salescast.bench.scale_serving import unloaded
from salescast.bench.scale_ui import PAGE_LOADS, chromium_path
from salescast.cli.main import main
from tests.conftest import make_test_settings

SIZES = (2,)  # one size end to end; the report of several is tested on its own (two columns)


def test_latency_percentiles_are_ordered_and_empty_is_none() -> None:
    latency = Latency.of([0.001 * n for n in range(1, 101)])
    assert latency is not None
    assert latency.count == 100
    assert latency.p50_ms == pytest.approx(50.5)
    assert latency.p50_ms <= latency.p99_ms <= latency.max_ms == pytest.approx(100.0)
    assert Latency.of([]) is None


def test_private_memory_of_this_process_and_of_a_gone_one() -> None:
    assert private_bytes(os.getpid()) > 10 * 2**20  # this interpreter holds pytest, numpy, psutil
    assert private_bytes(2**22 + 7) == 0  # above the kernel's pid limit: no such process
    assert torchserve_memory([]).torchserve_mb == 0


def test_unloaded_categories_are_those_the_gateway_says_are_not_loaded() -> None:
    models: list[dict[str, Any]] = [
        {"category": "Loaded", "loaded": True},
        {"category": "Archived", "loaded": False},
        {"category": "Older gateway"},
    ]
    assert unloaded(models) == {"Archived", "Older gateway"}


def one_size_report(size: SizeResult) -> ScaleReport:
    """A report of a tiny model (conv 8, LSTM 16, one member, 3 epochs) with `size` alone."""
    report = ScaleReport(
        {"conv_channels": 8, "kernel_size": 7, "lstm_hidden": 16, "lstm_layers": 1, "members": 1}, 3
    )
    report.sizes.append(size)
    return report


def test_a_size_whose_serving_failed_keeps_its_training_numbers() -> None:
    """300 categories do not fit in memory today: the table still shows what training cost."""
    training = TrainingCost(wall_s=900.0, cpu_s=1500.0, peak_rss_mb=2048.0, training_s=800.0, trained=27)
    training.failed["Launched 028"] = "InsufficientHistoryError: 20 days"
    size = SizeResult(
        30, {"weekly": 18}, 1000, training, serving=None, serving_error="ScaleServingError: OOM"
    )
    report = one_size_report(size)
    markdown = scale_markdown(report)
    assert "| `train --all` wall s per category | 30.0 |" in markdown
    assert "| TorchServe private MB (frontend + workers) | failed |" in markdown
    assert "serving failed: ScaleServingError: OOM" in markdown
    assert "Not trained: 1 (Launched 028: InsufficientHistoryError" in markdown
    assert report.to_dict()["sizes"][0]["serving"] is None


def test_a_training_only_size_says_serving_was_not_measured() -> None:
    """`--training-only` (the 20-minute budget for 300 categories) is not a serving failure."""
    training = TrainingCost(wall_s=1200.0, cpu_s=1900.0, peak_rss_mb=2900.0, training_s=1100.0, trained=300)
    size = SizeResult(300, {"weekly": 180}, 1000, training, serving=None, serving_measured=False)
    report = one_size_report(size)
    markdown = scale_markdown(report)
    assert "| `train --all` wall s (total) | 1200 |" in markdown
    assert "| TorchServe private MB (frontend + workers) | not measured |" in markdown
    assert "serving not measured (`--training-only`)" in markdown and "serving failed" not in markdown
    assert "| failed |" not in markdown
    assert report.to_dict()["sizes"][0]["serving_measured"] is False


def test_a_report_of_several_sizes_has_a_column_each_in_their_order() -> None:
    def training_only(count: int, wall_s: float) -> SizeResult:
        training = TrainingCost(
            wall_s=wall_s, cpu_s=wall_s, peak_rss_mb=900.0, training_s=wall_s, trained=count
        )
        return SizeResult(count, {"weekly": count}, 100 * count, training, None, serving_measured=False)

    report = one_size_report(training_only(3, 30.0))
    report.sizes.append(training_only(30, 450.0))
    markdown = scale_markdown(report)
    assert "| measurement | 3 categories | 30 categories |" in markdown
    assert "| `train --all` wall s per category | 10.0 | 15.0 |" in markdown
    assert [size["categories"] for size in report.to_dict()["sizes"]] == [3, 30]


@pytest.mark.slow
@pytest.mark.torchserve
@pytest.mark.timeout(2400)
def test_scale_bench_end_to_end_at_two_categories(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    settings = make_test_settings(tmp_path / "settings")
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "out"
    sizes = ",".join(map(str, SIZES))

    assert main(["--config", str(config), "bench", "scale", "--categories", sizes, "--out", str(out)]) == 0

    report = json.loads((out / "scale.json").read_text(encoding="utf-8"))
    assert [size["categories"] for size in report["sizes"]] == list(SIZES)
    for size in report["sizes"]:
        count = size["categories"]
        assert sum(size["kinds"].values()) == count
        assert size["data_rows"] > 0
        training = size["training"]
        assert training["trained"] == count and training["failed"] == {}
        assert training["wall_s_per_category"] > 0 and training["cpu_s_per_category"] > 0
        assert training["peak_rss_mb"] > 0
        assert size["serving_error"] is None
        serving = size["serving"]
        assert serving["ready_s"] > 0
        for memory in (serving["memory_at_ready"], serving["memory"]):
            assert memory["frontend_mb"] > 0 and memory["workers_mb"] > 0
            assert memory["workers"] == count  # one worker per model (archive.workers)
            assert memory["torchserve_mb"] == pytest.approx(memory["frontend_mb"] + memory["workers_mb"])
        predictions = serving["predictions"]
        assert predictions["answered"] == predictions["asked"] == count, predictions["errors"]
        assert predictions["errors"] == {}
        assert predictions["hot_category"].startswith("Weekly")
        assert predictions["cold_mode"] == "first_request_after_registration"  # everything loads at start
        assert predictions["cold"]["count"] == count - 1  # every category but the hot one
        assert predictions["hot_during_loads"]["count"] > 0
        assert serving["hot_during_training"]["count"] > 0 and serving["training_job_s"] > 0
        for latency in (predictions["hot"], predictions["cold"], serving["api_models"]):
            assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert serving["api_models_first_s"] > 0
        page_load = serving["page_load"]
        if chromium_path() is None:
            assert "Chromium" in page_load["unavailable"] and page_load["seconds"] == []
        else:
            assert page_load["unavailable"] is None
            assert len(page_load["seconds"]) == PAGE_LOADS and page_load["median_s"] > 0
    markdown = (out / "scale.md").read_text(encoding="utf-8")
    assert "| measurement | 2 categories |" in markdown
    assert "TorchServe private MB" in markdown
