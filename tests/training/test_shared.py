"""The networks that learn across categories are trained once per run, not once per category."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from core.artifacts import MODEL_FILE
from core.contracts.job_result import CategoryResult
from core.contracts.manifest import read_manifest
from core.settings import Settings
from handlers.forecast_steps import load_model
from tests.conftest import make_test_settings
from tests.fixtures.training import SAMPLE_CATEGORIES
from tests.training.synthetic import write_transactions
from training import fitting, shared
from training.pipeline import train_categories
from training.shared import WEIGHTS_FILE
from training.windows import CategoryWindows

pytestmark = pytest.mark.slow


def test_a_run_trains_the_networks_once_per_fit_kind_and_no_category_trains_its_own(
    tmp_path: Path, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = test_settings.mlflow
    settings = make_test_settings(
        tmp_path, mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location}
    )
    data = write_transactions(tmp_path / "sales.csv", {"A": 150, "B": 150, "C": 150, "Short": 12})
    shared_calls: list[list[str]] = []
    own_calls: list[str] = []
    real = fitting.train_networks

    def counted_shared(windows: Sequence[CategoryWindows], *args: Any, **kwargs: Any) -> Any:
        shared_calls.append([w.category for w in windows])
        return real(windows, *args, **kwargs)

    def counted_own(windows: Sequence[CategoryWindows], *args: Any, **kwargs: Any) -> Any:
        own_calls.append(windows[0].category)
        return real(windows, *args, **kwargs)

    monkeypatch.setattr(shared, "train_networks", counted_shared)
    monkeypatch.setattr(fitting, "train_networks", counted_own)
    results = train_categories(["A", "B", "C"], "shared-once", settings, data_path=data)
    assert [r.status for r in results] == ["succeeded"] * 3, [r.error for r in results]
    # evaluation, then served: each on every category long enough for windows (Short is left out)
    assert shared_calls == [["A", "B", "C"], ["A", "B", "C"]]
    assert own_calls == []
    # every version records the one set it froze, whose weights are saved where it says
    record, *others = [read_manifest(Path(str(r.artifact_dir))).shared_network for r in results]
    assert all(other == record for other in others)
    assert record is not None and record.categories == ["A", "B", "C"]
    weights = torch.load(settings.paths.artifacts / record.weights / WEIGHTS_FILE, weights_only=True)
    assert len(weights["evaluation"]) == len(weights["served"]) == settings.model.members
    # every category replays the shared fits' epochs as its own
    assert len({r.epochs for r in results}) == 1


def test_categories_of_one_run_share_the_frozen_networks_and_differ_in_their_own_parts(
    trained_models: dict[str, CategoryResult],
) -> None:
    folders = [Path(str(trained_models[category].artifact_dir)) for category in SAMPLE_CATEGORIES]
    records = [read_manifest(folder).shared_network for folder in folders]
    assert records[0] is not None and all(record == records[0] for record in records)
    first, *others = [load_model(folder / MODEL_FILE) for folder in folders]
    networks = dict(first.named_parameters())
    assert networks and all(name.startswith("nets.") for name in networks)
    for other in others:
        theirs = dict(other.named_parameters())
        assert set(theirs) == set(networks)
        assert all(torch.equal(networks[name], theirs[name]) for name in networks)
        # their own parts: the weekly profile fitted on their own days and their own scale
        assert not torch.equal(first.classical.profile, other.classical.profile)
        assert first.cv != other.cv


def test_without_pooling_each_category_trains_its_own_networks(
    tmp_path: Path, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = test_settings.mlflow
    settings = make_test_settings(
        tmp_path,
        mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location},
        model={"pool_categories": False},
    )
    data = write_transactions(tmp_path / "sales.csv", {"A": 150, "B": 150})
    own_calls: list[list[str]] = []
    real = fitting.train_networks

    def counted_own(windows: Sequence[CategoryWindows], *args: Any, **kwargs: Any) -> Any:
        own_calls.append([w.category for w in windows])
        return real(windows, *args, **kwargs)

    monkeypatch.setattr(fitting, "train_networks", counted_own)
    results = train_categories(["A", "B"], "not-pooled", settings, data_path=data)
    assert [r.status for r in results] == ["succeeded"] * 2, [r.error for r in results]
    assert own_calls == [["A"], ["A"], ["B"], ["B"]]
    assert all(read_manifest(Path(str(r.artifact_dir))).shared_network is None for r in results)
    assert not (settings.paths.artifacts / shared.SHARED_DIR).exists()
