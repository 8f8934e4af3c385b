"""Typed settings: `configs/default.yaml` (or another YAML file) overridden by `SALESCAST_…` variables.

Every part of salescast reads its configuration through `load_settings()`; no part parses the YAML
itself. pydantic-settings composes the sources — environment first, then the YAML file — so
`SALESCAST_GATEWAY__PORT=9000` overrides `gateway.port`; values are read as YAML (`true`, `3`,
`[a, b]`; an empty value is null). Unknown keys and out-of-range values fail at start with a message
naming the key. The default file ships inside the `configs` package, so an installed wheel finds it.
A Field default, where one is given, is the value `configs/default.yaml` holds (tests/core/test_settings.py
keeps the two equal), so a file that leaves a key out behaves like the default file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import holidays
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from core.cron import CronError, parse_cron
from core.errors import SalescastError
from core.net import http_url

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
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/(?!\.\.?(/|$))[A-Za-z0-9!_.*'()-]+)*/?$")


def default_config_path() -> Path:
    """`configs/default.yaml` as installed (package data of `configs`), wherever the project lives."""
    return Path(str(resources.files("configs").joinpath("default.yaml")))


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
    holiday_country: str = "US"

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise ValueError(f"{value!r} is not a country code the holidays package knows (e.g. US, GB, DE)")
        return value

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
    conv_stride: PositiveInt = 7
    lstm_hidden: PositiveInt
    lstm_layers: PositiveInt
    dropout: float = Field(ge=0.0, lt=1.0)
    loss: Literal["mse", "huber"] = "mse"
    members: PositiveInt = 3
    classical_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    classical_weight_without_signal: float = Field(default=0.75, ge=0.0, le=1.0)
    pool_categories: bool = True
    profile_alphas: list[float] = Field(
        default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5], min_length=1
    )
    profile_shrinks: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0], min_length=1)
    profile_anchor_weights: list[Fraction] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0], min_length=1
    )
    profile_anchor_days: int = Field(default=365, ge=0)
    intermittent_zero_share: Fraction = 1.0
    intermittent_alphas_p: list[Fraction] = Field(
        default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2, 0.3], min_length=1
    )
    intermittent_alphas_z: list[Fraction] = Field(
        default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2, 0.3], min_length=1
    )
    theta: bool = False
    theta_alphas: list[Fraction] = Field(
        default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5], min_length=1
    )

    @model_validator(mode="after")
    def _stride_fits(self) -> ModelSettings:
        if self.conv_stride > self.kernel_size:
            raise ValueError(
                f"conv_stride ({self.conv_stride}) must not exceed kernel_size ({self.kernel_size})"
            )
        return self


class TrainingSettings(_Section):
    max_epochs: PositiveInt
    learning_rate: PositiveFloat
    weight_decay: float = Field(ge=0.0)
    batch_size: PositiveInt
    patience: PositiveInt
    max_batches_per_epoch: PositiveInt | None = 500
    seed: int
    num_threads: PositiveInt
    network_workers: int = Field(default=2, ge=0)
    min_history_days: int = Field(default=14, ge=7)
    short_history_profile_weeks: PositiveInt = 4
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None


class PathSettings(_Section):
    artifacts: Path
    model_store: Path
    run: Path
    jobs_db: Path
    datasets: Path = Path("data/datasets")


class MlflowSettings(_Section):
    tracking_uri: str
    artifact_location: str
    experiment: str = Field(min_length=1)
    ui_host: str
    ui_port: Port = Field(gt=0, lt=65536)
    ui_workers: PositiveInt = 1
    ui_allowed_hosts: str | None = None
    registry_prefix: str = Field(default="salescast.", pattern=r"^[A-Za-z0-9_.-]*$")
    http_retries: int = Field(default=2, ge=0)
    http_timeout_s: PositiveInt = 20


class ArchiveSettings(_Section):
    keep_versions: PositiveInt
    batch_size: PositiveInt
    max_batch_delay_ms: int = Field(ge=0)
    workers: PositiveInt
    response_timeout_s: PositiveInt
    parallel: PositiveInt = 2


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
    max_loaded_models: PositiveInt | None = None
    register_concurrency: PositiveInt = 4
    cold_load_timeout_s: PositiveFloat = 60.0
    inference_url: str | None = None
    management_url: str | None = None
    shard_map: Path | None = None
    shard: str | None = None

    @field_validator("shard", mode="before")
    @classmethod
    def _shard_name(cls, value: object) -> object:
        """Shard names are strings; `SALESCAST_TORCHSERVE__SHARD=0` arrives as the number 0."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def inference_base_url(self) -> str:
        """URL of the inference API as other services reach it."""
        return (self.inference_url or http_url(self.host, self.inference_port)).rstrip("/")

    @property
    def management_base_url(self) -> str:
        """URL of the management API as other services reach it."""
        return (self.management_url or http_url(self.host, self.management_port)).rstrip("/")


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
    fast_predict: bool = True
    recent_jobs: PositiveInt
    max_instances_per_call: PositiveInt
    max_connections: PositiveInt
    models_refresh_s: PositiveFloat
    job_nice: int = Field(default=10, ge=0, le=19)
    job_timeout_s: PositiveFloat
    job_poll_s: PositiveFloat = 0.5
    job_stop_timeout_s: PositiveFloat = 10.0
    retry_after_s: PositiveInt
    max_upload_bytes: PositiveInt = 50 * 1024 * 1024
    bulk_timeout_s: PositiveFloat = 600.0
    bulk_cache_entries: PositiveInt = 20000


