"""`train --only-changed`: only new categories and those whose own daily series changed since their
latest version get a new version; the others are reported `unchanged`, and a run with nothing
changed trains nothing (real tiny training on synthetic files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.artifacts import list_versions, version_dir
from core.contracts.manifest import MANIFEST_FILE, read_manifest
from core.sales_data import load_daily_sales
from salescast.cli.main import main
from tests.conftest import make_test_settings
from tests.training.runs import CATEGORIES, TrainedRun, changed_copy, config_file, copy_run, shared_ids
from training.changes import category_changes, series_sha256

pytestmark = pytest.mark.slow


def test_every_version_records_the_fingerprint_of_its_own_series(abc_run: TrainedRun) -> None:
    settings = abc_run.settings
    sales = load_daily_sales(settings.data, abc_run.data)
    for category, version in abc_run.versions.items():
        manifest = read_manifest(version_dir(settings, category, version))
        assert manifest.series_sha256 == series_sha256(sales[category])
    assert len({series_sha256(sales[c]) for c in CATEGORIES}) == len(CATEGORIES)
    assert [change.reason for change in category_changes(CATEGORIES, sales, settings)] == [None] * 3


def test_only_the_changed_and_the_new_category_train_and_the_rest_are_reported(
    abc_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(abc_run, tmp_path)
    settings, first = run.settings, run.versions
    before_shared = shared_ids(settings)
    data = changed_copy(run.data, tmp_path / "v2.csv", "B", add="D")
    config = config_file(settings, tmp_path / "config.yaml")
    argv = ["--config", str(config), "train", "--all", "--only-changed", "--data", str(data), "--no-archive"]
    assert main([*argv, "--result-json", str(tmp_path / "result.json")]) == 0
    results = {r["category"]: r for r in json.loads((tmp_path / "result.json").read_text())}
    assert {c: r["status"] for c, r in results.items()} == {
        "A": "unchanged",
        "B": "succeeded",
        "C": "unchanged",
        "D": "succeeded",
    }
    assert (results["A"]["version"], results["C"]["version"]) == (first["A"], first["C"])
    assert [len(list_versions(settings, c)) for c in ("A", "B", "C", "D")] == [1, 2, 1, 1]
    new_b = read_manifest(version_dir(settings, "B", results["B"]["version"]))
    assert new_b.series_sha256 != read_manifest(version_dir(settings, "B", first["B"])).series_sha256
    # without --shared-network the run trains (and saves) shared networks of its own
    assert new_b.shared_network is not None and new_b.shared_network.id not in before_shared
    out = capsys.readouterr().out
    assert f"A: unchanged: its data is the data version {first['A']} learned from" in out
    assert "nothing to train" not in out

    # the same data again: nothing trains, and the run says so
    assert main([*argv, "--result-json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert [r["status"] for r in again] == ["unchanged"] * 4
    assert "nothing to train" in capsys.readouterr().out
    assert [len(list_versions(settings, c)) for c in ("A", "B", "C", "D")] == [1, 2, 1, 1]
    assert len(shared_ids(settings)) == len(before_shared) + 1


def test_a_version_without_a_fingerprint_stays_readable_and_counts_as_changed(
    abc_run: TrainedRun, tmp_path: Path
) -> None:
    """Versions trained before fingerprints were recorded are retrained once by `--only-changed`."""
    version = abc_run.versions["A"]
    old = make_test_settings(tmp_path)
    folder = version_dir(old, "A", version)
    shutil.copytree(version_dir(abc_run.settings, "A", version), folder)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    del manifest["series_sha256"]
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert read_manifest(folder).series_sha256 is None
    sales = load_daily_sales(old.data, abc_run.data)
    [change] = category_changes(["A"], sales, old)
    assert (change.changed, change.latest) == (True, version)
    assert change.reason == f"version {version} records no data fingerprint"
    [never] = category_changes(["Z"], sales, old)
    assert never.reason == "new: no trained version"
