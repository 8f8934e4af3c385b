"""Archives: contents, names, categories.json, pruning, failures and the `salescast archive` CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from core.contracts.category_index import read_category_index, record_category
from core.settings import Settings
from core.slugs import SlugError
from salescast.cli.main import main
from serving.archive import (
    ArchiveError,
    archive_version,
    list_archives,
    newest_archives,
    trained_categories,
)
from tests.conftest import make_test_settings
from tests.handlers.scripted_artifacts import write_scripted_version

V1, V2, V3 = "20250101.000000", "20250102.000000", "20250103.000000"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_test_settings(
        tmp_path,
        archive={"keep_versions": 2, "batch_size": 4, "max_batch_delay_ms": 20, "workers": 2},
    )


def test_archive_holds_model_handler_stats_metrics_and_model_config(settings: Settings) -> None:
    write_scripted_version(settings.paths.artifacts, "Home & Garden", V1)
    info = archive_version(settings, "Home & Garden")
    assert (info.category, info.model_name, info.version) == ("Home & Garden", "home-garden", V1)
    assert info.path == settings.paths.model_store / f"home-garden-{V1}.mar"
    with zipfile.ZipFile(info.path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("MAR-INF/MANIFEST.json"))
        config = yaml.safe_load(archive.read("model-config.yaml"))
        stats = json.loads(archive.read("norm_stats.json"))
    assert {
        "model.pt",
        "forecast_handler.py",
        "forecast_steps.py",
        "request_parsing.py",
        "version_stats.py",
        "calendar_terms.py",
        "norm_stats.json",
        "metrics.json",
        "model-config.yaml",
    } <= names
    assert manifest["model"]["modelName"] == "home-garden"
    assert manifest["model"]["modelVersion"] == V1
    assert manifest["model"]["handler"] == "forecast_handler.py"
    assert config == {  # registered without workers; loading scales it to archive.workers
        "minWorkers": 0,
        "maxWorkers": 0,
        "batchSize": 4,
        "maxBatchDelay": 20,
        "responseTimeout": settings.archive.response_timeout_s,
    }
    assert stats["version"] == V1
    assert read_category_index(settings.paths.model_store) == {"home-garden": "Home & Garden"}
    assert [p.name for p in settings.paths.model_store.iterdir() if p.name.startswith(".tmp")] == []


def test_newest_version_by_default_and_an_older_one_on_request(settings: Settings) -> None:
    write_scripted_version(settings.paths.artifacts, "Beauty", V1, seed=1)
    write_scripted_version(settings.paths.artifacts, "Beauty", V2, seed=2)
    assert archive_version(settings, "Beauty").version == V2
    assert archive_version(settings, "Beauty", V1).version == V1
    assert [info.version for info in list_archives(settings)] == [V1, V2]
    assert newest_archives(settings)["beauty"].version == V2


def test_old_archives_are_pruned_beyond_keep_versions(settings: Settings) -> None:
    for seed, version in enumerate((V1, V2, V3)):
        write_scripted_version(settings.paths.artifacts, "Beauty", version, seed=seed)
        archive_version(settings, "Beauty", version)
    write_scripted_version(settings.paths.artifacts, "Clothing", V1)
    archive_version(settings, "Clothing")
    remaining = [(info.model_name, info.version) for info in list_archives(settings)]
    assert remaining == [("beauty", V2), ("beauty", V3), ("clothing", V1)]


def test_untrained_category_and_unknown_version_are_clear_errors(settings: Settings) -> None:
    with pytest.raises(ArchiveError, match=r"no trained version.*salescast train"):
        archive_version(settings, "Beauty")
    write_scripted_version(settings.paths.artifacts, "Beauty", V1)
    with pytest.raises(ArchiveError, match=rf"no version '{V2}'.*{V1}"):
        archive_version(settings, "Beauty", V2)


def test_incomplete_version_leaves_no_archive(settings: Settings) -> None:
    folder = write_scripted_version(settings.paths.artifacts, "Beauty", V1)
    (folder / "metrics.json").unlink()
    with pytest.raises(ArchiveError, match=r"metrics\.json: cannot be read"):
        archive_version(settings, "Beauty")
    assert list_archives(settings) == []


def test_two_categories_on_one_slug_are_refused(tmp_path: Path) -> None:
    record_category(tmp_path, "home-garden", "Home & Garden")
    with pytest.raises(SlugError, match="both map to model name 'home-garden'"):
        record_category(tmp_path, "home-garden", "Home Garden")


def test_trained_categories_reads_names_from_norm_stats(settings: Settings) -> None:
    write_scripted_version(settings.paths.artifacts, "Home & Garden", V1)
    write_scripted_version(settings.paths.artifacts, "Beauty", V1)
    (settings.paths.artifacts / "beauty" / ".tmp-20250109.000000").mkdir()
    assert trained_categories(settings) == ["Beauty", "Home & Garden"]


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return path


def test_cli_archives_all_categories(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_scripted_version(settings.paths.artifacts, "Beauty", V1)
    write_scripted_version(settings.paths.artifacts, "Clothing", V2)
    config = write_config(settings, tmp_path / "config.yaml")
    assert main(["--config", str(config), "archive", "--all"]) == 0
    assert {(info.model_name, info.version) for info in list_archives(settings)} == {
        ("beauty", V1),
        ("clothing", V2),
    }
    assert "Clothing: archived version 20250102.000000" in capsys.readouterr().out


def test_cli_reports_a_bad_request_without_traceback(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(settings, tmp_path / "config.yaml")
    assert main(["--config", str(config), "archive", "--all", "--version", V1]) == 2
    assert "--version names one training version" in capsys.readouterr().err
    assert main(["--config", str(config), "archive", "--category", "Beauty"]) == 1
    assert "Beauty: archiving failed: category 'Beauty' has no trained version" in capsys.readouterr().err
