"""Live accuracy: the served forecasts, logged when issued, scored against the actuals that arrive later.

A background loop notices when the active data or a served version changes. Then it first scores
every logged forecast step whose day the data now holds (the actual, and the seasonal naive's
forecast of that day from the same origin, for the ratio), and then issues each served category's
forecast from the data's last day (the bulk forecaster's, off TorchServe) and logs it
(`gateway.forecast_log`). Scores are per category and
version over the scored days: RMSE, MAE, coverage of each interval level, and the RMSE over the
seasonal naive's; they count once a version has `live_accuracy.min_days` scored days. They are
answered by `GET /api/models/{category}/live`, exported as
`salescast_live_rmse_ratio_to_seasonal_naive`, shown in the UI's Backtest tab and read by the
retraining schedule's `accuracy_drop` trigger.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from core.settings import Settings
from gateway.bulk_forecasts import BulkForecaster
from gateway.errors import GatewayError
from gateway.forecast_log import ForecastLog, LoggedStep
from gateway.history import HistoryCache
from gateway.job_store import utc_now
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionScore:
    """One version's live record over the days scored so far."""

    version: str
    days: int  # distinct target days scored
    steps: int  # forecast steps scored (a day can be forecast from several origins)
    rmse: float
    mae: float
    naive_rmse: float | None
    ratio_to_seasonal_naive: float | None
    coverage: dict[int, float]  # interval level → share of actuals inside it
    first_day: str
    last_day: str
    ready: bool  # at least `live_accuracy.min_days` days scored


@dataclass(frozen=True)
class LiveReport:
    category: str
    served_version: str | None
    min_days: int
    logged_origins: int
    served: VersionScore | None
    versions: list[VersionScore] = field(default_factory=list)


def score_versions(steps: list[LoggedStep], min_days: int) -> list[VersionScore]:
    """Scores per version (newest version first) of scored steps."""
    by_version: dict[str, list[LoggedStep]] = defaultdict(list)
    for step in steps:
        if step.actual is not None:
            by_version[step.version].append(step)
    return [_score(version, by_version[version], min_days) for version in sorted(by_version, reverse=True)]


def _score(version: str, steps: list[LoggedStep], min_days: int) -> VersionScore:
    errors = [step.prediction - float(step.actual or 0.0) for step in steps]
    rmse = math.sqrt(sum(error * error for error in errors) / len(errors))
    naive_errors = [step.naive - float(step.actual or 0.0) for step in steps if step.naive is not None]
    naive_rmse = math.sqrt(sum(e * e for e in naive_errors) / len(naive_errors)) if naive_errors else None
    levels = sorted({level for step in steps for level in step.intervals})
    coverage = {
        level: sum(
            1
            for step in steps
            if level in step.intervals
            and step.intervals[level][0] <= float(step.actual or 0.0) <= step.intervals[level][1]
        )
        / max(1, sum(1 for step in steps if level in step.intervals))
        for level in levels
    }
    days = sorted({step.target for step in steps})
    ratio = rmse / naive_rmse if naive_rmse else None
    return VersionScore(
        version=version,
        days=len(days),
        steps=len(steps),
        rmse=round(rmse, 6),
        mae=round(sum(abs(error) for error in errors) / len(errors), 6),
        naive_rmse=None if naive_rmse is None else round(naive_rmse, 6),
        ratio_to_seasonal_naive=None if ratio is None else round(ratio, 6),
        coverage={level: round(share, 6) for level, share in coverage.items()},
        first_day=days[0],
        last_day=days[-1],
        ready=len(days) >= min_days,
    )


def actuals_for(
    steps: list[LoggedStep], series: dict[str, pd.Series], season: int
) -> list[tuple[int, float, float | None]]:
    """(row id, actual, seasonal naive) of the steps whose target day the data holds. The seasonal
    naive forecasts a day `step` ahead of the origin with the last observed same day of the season
    (lag = season × ⌈step / season⌉), read from the same data."""
    scored: list[tuple[int, float, float | None]] = []
    for step in steps:
        values = series.get(step.category)
        if values is None or values.empty or step.row_id is None:
            continue
        target = pd.Timestamp(step.target)
        if target > values.index[-1] or target < values.index[0]:
            continue
        actual = float(values.get(target, 0.0))
        lag = season * math.ceil(step.step / season)
        naive_day = target - pd.Timedelta(days=lag)
        naive = float(values.get(naive_day, 0.0)) if naive_day >= values.index[0] else None
        scored.append((step.row_id, actual, naive))
    return scored


