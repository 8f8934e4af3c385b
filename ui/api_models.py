"""The gateway's JSON answers as the UI reads them (a client-side copy of the /api response shapes).

The UI is an HTTP client and must not import `gateway/`; these models hold only the fields the
UI shows and ignore any others, so the gateway can add fields without breaking the page.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["queued", "running", "succeeded", "failed"]
FINISHED_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Interval(_Answer):
    level: float
    lower: float
    upper: float


class ForecastStep(_Answer):
    """One day of a multi-day forecast (`date` only on the forecast route); intervals may be empty."""

    step: int
    date: str | None = None
    prediction: float
    intervals: list[Interval] = []


class ForecastTotal(_Answer):
    """The total of the days ahead with its own intervals (None, with `note` saying why, when the
    version has none)."""

    days: int
    prediction: float
    intervals: list[Interval] | None = None
    note: str | None = None


class CalendarUse(_Answer):
    """How the forecast used the version's calendar terms (holidays, season): applied from
    `last_date`, or `note` saying why not (None on the answer: a version without them, no date sent)."""

    applied: bool
    last_date: str | None = None
    uses: list[str] | None = None  # what the date drove (None: an older gateway)
    note: str | None = None


class _ForecastAnswer(_Answer):
    """What both forecast routes answer: the next day's prediction and, from a gateway with horizons,
    every day ahead and (2 days or more) their total."""

    category: str
    prediction: float
    model_version: str
    horizon: int | None = None
    forecast: list[ForecastStep] = []
    total: ForecastTotal | None = None
    calendar: CalendarUse | None = None

    def steps(self) -> list[ForecastStep]:
        """The forecast days, or the one next-day prediction of a gateway without horizons."""
        return list(self.forecast) or [ForecastStep(step=1, prediction=self.prediction)]


class Prediction(_ForecastAnswer):
    """`POST /api/predict`: a forecast from the sales the page sent."""

    window_size: int


class Forecast(_ForecastAnswer):
    """`GET /api/forecast/{category}`: a forecast from the stored history, for the day after it."""

    date: str
    window_size: int | None = None
    history_end: str


class Backtest(_Answer):
    """The served version on its held-out test days: actual vs the model and each baseline."""

    category: str
    model_version: str
    dates: list[str]
    actual: list[float]
    forecasts: dict[str, list[float]]


class LiveScore(_Answer):
    """One version's logged forecasts scored against the days that came after."""

    version: str
    days: int
    rmse: float
    mae: float
    ratio_to_seasonal_naive: float | None
    coverage: dict[str, float]
    first_day: str
    last_day: str
    ready: bool


class LiveAccuracy(_Answer):
    category: str
    served_version: str | None
    min_days: int
    served: LiveScore | None


class CategorySummary(_Answer):
    category: str
    days: int
    first: str
    last: str
    zero_days_pct: float


class DatasetColumns(_Answer):
    date: str
    category: str
    amount: str
    date_format: str | None = None


class DatasetUploaded(_Answer):
    dataset_id: str
    name: str
    sha256: str | None = None
    columns: DatasetColumns
    categories: list[CategorySummary]
    warnings: list[str] = []


class Dataset(DatasetUploaded):
    size_bytes: int | None = None
    uploaded_at: str | None = None
    active: bool = False


class DatasetList(_Answer):
    active: str
    datasets: list[Dataset]

    def active_dataset(self) -> Dataset | None:
        """The dataset history and training read now."""
        return next((dataset for dataset in self.datasets if dataset.active), None)


class History(_Answer):
    category: str
    start: str | None = None
    end: str | None = None
    dates: list[str]
    sales: list[float]


class ModelVersion(_Answer):
    version: str
    is_default: bool = False
    window_size: int | None = None
    ready_workers: int = 0
    registered_model: str | None = None  # MLflow's registry (None: not recorded, or an older gateway)
    registry_version: str | None = None
    aliases: list[str] = []
    run_id: str | None = None


class Classical(_Answer):
    """The classical part of a version's blend and its share (None: the gateway does not say)."""

    method: str
    weight: float | None = None


class Fallback(_Answer):
    kind: str
    reason: str = ""


class CalendarTerms(_Answer):
    """Which calendar terms a version applies when sent the date of the last value."""

    country: str | None = None
    holidays: int = 0
    holidays_until: str | None = None
    yearly: bool = False
    month_end: bool = False


class CategoryModel(_Answer):
    """A served category; `max_horizon` is the most days ahead its default version forecasts (1 when
    the gateway does not say: every version forecasts the next day)."""

    category: str
    default_version: str | None = None
    window_size: int | None = None
    max_horizon: int = 1
    test_metrics: dict[str, Any] | None = None
    loaded: bool | None = None  # holds a worker now (None: the gateway does not say)
    classical: Classical | None = None  # None: an older version or gateway
    fallback: Fallback | None = None  # why it serves only the classical part (None: it does not)
    calendar: CalendarTerms | None = None  # None: no calendar terms (or an older gateway)
    weekday_input: bool = False  # its model reads the weekday from `last_date` (False: older ones)
    versions: list[ModelVersion] = []


class ModelList(_Answer):
    """Served categories, with how many hold a worker under the budget (None: not said)."""

    models: list[CategoryModel]
    loaded: int | None = None
    archived: int | None = None
    max_loaded_models: int | None = None


class JobAccepted(_Answer):
    job_id: str
    status: JobStatus
    status_url: str | None = None


class CategoryOutcome(_Answer):
    category: str
    state: str
    version: str | None = None
    served_version_before: str | None = None
    metrics: dict[str, Any] | None = None
    deployed: bool | None = None
    deploy_reason: str | None = None
    failed_step: str | None = None
    error: str | None = None
    seconds: float | None = None
    epoch: int | None = None
    max_epochs: int | None = None
    classical_only: bool | None = None  # a short history's version: no networks, no epochs
    train_loss: float | None = None
    val_loss: float | None = None
    train_losses: list[float] = []
    val_losses: list[float | None] = []
    warnings: list[str] = []
    mlflow_experiment_id: str | None = None
    mlflow_run_id: str | None = None


class Job(_Answer):
    job_id: str
    kind: str = "train"
    status: JobStatus
    categories: list[str] = []
    experiment_name: str | None = None
    deploy_policy: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    dataset_sha256: str | None = None
    results: list[CategoryOutcome] = []

    @property
    def finished(self) -> bool:
        """True once the job has reached `succeeded` or `failed` (polling can stop)."""
        return self.status in FINISHED_STATUSES


class JobList(_Answer):
    jobs: list[Job]


class TorchServeHealth(_Answer):
    status: str
    detail: str | None = None


class Health(_Answer):
    status: str
    torchserve: TorchServeHealth


class ScheduledRun(_Answer):
    at: str
    reason: str | None = None
    job_id: str | None = None
    skipped: str | None = None
    error: str | None = None


class Schedule(_Answer):
    enabled: bool
    cron: str
    timezone: str
    next_run: str | None
    last_run: ScheduledRun | None
    last_job_status: str | None = None
    runner: str
