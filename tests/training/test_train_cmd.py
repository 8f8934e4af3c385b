"""`salescast train`: exit status, summary table and result JSON (tiny config, synthetic files)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.contracts.job_result import CategoryResult
from core.settings import Settings
from salescast.cli.main import main
from tests.conftest import make_test_settings
from tests.training.synthetic import write_transactions

RESULT_KEYS = {
    "category",
    "status",
    "version",
    "artifact_dir",
    "metrics",
    "error",
    "failed_step",
    "seconds",
    "epochs",
    "archive",
    "deployed",
    "deploy_reason",
    "warnings",
    "mlflow_experiment_id",
    "mlflow_run_id",
}


@pytest.fixture(scope="module")
def cli_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def cli_config(cli_root: Path, test_settings: Settings) -> Path:
    """A config file for `--config`: tiny model, own artifacts, the session's MLflow store."""
    mlflow = test_settings.mlflow
    settings = make_test_settings(
        cli_root, mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location}
    )
    path = cli_root / "config.yaml"
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sales_csv(cli_root: Path) -> Path:
    return write_transactions(cli_root / "sales.csv", {"Toys": 120, "Rare": 10})


@pytest.mark.slow
def test_a_failing_category_makes_the_exit_status_non_zero(
    cli_config: Path, sales_csv: Path, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result_json = cli_root / "out" / "result.json"
    argv = ["--config", str(cli_config), "train", "--category", "Rare", "--category", "Toys"]
    argv += ["--data", str(sales_csv), "--no-archive", "--max-epochs", "2", "--result-json", str(result_json)]
    assert main(argv) == 1
    results = json.loads(result_json.read_text())
    assert [result["category"] for result in results] == ["Rare", "Toys"]
    assert all(set(result) == RESULT_KEYS for result in results)
    assert [result["status"] for result in results] == ["failed", "succeeded"]
    assert "'Rare'" in results[0]["error"]
    assert Path(results[1]["artifact_dir"]).is_dir()
    out = capsys.readouterr().out
    assert "rmse model" in out and "mae seasonal_naive" in out
    toys_row = next(line for line in out.splitlines() if line.startswith("Toys"))
    assert "succeeded" in toys_row and results[1]["version"] in toys_row


@pytest.mark.slow
def test_all_categories_succeed_with_exit_status_zero(
    cli_config: Path, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_transactions(cli_root / "one.csv", {"Games": 100})
    argv = ["--config", str(cli_config), "train", "--all", "--data", str(csv), "--no-archive"]
    assert main([*argv, "--max-epochs", "1", "--experiment", "cli-all"]) == 0
    assert any(
        line.startswith("Games ") and "succeeded" in line for line in capsys.readouterr().out.splitlines()
    )


def test_renamed_columns_from_the_command_line(
    cli_config: Path, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_transactions(cli_root / "renamed.csv", {"Games": 100})
    text = csv.read_text().replace("Product Category", "Dept", 1).replace("Total Amount", "Revenue", 1)
    csv.write_text(text)
    argv = ["--config", str(cli_config), "train", "--category", "Games", "--data", str(csv), "--no-archive"]
    assert main(argv) == 2  # the configured column names are missing
    assert "Product Category" in capsys.readouterr().err
    renamed = [*argv, "--category-column", "Dept", "--amount-column", "Revenue", "--max-epochs", "1"]
    assert main(renamed) == 0


@pytest.mark.slow
def test_a_dataset_trains_with_its_mapping_and_every_version_names_it(
    cli_config: Path, cli_root: Path, test_settings: Settings
) -> None:
    """What a gateway job passes for an uploaded dataset: its file, columns, date format and id."""
    from core.artifacts import version_dir
    from core.contracts.manifest import read_manifest
    from core.sales_data import file_sha256
    from tests.support.messy_csv import write_messy_csv

    csv = write_messy_csv(cli_root / "messy.csv")
    result_json = cli_root / "messy-result.json"
    argv = ["--config", str(cli_config), "train", "--category", "Café Crème", "--data", str(csv)]
    argv += ["--date-column", "Order Date", "--category-column", "Dept", "--amount-column", "Net Sales"]
    argv += ["--date-format", "%m/%d/%Y", "--dataset-id", "0123456789abcdef", "--no-archive"]
    assert main([*argv, "--max-epochs", "1", "--result-json", str(result_json)]) == 0
    [result] = json.loads(result_json.read_text())
    settings = make_test_settings(cli_root)
    manifest = read_manifest(version_dir(settings, "Café Crème", result["version"]))
    assert manifest.dataset_id == "0123456789abcdef"
    assert manifest.data_sha256 == file_sha256(csv)
    assert manifest.last_date.isoformat() == "2024-07-18"
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=test_settings.mlflow.tracking_uri).get_run(result["mlflow_run_id"])
    assert run.info.experiment_id == result["mlflow_experiment_id"]
    assert run.data.params["dataset_id"] == "0123456789abcdef"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--deploy", "--no-archive"], "--deploy"),
        (["--compare-version", "Toys"], "CATEGORY=VERSION"),
        (["--compare-version", "Games=20250101.120000"], "not being trained: ['Games']"),
        (["--max-epochs", "0"], "training.max_epochs"),
    ],
)
def test_contradictory_or_malformed_options_are_user_errors(
    cli_config: Path, sales_csv: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(cli_config), "train", "--category", "Toys", "--data", str(sales_csv), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_category_and_all_are_exclusive(cli_config: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(cli_config), "train", "--all", "--category", "Toys"])
    assert caught.value.code == 2


