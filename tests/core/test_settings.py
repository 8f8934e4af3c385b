"""The configuration loads, env overrides apply, and a wrong value names its key."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from core.settings import ENV_ALIASES, Settings, SettingsError, default_config_path, load_settings


def test_default_config_loads() -> None:
    settings = load_settings(environ={})
    assert settings.window.size == 56
    assert settings.data.fill_policy == "zero"
    assert settings.torchserve.inference_base_url == "http://127.0.0.1:8080"


def _json_default(field: FieldInfo) -> Any:
    return TypeAdapter(Any).dump_python(field.get_default(call_default_factory=True), mode="json")


def _default_mismatches(model: type[BaseModel], values: dict[str, Any], prefix: str) -> list[str]:
    """Every key of `model` missing from `values`, or whose Field default differs from it, recursively."""
    problems: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if name not in values:
            problems.append(f"{key}: not in configs/default.yaml")
            continue
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            problems += _default_mismatches(field.annotation, values[name], f"{key}.")
        if not field.is_required() and _json_default(field) != values[name]:
            problems.append(
                f"{key}: Field default {_json_default(field)!r}, configs/default.yaml {values[name]!r}"
            )
    return problems


def test_field_defaults_are_the_default_yaml() -> None:
    """configs/default.yaml is what users run: every key is in it, and no Field default says otherwise."""
    raw = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    values = Settings.model_validate(raw).model_dump(mode="json")
    assert _default_mismatches(Settings, values, "") == []


def test_a_differing_field_default_is_caught() -> None:
    values = load_settings(environ={}).model_dump(mode="json")
    values["model"]["loss"] = "huber"
    del values["up"]["poll_interval_s"]
    assert _default_mismatches(Settings, values, "") == [
        "model.loss: Field default 'mse', configs/default.yaml 'huber'",
        "up.poll_interval_s: not in configs/default.yaml",
    ]


def test_nested_env_override_is_typed() -> None:
    settings = load_settings(
        environ={"SALESCAST_WINDOW__SIZE": "21", "SALESCAST_PATHS__MODEL_STORE": "/srv/m"}
    )
    assert settings.window.size == 21
    assert settings.paths.model_store == Path("/srv/m")


@pytest.mark.parametrize("name", ENV_ALIASES)
def test_each_shorthand_overrides_its_key(name: str) -> None:
    section, key = ENV_ALIASES[name]
    settings = load_settings(environ={name: "http://elsewhere:5000"})
    assert getattr(getattr(settings, section), key) == "http://elsewhere:5000"


def test_config_path_from_env(tmp_path: Path) -> None:
    text = Path("configs/default.yaml").read_text().replace("size: 56 ", "size: 28 ")
    (tmp_path / "c.yaml").write_text(text)
    assert load_settings(environ={"SALESCAST_CONFIG": str(tmp_path / "c.yaml")}).window.size == 28


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SALESCAST_WINDOW__SIZE": "-3"}, "window.size"),
        ({"SALESCAST_DATA__FILL_POLICY": "mean"}, "data.fill_policy"),
        ({"SALESCAST_MODEL__COLOUR": "red"}, "model.colour: unknown key"),
        ({"SALESCAST_SPLIT__VAL": "0.4"}, "split.val"),
        ({"SALESCAST_DATA__CATEGORIES": "[]"}, "data.categories"),
    ],
)
def test_wrong_values_name_the_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace(".", r"\.")):
        load_settings(environ=env)


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_with_overrides_validates() -> None:
    settings = load_settings(environ={})
    with pytest.raises(SettingsError, match=r"training\.max_epochs"):
        settings.with_overrides({"training": {"max_epochs": 0}})


def test_unknown_env_section_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="SALESCAST_GATWAY__PORT: unknown section `gatway`"):
        load_settings(environ={"SALESCAST_GATWAY__PORT": "9000"})


def test_env_values_are_yaml_and_empty_is_null() -> None:
    settings = load_settings(
        environ={
            "SALESCAST_DATA__CATEGORIES": "[Beauty, Home & Garden]",
            "SALESCAST_GATEWAY__PROTECT_PREDICT": "true",
            "SALESCAST_API_KEY": "",
        }
    )
    assert settings.data.categories == ["Beauty", "Home & Garden"]
    assert settings.gateway.protect_predict is True
    assert settings.gateway.api_key is None


def test_section_variable_beats_its_shorthand() -> None:
    settings = load_settings(environ={"SALESCAST_API_KEY": "short", "SALESCAST_GATEWAY__API_KEY": "long"})
    assert settings.gateway.api_key == "long"


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [("", "", ""), ("s3://models", "models", ""), ("s3://models/a/prod/", "models", "a/prod")],
)
def test_storage_uri_gives_bucket_and_prefix(uri: str, bucket: str, prefix: str) -> None:
    storage = load_settings(environ={"SALESCAST_STORAGE__URI": uri}).storage
    assert (storage.enabled, storage.bucket, storage.prefix) == (bool(uri), bucket, prefix)


@pytest.mark.parametrize(
    "uri", ["models/x", "s3://Models/x", "s3://ab", "s3://models//x", "s3://models/../x", "http://models/x"]
)
def test_storage_uri_must_be_an_s3_location(uri: str) -> None:
    with pytest.raises(SettingsError, match=r"storage\.uri: .*s3://bucket/prefix"):
        load_settings(environ={"SALESCAST_STORAGE__URI": uri})


NOT_IN_WHEEL = (
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "tests",
    "docs",
    "data",
    "run",
    "mlruns",
    "artifacts",
    "model_store",
)


@pytest.mark.slow
def test_an_installed_wheel_finds_its_default_config(tmp_path: Path) -> None:
    """No source tree: the wheel carries configs/ as package data, found from any working directory."""
    repo = tmp_path / "src"  # a copy, so setuptools' build/ folder never lands in the checkout
    shutil.copytree(Path(__file__).resolve().parents[2], repo, ignore=shutil.ignore_patterns(*NOT_IN_WHEEL))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(repo),
        ],
        check=True,
        cwd=tmp_path,
    )
    site = tmp_path / "site"
    with zipfile.ZipFile(next(tmp_path.glob("salescast-*.whl"))) as wheel:
        wheel.extractall(site)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from core import settings; from serving import torchserve_config as tc;"
        "assert settings.__file__.startswith(sys.argv[1]), settings.__file__;"
        "window = settings.load_settings(environ={}).window.size;"
        "print(settings.default_config_path(), tc.TEMPLATE.is_file(), window)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(site)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    config, template_found, window = result.stdout.split()
    assert config == str(site / "configs" / "default.yaml")
    assert template_found == "True"
    assert window == "56"
