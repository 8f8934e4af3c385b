"""The second cadence: a category's own part (level/profile fit and calibration) refitted against
shared networks an earlier run saved, without training networks (real tiny training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.artifacts import MODEL_FILE, list_versions, version_dir
from core.contracts.manifest import read_manifest
from core.settings import Settings
from handlers.forecast_steps import load_model
from salescast.cli.main import main
from tests.training.runs import CATEGORIES, TrainedRun, changed_copy, config_file, copy_run, shared_ids
from training import fitting
from training.forecaster import as_forecaster, served_normalization
from training.pipeline import train_categories
from training.shared import SHARED_DIR, WEIGHTS_FILE, SharedNetworkError, load_shared_networks

pytestmark = pytest.mark.slow


def forecasts(settings: Settings, category: str, version: str, windows: np.ndarray) -> np.ndarray:
    folder = version_dir(settings, category, version)
    model = load_model(folder / MODEL_FILE)
    return as_forecaster(model, served_normalization(read_manifest(folder)))(windows)


def network_parameters(settings: Settings, category: str, version: str) -> dict[str, torch.Tensor]:
    model = load_model(version_dir(settings, category, version) / MODEL_FILE)
    return {name: value for name, value in model.named_parameters() if name.startswith("nets.")}


def test_a_refit_freezes_the_saved_networks_and_refits_only_the_own_part(
    abc_run: TrainedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_run(abc_run, tmp_path)
    settings, first_data, first_versions = run.settings, run.data, run.versions
    first = read_manifest(version_dir(settings, "A", first_versions["A"])).shared_network
    assert first is not None
    saved_before = shared_ids(settings)

    def no_network_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refit must not train networks")

    monkeypatch.setattr(fitting, "train_networks", no_network_training)
    monkeypatch.setattr("training.shared.train_networks", no_network_training)
    # unchanged data, the networks A froze: the same model, forecast for forecast
    [same] = train_categories(["A"], "refit", settings, data_path=first_data, shared_network=first.id)
    assert same.status == "succeeded", same.error
    refit = read_manifest(version_dir(settings, "A", str(same.version)))
    assert refit.shared_network == first
    windows = np.random.default_rng(0).uniform(50.0, 200.0, size=(16, settings.window.size))
    np.testing.assert_allclose(
        forecasts(settings, "A", str(same.version), windows),
        forecasts(settings, "A", first_versions["A"], windows),
        rtol=1e-6,
    )
    assert refit.intervals == read_manifest(version_dir(settings, "A", first_versions["A"])).intervals

    # changed data: the networks stay the saved ones, only the category's own part moves
    data = changed_copy(first_data, tmp_path / "refit.csv", "C")
    results = train_categories(
        CATEGORIES, "refit", settings, data_path=data, only_changed=True, shared_network=first.id
    )
    assert [r.status for r in results] == ["unchanged", "unchanged", "succeeded"], [r.error for r in results]
    new_c = str(results[2].version)
    assert read_manifest(version_dir(settings, "C", new_c)).shared_network == first
    old_networks = network_parameters(settings, "C", first_versions["C"])
    new_networks = network_parameters(settings, "C", new_c)
    assert old_networks and all(torch.equal(old_networks[n], new_networks[n]) for n in old_networks)
    assert not np.allclose(
        forecasts(settings, "C", new_c, windows), forecasts(settings, "C", first_versions["C"], windows)
    )
    assert shared_ids(settings) == saved_before  # nothing new was trained or saved


def test_latest_is_the_most_recently_saved_and_every_refusal_names_what_exists(
    abc_run: TrainedRun, tmp_path: Path
) -> None:
    settings = abc_run.settings
    saved = sorted(shared_ids(settings))
    latest = load_shared_networks(settings, "latest")
    assert latest.record.id in saved and len(latest.served) == settings.model.members
    with pytest.raises(SharedNetworkError, match="no shared networks '0123456789abcdef'") as unknown:
        load_shared_networks(settings, "0123456789abcdef")
    assert all(network_id in str(unknown.value) for network_id in saved)
    with pytest.raises(SharedNetworkError, match=r"window_size 14 \(config: 21\)"):
        load_shared_networks(settings.with_overrides({"window": {"size": 21}}), latest.record.id)
    with pytest.raises(SharedNetworkError, match=r"lstm_hidden 16 \(config: 32\)"):
        load_shared_networks(settings.with_overrides({"model": {"lstm_hidden": 32}}), latest.record.id)
    with pytest.raises(SharedNetworkError, match="pool_categories is off"):
        load_shared_networks(settings.with_overrides({"model": {"pool_categories": False}}), "latest")

    # a file saved before the architecture was kept: refused, not guessed at
    legacy = settings.with_overrides({"paths": {"artifacts": str(tmp_path / "artifacts")}})
    path = legacy.paths.artifacts / SHARED_DIR / "00000000000000aa" / WEIGHTS_FILE
    path.parent.mkdir(parents=True)
    weights = [network.state_dict() for network in latest.served]
    torch.save({"evaluation": weights, "served": weights}, path)
    with pytest.raises(SharedNetworkError, match="00000000000000aa were saved before salescast kept"):
        load_shared_networks(legacy, "latest")
    with pytest.raises(SharedNetworkError, match="no shared networks are saved"):
        load_shared_networks(
            settings.with_overrides({"paths": {"artifacts": str(tmp_path / "no")}}), "latest"
        )


def test_the_cli_refuses_an_unknown_shared_network_before_training(
    abc_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, first_data = abc_run.settings, abc_run.data
    config = config_file(settings, tmp_path / "config.yaml")
    versions = list_versions(settings, "B")
    argv = ["--config", str(config), "train", "--category", "B", "--data", str(first_data), "--no-archive"]
    assert main([*argv, "--shared-network", "0123456789abcdef"]) == 2
    error = capsys.readouterr().err
    assert "no shared networks '0123456789abcdef'" in error
    assert all(network_id in error for network_id in shared_ids(settings))
    assert main([*argv, "--shared-network", "../../etc"]) == 2
    assert "shared_network" in capsys.readouterr().err
    assert list_versions(settings, "B") == versions