def test_summary_lists_model_and_every_baseline(
    trained_models: dict[str, CategoryResult], capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from salescast.cli.train_cmd import print_summary

    print_summary(list(trained_models.values()), sys.stdout)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["category", "status", "version", "seconds"]
    for name in ("model", "naive", "seasonal_naive", "moving_average"):
        assert f"rmse {name}" in lines[0] and f"mae {name}" in lines[0]
    assert len(lines) == 1 + len(trained_models)


def _config_for(settings: Settings, path: Path) -> Path:
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.mark.slow
def test_training_archives_the_new_version(
    cli_root: Path, test_settings: Settings, sales_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from serving.archive import list_archives

    mlflow = test_settings.mlflow
    settings = make_test_settings(
        cli_root / "archive",
        mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location},
    )
    config = _config_for(settings, cli_root / "archive.yaml")
    argv = [
        "--config",
        str(config),
        "train",
        "--category",
        "Toys",
        "--data",
        str(sales_csv),
        "--max-epochs",
        "1",
    ]
    result_json = cli_root / "archive-result.json"
    assert main([*argv, "--result-json", str(result_json)]) == 0
    [result] = json.loads(result_json.read_text())
    [archive] = list_archives(settings)
    assert (archive.category, archive.model_name, archive.version) == ("Toys", "toys", result["version"])
    assert archive.path.is_file()
    assert result["archive"] == archive.path.name
    assert f"Toys: archived {archive.path.name}" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.torchserve
def test_deploy_registers_the_new_version_with_torchserve(
    tmp_path: Path,
    test_settings: Settings,
    sales_csv: Path,
    isolated_torchserve: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from serving.management_client import ManagementClient

    mlflow = test_settings.mlflow
    settings = make_test_settings(
        tmp_path, mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location}
    )
    settings.paths.model_store.mkdir(parents=True)
    isolated_torchserve(settings, archives=[])
    config = _config_for(settings, tmp_path / "config.yaml")
    argv = ["--config", str(config), "train", "--category", "Toys", "--data", str(sales_csv)]
    assert main([*argv, "--max-epochs", "1", "--deploy"]) == 0
    out = capsys.readouterr().out
    assert "Toys: deployed " in out and "first model of this category, deployed" in out

    async def default_version() -> str:
        async with ManagementClient(settings.torchserve.management_base_url) as client:
            return await client.default_version("toys")

    version = asyncio.run(default_version())
    assert version == max(path.name for path in (settings.paths.artifacts / "toys").iterdir())