class UiSettings(_Section):
    host: str
    port: Port = Field(gt=0, lt=65536)
    gateway_url: str
    request_timeout_s: PositiveFloat
    poll_interval_s: PositiveFloat
    rolling_window: PositiveInt
    concurrency_limit: PositiveInt = 8
    upload_timeout_s: PositiveFloat = 120.0
    predict_history_days: int = Field(default=90, ge=14, le=366)
    outlier_factor: PositiveFloat = 1.0
    mlflow_url: str | None = None
    forecast_all_timeout_s: PositiveFloat = 600.0


class UpSettings(_Section):
    health_timeout_s: PositiveFloat
    stop_timeout_s: PositiveFloat = 20.0
    poll_interval_s: PositiveFloat = 0.5


class TorchServeTuning(_Section):
    workers: PositiveInt
    batch_size: PositiveInt
    max_batch_delay_ms: int = Field(ge=0)


class ForecastSettings(_Section):
    max_horizon: int = Field(default=28, ge=1, le=366)
    interval_levels: list[int] = Field(default_factory=lambda: [80, 95], min_length=1)
    interval_scale: Literal["none", "diff", "msd", "mad", "std"] = "msd"
    interval_history: bool = True
    interval_level_exponent: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("interval_levels")
    @classmethod
    def _levels_in_range(cls, value: list[int]) -> list[int]:
        if not all(50 <= level <= 99 for level in value):
            raise ValueError("interval levels must be whole percents from 50 to 99")
        return sorted(set(value))


class CalendarSettings(_Section):
    """Calendar terms (`training.calendar`, `handlers.calendar_terms`): which are fitted and how."""

    holidays: bool = True
    holiday_shrink: float = Field(default=1.0, ge=0.0)
    closed_share: float = Field(default=0.1, ge=0.0, lt=1.0)
    closed_alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    holiday_days_before: int = Field(default=2, ge=0, le=14)
    holiday_days_after: int = Field(default=4, ge=0, le=14)
    neighbour_alpha: float = Field(default=0.01, gt=0.0, lt=1.0)
    neighbour_max_zero_share: float = Field(default=0.25, ge=0.0, le=1.0)
    yearly: bool = True
    yearly_min_days: int = Field(default=730, ge=365)
    yearly_smooth_days: int = Field(default=7, ge=1, le=61)
    yearly_min_agreement: float = Field(default=0.5, ge=0.0, le=1.0)
    month_end: bool = True
    month_end_days: int = Field(default=2, ge=1, le=7)
    min_t: float = Field(default=2.0, ge=0.0)
    floor: float = Field(default=0.2, gt=0.0, le=1.0)
    holiday_years_ahead: int = Field(default=3, ge=1, le=20)

    @property
    def any(self) -> bool:
        """Whether any term is on (off: versions are trained and served as before)."""
        return self.holidays or self.yearly or self.month_end


