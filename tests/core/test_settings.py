"""The configuration loads, env overrides apply, and a wrong value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


def test_default_config_loads() -> None:
    settings = load_settings(environ={})
    assert settings.window.size == 14
    assert settings.data.fill_policy == "zero"
    assert settings.torchserve.inference_base_url == "http://127.0.0.1:8080"


def test_nested_env_override_is_typed() -> None:
    settings = load_settings(
        environ={"SALESCAST_WINDOW__SIZE": "21", "SALESCAST_PATHS__MODEL_STORE": "/srv/m"}
    )
    assert settings.window.size == 21
    assert settings.paths.model_store == Path("/srv/m")


def test_aliases_override() -> None:
    settings = load_settings(
        environ={
            "SALESCAST_API_KEY": "s3cret",
            "SALESCAST_GATEWAY_URL": "http://gateway:8000",
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        }
    )
    assert settings.gateway.api_key == "s3cret"
    assert settings.ui.gateway_url == "http://gateway:8000"
    assert settings.mlflow.tracking_uri == "http://mlflow:5000"


def test_config_path_from_env(tmp_path: Path) -> None:
    text = Path("configs/default.yaml").read_text().replace("size: 14", "size: 28")
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
