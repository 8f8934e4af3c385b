"""The job spec (`core.contracts.job_spec`) and `salescast train --job-spec`: a round trip keeps every
field, and a spec of another format, with a bad field or beside other options stops with a message
naming the field before any training starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.contracts.dataset import DatasetColumns
from core.contracts.files import ContractError
from core.contracts.job_spec import JOB_SPEC_FORMAT, JobDataset, JobSpec, read_job_spec, write_job_spec
from core.sales_data import file_sha256
from salescast.cli.main import main
from salescast.train_job import job_settings
from tests.conftest import make_test_settings
from tests.training.synthetic import write_transactions


def _spec(tmp_path: Path, **changes: Any) -> JobSpec:
    csv = write_transactions(tmp_path / "sales.csv", {"Toys": 60})
    fields: dict[str, Any] = {
        "job_id": "0123abcd",
        "categories": ["Toys"],
        "experiment": "spec-test",
        "dataset": JobDataset(
            path=csv,
            dataset_id="0123456789abcdef",
            sha256=file_sha256(csv),
            columns=DatasetColumns(date="Day", category="Dept", amount="Revenue", date_format="%d/%m/%Y"),
        ),
        "deploy": "if_better",
        "compare_versions": {"Toys": "20250101.120000"},
        "settings": make_test_settings(tmp_path, training={"max_epochs": 7}),
        "progress_path": tmp_path / "job.progress.json",
        "result_path": tmp_path / "job.result.json",
    }
    return JobSpec(**{**fields, **changes})


def _spec_json(tmp_path: Path) -> dict[str, Any]:
    path = write_job_spec(tmp_path / "job.spec.json", _spec(tmp_path))
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_a_spec_round_trips_with_every_field(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    path = write_job_spec(tmp_path / "job.spec.json", spec)
    assert read_job_spec(path) == spec
    assert json.loads(path.read_text(encoding="utf-8"))["format_version"] == JOB_SPEC_FORMAT
    assert not [name for name in tmp_path.iterdir() if ".tmp" in name.name]  # written atomically


def test_the_datasets_mapping_replaces_the_configured_columns(tmp_path: Path) -> None:
    data = job_settings(_spec(tmp_path)).data
    assert (data.date_column, data.category_column, data.amount_column) == ("Day", "Dept", "Revenue")
    assert data.date_format == "%d/%m/%Y"
    configured = _spec(tmp_path, dataset=None)
    assert job_settings(configured) is configured.settings


@pytest.mark.parametrize(("version", "age"), [(0, "an older"), (2, "a newer")])
def test_a_spec_of_another_format_version_is_refused_by_name(tmp_path: Path, version: int, age: str) -> None:
    document = {**_spec_json(tmp_path), "format_version": version, "field_of_the_future": 1}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ContractError) as refused:
        read_job_spec(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: format_version: {version} is {age} job spec format")
    assert "field_of_the_future" not in message


_DELETE = object()


def _set(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, key = dotted.split(".")
    for part in parents:
        document = document[part]
    if value is _DELETE:
        del document[key]
    else:
        document[key] = value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("format_version", _DELETE, "format_version: Field required"),
        ("experiment", "", "experiment: String should have at least 1 character"),
        ("categories", "Toys", "categories.literal['all']: Input should be 'all'"),
        ("categories", [], "categories must be `all` or a non-empty list"),
        ("deploy", "sometimes", "deploy: Input should be 'always', 'if_better' or 'never'"),
        ("archive", False, "deploy needs the archive"),
        ("compare_versions", {"Games": "20250101.120000"}, "not being trained: ['Games']"),
        ("dataset.sha256", "not-a-hash", "dataset.sha256: String should match pattern"),
        ("dataset.colums", {}, "dataset.colums: Extra inputs are not permitted"),
        ("settings.training.max_epochs", 0, "settings.training.max_epochs: Input should be greater than 0"),
        ("settings.training.max_epoch", 3, "settings.training.max_epoch: Extra inputs are not permitted"),
        ("result_json", "r.json", "result_json: Extra inputs are not permitted"),
    ],
)
def test_a_bad_field_is_named(tmp_path: Path, field: str, value: Any, expected: str) -> None:
    document = _spec_json(tmp_path)
    _set(document, field, value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ContractError) as refused:
        read_job_spec(path)
    assert str(refused.value).startswith(f"{path}: not a valid JobSpec: ")
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "Invalid JSON"), ("[1]", "value: Input should be an object"), (None, "cannot be read")],
)
def test_a_file_that_is_no_spec_is_named(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "spec.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match=expected):
        read_job_spec(path)


def test_train_with_a_bad_spec_exits_2_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _spec_json(tmp_path)
    document["settings"]["training"]["max_epochs"] = -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["train", "--job-spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"salescast: error: {path}: not a valid JobSpec: settings.training.max_epochs")
    assert not (tmp_path / "job.result.json").exists()
    assert not (tmp_path / "job.progress.json").exists()  # refused before the job started


def test_train_with_a_changed_data_file_exits_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    path = write_job_spec(tmp_path / "job.spec.json", spec)
    assert spec.dataset is not None
    with spec.dataset.path.open("a", encoding="utf-8") as csv:
        csv.write("\n")
    assert main(["train", "--job-spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"the job's data file {spec.dataset.path} changed since the job was queued" in err
    assert not (tmp_path / "job.progress.json").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--experiment", "x"],
        ["--max-epochs", "1"],
        ["--deploy"],
        ["--result-json", "r.json"],
        ["--no-archive"],
    ],
)
def test_options_beside_a_spec_are_refused(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_job_spec(tmp_path / "job.spec.json", _spec(tmp_path))
    assert main(["train", "--job-spec", str(path), *extra]) == 2
    assert f"--job-spec holds the whole job; drop {extra[0]}" in capsys.readouterr().err


def test_a_config_file_beside_a_spec_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_job_spec(tmp_path / "job.spec.json", _spec(tmp_path))
    assert main(["--config", "configs/default.yaml", "train", "--job-spec", str(path)]) == 2
    assert "drop --config" in capsys.readouterr().err


def test_a_spec_and_categories_are_exclusive(tmp_path: Path) -> None:
    path = write_job_spec(tmp_path / "job.spec.json", _spec(tmp_path))
    with pytest.raises(SystemExit) as caught:
        main(["train", "--job-spec", str(path), "--category", "Toys"])
    assert caught.value.code == 2
