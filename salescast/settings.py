"""Typed settings loaded from `configs/default.yaml` plus `SALESCAST_…` environment overrides.

Every part of salescast reads its configuration through `load_settings()`; no part parses the
YAML itself. Unknown keys and out-of-range values fail at start with a message naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)

from salescast.errors import SalescastError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
ENV_PREFIX = "SALESCAST_"
ENV_CONFIG = "SALESCAST_CONFIG"
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "SALESCAST_API_KEY": ("gateway", "api_key"),
    "SALESCAST_GATEWAY_URL": ("ui", "gateway_url"),
    "MLFLOW_TRACKING_URI": ("mlflow", "tracking_uri"),
}

FillPolicy = Literal["zero", "ffill"]
DeployPolicy = Literal["always", "if_better", "never"]
Port = int


class SettingsError(SalescastError, ValueError):
    """A configuration file or environment override is invalid; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(_Section):
    path: Path
    date_column: str = Field(min_length=1)
    category_column: str = Field(min_length=1)
    amount_column: str = Field(min_length=1)
    date_format: str | None = None
    categories: Literal["auto"] | list[str] = "auto"
    fill_policy: FillPolicy = "zero"

    @field_validator("categories")
    @classmethod
    def _categories_not_empty(cls, value: Literal["auto"] | list[str]) -> Literal["auto"] | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("must be `auto` or a non-empty list of category names")
        return value


class SampleSettings(_Section):
    seed: int
    start: str
    years: PositiveFloat


class WindowSettings(_Section):
    size: int = Field(ge=2, le=366)


class SplitSettings(_Section):
    train: float = Field(gt=0.0, lt=1.0)
    val: float = Field(gt=0.0, lt=1.0)

    @field_validator("val")
    @classmethod
    def _leaves_a_test_segment(cls, value: float, info: Any) -> float:
        train = info.data.get("train")
        if train is not None and train + value >= 1.0:
            raise ValueError(f"train ({train}) + val ({value}) must be below 1 to leave a test segment")
        return value


class ModelSettings(_Section):
    conv_channels: PositiveInt
    kernel_size: PositiveInt
    lstm_hidden: PositiveInt
    lstm_layers: PositiveInt
    dropout: float = Field(ge=0.0, lt=1.0)
    loss: Literal["mse", "huber"] = "huber"


class TrainingSettings(_Section):
    max_epochs: PositiveInt
    learning_rate: PositiveFloat
    weight_decay: float = Field(ge=0.0)
    batch_size: PositiveInt
    patience: PositiveInt
    seed: int
    num_threads: PositiveInt


class PathSettings(_Section):
    artifacts: Path
    model_store: Path
    run: Path
    jobs_db: Path


class MlflowSettings(_Section):
    tracking_uri: str
    artifact_location: str
    experiment: str = Field(min_length=1)
    ui_host: str
    ui_port: Port = Field(gt=0, lt=65536)
    ui_workers: PositiveInt = 1
    ui_allowed_hosts: str | None = None
    http_retries: int = Field(default=2, ge=0)
    http_timeout_s: PositiveInt = 20


class ArchiveSettings(_Section):
    keep_versions: PositiveInt
    batch_size: PositiveInt
    max_batch_delay_ms: int = Field(ge=0)
    workers: PositiveInt
    response_timeout_s: PositiveInt


class TorchServeSettings(_Section):
    host: str
    inference_port: Port = Field(gt=0, lt=65536)
    management_port: Port = Field(gt=0, lt=65536)
    metrics_port: Port = Field(gt=0, lt=65536)
    initial_worker_port: Port = Field(gt=0, lt=65536)
    job_queue_size: PositiveInt
    default_response_timeout_s: PositiveInt
    startup_timeout_s: PositiveFloat
    stop_timeout_s: PositiveFloat
    drain_s: float = Field(ge=0.0)
    warmup_requests: int = Field(ge=0)
    loaded_versions: PositiveInt
    unregister_attempts: PositiveInt = 3
    unregister_retry_s: float = Field(default=2.0, ge=0.0)
    inference_url: str | None = None
    management_url: str | None = None

    @property
    def inference_base_url(self) -> str:
        """URL of the inference API as other services reach it."""
        return (self.inference_url or f"http://{self.host}:{self.inference_port}").rstrip("/")

    @property
    def management_base_url(self) -> str:
        """URL of the management API as other services reach it."""
        return (self.management_url or f"http://{self.host}:{self.management_port}").rstrip("/")