class StorageSettings(_Section):
    """Where versions are kept besides the local folders: `uri` empty = local files only (the default,
    no server needed); `s3://bucket/prefix` = an S3 bucket (AWS, SeaweedFS, MinIO).

    Credentials are never a setting: boto3 reads them from its own chain (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, a profile), so they never reach a job spec, an `/api`
    answer or MLflow params. The endpoint is `endpoint_url` when set, else AWS_ENDPOINT_URL_S3, else
    AWS_ENDPOINT_URL, else MLFLOW_S3_ENDPOINT_URL, else AWS itself (`storage_endpoint` in
    serving/object_store.py applies that order).
    """

    uri: str = ""
    endpoint_url: str | None = None
    region: str = Field(default="us-east-1", min_length=1)
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    connect_timeout_s: PositiveFloat = 3.0
    read_timeout_s: PositiveFloat = 30.0
    retries: int = Field(default=2, ge=0)

    @field_validator("uri", mode="before")
    @classmethod
    def _empty_is_local(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("uri")
    @classmethod
    def _is_s3_uri(cls, value: str) -> str:
        if value and not _S3_URI.match(value):
            raise ValueError(
                "must be empty (local files only) or s3://bucket/prefix: a bucket of 3-63 lowercase "
                "letters, digits, dots and hyphens, then an optional prefix without `..` or empty parts"
            )
        return value.rstrip("/")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8333")
        return None if value is None else value.rstrip("/")

    @property
    def enabled(self) -> bool:
        """True when versions go to a bucket too."""
        return bool(self.uri)

    @property
    def bucket(self) -> str:
        """`s3://models/salescast` → `models` (empty when local only)."""
        return self.uri.removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        """`s3://models/salescast` → `salescast`; keys of the store are relative to it."""
        return self.uri.removeprefix("s3://").partition("/")[2]


class RedisSettings(_Section):
    """Shared state of gateway replicas (docs/shared-state.md): `url` null = none (the embedded
    default: jobs in the SQLite file `paths.jobs_db`, an in-process forecast cache); `redis://host:port/db`
    = the job store, the one-job-at-a-time lock and the forecast cache live in that Redis, shared by
    every gateway pointed at it. A password belongs in the URL given by the environment
    (`SALESCAST_REDIS__URL`), never in a committed file; messages print the URL without it."""

    url: str | None = None
    key_prefix: str = Field(default="salescast:", pattern=r"^[A-Za-z0-9_.:-]*$")
    connect_timeout_s: PositiveFloat = 2.0
    socket_timeout_s: PositiveFloat = 5.0
    lock_ttl_s: PositiveFloat = 30.0
    forecast_cache_ttl_s: PositiveFloat = 3600.0
    forecast_cache_entries: PositiveInt = 10000

    @field_validator("url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _is_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be null (no shared state) or a redis://, rediss:// or unix:// URL")
        return value


RetrainTrigger = Literal["data_changed", "stale_days", "accuracy_drop"]
_DEFAULT_TRIGGERS: tuple[RetrainTrigger, ...] = ("data_changed", "stale_days")


class LiveAccuracySettings(_Section):
    """Live accuracy (docs/monitoring.md): served forecasts logged when issued, scored as data arrives."""

    enabled: bool = True
    horizon: PositiveInt = 7
    levels: list[float] = Field(default_factory=lambda: [80.0, 95.0])
    min_days: PositiveInt = 7
    poll_s: PositiveFloat = 30.0

    @field_validator("levels")
    @classmethod
    def _levels_are_percentages(cls, value: list[float]) -> list[float]:
        if not value or any(not 0.0 < level < 100.0 for level in value):
            raise ValueError(f"expected one or more interval levels between 0 and 100, got {value}")
        return value


class FreezeWindow(_Section):
    """Days of every year (`MM-DD` to `MM-DD`, inclusive, in the schedule's time zone; a window may
    wrap the new year) when scheduled jobs train and archive but do not deploy: peak season."""

    start: str
    end: str
    name: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            month, day = (int(part) for part in value.split("-"))
            date(2024, month, day)  # a leap year: 02-29 is a day some years have
        except ValueError:
            raise ValueError(f"expected a month and day as MM-DD (e.g. 11-15), got {value!r}") from None
        return f"{month:02d}-{day:02d}"

    def bounds(self) -> tuple[tuple[int, int], tuple[int, int]]:
        start_month, start_day = (int(part) for part in self.start.split("-"))
        end_month, end_day = (int(part) for part in self.end.split("-"))
        return (start_month, start_day), (end_month, end_day)


class RetrainSettings(_Section):
    """Scheduled retraining (docs/retraining.md): at each `cron` time one gateway process files a
    `train_all` job when one of `triggers` holds."""

    enabled: bool = False
    cron: str = "0 3 * * *"
    triggers: list[RetrainTrigger] = Field(default_factory=lambda: list(_DEFAULT_TRIGGERS))
    stale_days: PositiveFloat = 7
    deploy: DeployPolicy = "if_better"
    only_changed: bool = True
    poll_s: PositiveFloat = 60.0
    timezone: str = Field(default="UTC", min_length=1)
    accuracy_drop_ratio: PositiveFloat = 1.0
    freeze: list[FreezeWindow] = Field(default_factory=list)

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        try:
            parse_cron(value)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("triggers")
    @classmethod
    def _distinct(cls, value: list[RetrainTrigger]) -> list[RetrainTrigger]:
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value


class BenchSettings(_Section):
    seeds: list[int] = Field(default_factory=lambda: [42, 43, 44], min_length=1)
    folds: PositiveInt = 5
    fold_days: PositiveInt = 28
    season_length: PositiveInt = 7
    retailer_categories: PositiveInt = 8
    out_dir: Path = Path("bench-results")
    serving_duration_s: PositiveFloat = 10.0
    serving_concurrency: list[PositiveInt] = Field(default_factory=lambda: [1, 16, 64], min_length=1)
    serving_max_requests: PositiveInt = 20000
    serving_warmup_requests: int = Field(default=20, ge=0)
    serving_warmup_s: float = Field(default=10.0, ge=0)
    serving_batch_items: PositiveInt = 1000
    serving_batch_concurrency: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1)
    serving_request_timeout_s: PositiveFloat = 10.0
    serving_client: Literal["auto", "wrk", "python"] = "auto"
    serving_wrk: str = "wrk"
    serving_client_threads: PositiveInt = 1
    serving_tune_grid: list[TorchServeTuning] = Field(
        default_factory=lambda: [
            TorchServeTuning(workers=1, batch_size=1, max_batch_delay_ms=5),
            TorchServeTuning(workers=1, batch_size=8, max_batch_delay_ms=1),
            TorchServeTuning(workers=1, batch_size=8, max_batch_delay_ms=5),
            TorchServeTuning(workers=2, batch_size=1, max_batch_delay_ms=5),
        ]
    )
    training_years: list[PositiveFloat] = Field(default_factory=lambda: [1.0, 2.0, 4.0], min_length=1)
    training_max_epochs: PositiveInt | None = 15
    memory_poll_s: PositiveFloat = 0.05