class LiveAccuracy:
    """Logs the served forecasts and scores them as data arrives; one per gateway process."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        history: HistoryCache,
        metrics: GatewayMetrics,
    ) -> None:
        self._settings = settings
        self._config = settings.live_accuracy
        self._registry = registry
        self._history = history
        self._forecaster = BulkForecaster(settings, registry, history)
        self._metrics = metrics
        self.log = ForecastLog(settings.paths.run / "forecast_log.db")
        self._seen: tuple[object, ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        if self._config.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.log.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except GatewayError as exc:  # TorchServe or the data away: try again at the next tick
                log.warning("live accuracy not refreshed: %s", exc.message)
            except Exception:
                log.exception("live accuracy refresh failed")
            await asyncio.sleep(self._config.poll_s)

    async def refresh(self, *, force: bool = False) -> bool:
        """Score, then issue, when the data or a served version changed since the last time (or
        `force`); returns whether it ran."""
        async with self._lock:
            source = self._history.source()
            stat = source.path.stat()
            models = self._registry.models or await self._registry.refresh()
            seen = (
                source.dataset_id,
                stat.st_mtime_ns,
                stat.st_size,
                tuple(sorted((name, model.version) for name, model in models.items())),
            )
            if seen == self._seen and not force:
                return False
            series = await self._history.series()
            sha256 = source.record.sha256 if source.record is not None else f"mtime:{stat.st_mtime_ns}"
            await asyncio.to_thread(self._score, series)
            self._export()  # the new scores count at once; issuing runs a batch process
            issued = await self._issue(sha256)
            self._seen = seen
            log.info("live accuracy refreshed dataset=%s forecast_steps_logged=%d", source.dataset_id, issued)
            return True

    def _score(self, series: dict[str, pd.Series]) -> None:
        scored = actuals_for(self.log.unscored(), series, self._settings.bench.season_length)
        if scored:
            self.log.record_actuals(scored)
            log.info("live accuracy scored %d forecast days", len(scored))

    async def _issue(self, sha256: str) -> int:
        """Log every served category's forecast from the data's last day (once per version and
        origin). It comes from the bulk forecaster: the served archives run beside TorchServe, so
        logging never loads a worker or evicts a hot category, and each number equals what
        `GET /api/forecast` answers."""
        horizon = min(self._config.horizon, self._settings.forecast.max_horizon)
        answer = await self._forecaster.forecast(None, horizon, self._config.levels)
        issued = 0
        for item in answer["results"]:
            if item["status"] != 200:
                log.info("live accuracy: no forecast logged for %s: %s", item["category"], item["error"])
                continue
            origin = str(item["history_end"])
            steps = [
                LoggedStep(
                    category=item["category"],
                    version=item["model_version"],
                    dataset_sha256=sha256,
                    origin=origin,
                    step=int(step["step"]),
                    target=str(step["date"]),
                    prediction=float(step["prediction"]),
                    intervals={
                        round(interval["level"]): (float(interval["lower"]), float(interval["upper"]))
                        for interval in step["intervals"]
                    },
                    issued_at=utc_now(),
                )
                for step in item["forecast"]
            ]
            issued += await asyncio.to_thread(self.log.add, steps)
        return issued

    def report(self, category: str) -> LiveReport:
        """The category's live record: every version's scores, and the served one's."""
        served = next((m for m in self._registry.models.values() if m.category == category), None)
        steps = self.log.scored(category)
        versions = score_versions(steps, self._config.min_days)
        version = served.version if served is not None else None
        return LiveReport(
            category=category,
            served_version=version,
            min_days=self._config.min_days,
            logged_origins=len({step.origin for step in steps}),
            served=next((score for score in versions if score.version == version), None),
            versions=versions,
        )

    def ratios(self) -> dict[str, float]:
        """Category → the served version's live RMSE over the seasonal naive's, where it is ready."""
        ratios: dict[str, float] = {}
        for category in self.log.categories():
            served = self.report(category).served
            if served is not None and served.ready and served.ratio_to_seasonal_naive is not None:
                ratios[category] = served.ratio_to_seasonal_naive
        return ratios

    def _export(self) -> None:
        gauge = self._metrics.live_rmse_ratio
        gauge.clear()
        for category, ratio in self.ratios().items():
            gauge.labels(category=category).set(ratio)