class GatewaySettings(_Section):
    host: str
    port: Port = Field(gt=0, lt=65536)
    predict_timeout_s: PositiveFloat
    management_timeout_s: PositiveFloat
    max_batch_items: PositiveInt
    max_body_bytes: PositiveInt
    job_queue_size: PositiveInt
    deploy_policy: DeployPolicy = "if_better"
    api_key: str | None = None
    api_key_file: Path | None = None
    protect_predict: bool = False
    recent_jobs: PositiveInt
    max_instances_per_call: PositiveInt
    max_connections: PositiveInt
    models_refresh_s: PositiveFloat
    job_timeout_s: PositiveFloat
    retry_after_s: PositiveInt


class UiSettings(_Section):
    host: str
    port: Port = Field(gt=0, lt=65536)
    gateway_url: str
    request_timeout_s: PositiveFloat
    poll_interval_s: PositiveFloat
    rolling_window: PositiveInt
    concurrency_limit: PositiveInt = 8


class UpSettings(_Section):
    health_timeout_s: PositiveFloat
    stop_timeout_s: PositiveFloat = 20.0
    poll_interval_s: PositiveFloat = 0.5


class TorchServeTuning(_Section):
    workers: PositiveInt
    batch_size: PositiveInt
    max_batch_delay_ms: int = Field(ge=0)


class BenchSettings(_Section):
    folds: PositiveInt = 5
    fold_days: PositiveInt = 28
    season_length: PositiveInt = 7
    out_dir: Path = Path("bench-results")
    serving_duration_s: PositiveFloat = 10.0
    serving_concurrency: list[PositiveInt] = Field(default_factory=lambda: [1, 16, 64], min_length=1)
    serving_max_requests: PositiveInt = 20000
    serving_warmup_requests: int = Field(default=20, ge=0)
    serving_batch_items: PositiveInt = 32
    serving_request_timeout_s: PositiveFloat = 10.0
    serving_tune_grid: list[TorchServeTuning] = Field(default_factory=list)
    training_years: list[PositiveFloat] = Field(default_factory=lambda: [1.0, 2.0, 4.0], min_length=1)
    training_max_epochs: PositiveInt | None = 15
    memory_poll_s: PositiveFloat = 0.05


class Settings(_Section):
    """The whole configuration; one frozen object passed to every part."""

    data: DataSettings
    sample: SampleSettings
    window: WindowSettings
    split: SplitSettings
    model: ModelSettings
    training: TrainingSettings
    paths: PathSettings
    mlflow: MlflowSettings
    archive: ArchiveSettings
    torchserve: TorchServeSettings
    gateway: GatewaySettings
    ui: UiSettings
    up: UpSettings
    bench: BenchSettings = Field(default_factory=BenchSettings)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
        """Return a copy with `{section: {key: value}}` replaced, validated like the file."""
        raw = self.model_dump(mode="json")
        for section, values in overrides.items():
            raw.setdefault(section, {}).update(values)
        return _validate(raw, source="overrides")


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the YAML at `path` (else SALESCAST_CONFIG, else configs/default.yaml) and apply env overrides."""
    env = os.environ if environ is None else environ
    config_path = Path(path or env.get(ENV_CONFIG) or DEFAULT_CONFIG)
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise SettingsError(f"config file not found: {config_path}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {config_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"config file {config_path} must hold a mapping of sections")
    _apply_env(raw, env)
    return _validate(raw, source=str(config_path))


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if name in ENV_ALIASES:
            section, key = ENV_ALIASES[name]
        elif name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        else:
            continue
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise SettingsError(f"{name}: section `{section}` is not a mapping")
        target[key] = _parse_env_value(value)


def _parse_env_value(value: str) -> Any:
    if value == "":
        return None
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _validate(raw: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {_describe(err)}" for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration ({source}): {problems}") from None


def _describe(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "missing key"
    return f"{err['msg']} (got {err.get('input')!r})"