class Settings(BaseSettings):
    """The whole configuration; one frozen object passed to every part."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )

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
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    bench: BenchSettings = Field(default_factory=BenchSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    live_accuracy: LiveAccuracySettings = Field(default_factory=LiveAccuracySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what `load_settings` passes in: it composes the YAML and environment sources itself,
        so a test can load with an environment of its own instead of this process's."""
        return (init_settings,)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
        """Return a copy with `{section: {key: value}}` replaced, validated like the file."""
        raw = self.model_dump(mode="json")
        for section, values in overrides.items():
            raw.setdefault(section, {}).update(values)
        return _validate(raw, source="overrides")


class _YamlEnvSource(EnvSettingsSource):
    """`SALESCAST_SECTION__KEY` variables from a given mapping, each value read as YAML."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = {name: value for name, value in environ.items() if name not in ENV_ALIASES}
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items()}

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        return _parse_env_value(value)

    def __call__(self) -> dict[str, Any]:
        return {key: _parse_leaves(value) for key, value in super().__call__().items()}


def _parse_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _parse_leaves(item) for key, item in value.items()}
    return _parse_env_value(value)


class _AliasSource(PydanticBaseSettingsSource):
    """The shorthands (`SALESCAST_API_KEY`, `SALESCAST_GATEWAY_URL`, `MLFLOW_TRACKING_URI`)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(Settings)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        raw: dict[str, dict[str, Any]] = {}
        for name, (section, key) in ENV_ALIASES.items():
            if name in self._environ:
                raw.setdefault(section, {})[key] = _parse_env_value(self._environ[name])
        return raw


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the YAML at `path` (else SALESCAST_CONFIG, else configs/default.yaml) and apply env overrides.

    Precedence: `SALESCAST_SECTION__KEY` > the shorthands > the file.
    """
    env = os.environ if environ is None else environ
    config_path = Path(path or env.get(ENV_CONFIG) or default_config_path())
    try:
        text = config_path.read_text(encoding="utf-8")
        file_values = yaml.safe_load(text) or {}
    except FileNotFoundError as exc:
        raise SettingsError(f"config file not found: {config_path}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {config_path} is not valid YAML: {exc}") from exc
    if not isinstance(file_values, dict):
        raise SettingsError(f"config file {config_path} must hold a mapping of sections")
    _check_env_sections(env)
    try:
        layers = [file_values, _AliasSource(env)(), _YamlEnvSource(env)()]
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"invalid environment override: {exc}") from None
    return _validate(_deep_merge(layers), source=str(config_path))


def _check_env_sections(env: Mapping[str, str]) -> None:
    """A `SALESCAST_X__KEY` whose section X does not exist is a typo: say so instead of ignoring it."""
    for name in env:
        if name.startswith(ENV_PREFIX) and "__" in name:
            section = name[len(ENV_PREFIX) :].partition("__")[0].lower()
            if section not in Settings.model_fields:
                raise SettingsError(
                    f"{name}: unknown section `{section}`; sections: {', '.join(Settings.model_fields)}"
                )


def _deep_merge(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Later layers win, section by section (a section given as a non-mapping replaces it whole)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, values in layer.items():
            current = merged.get(section)
            if isinstance(current, dict) and isinstance(values, dict):
                merged[section] = {**current, **values}
            else:
                merged[section] = values
    return merged


def _parse_env_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
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
