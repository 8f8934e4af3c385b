"""Live accuracy against a real gateway in front of the session's TorchServe: each day's data arrives
(the data file is replaced, as a nightly export would), the gateway logs the served forecast from
that day, and the forecasts logged earlier are scored against the new actuals — the logged numbers,
never a forecast remade later. Plus the scoring arithmetic on hand-made steps."""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from gateway.forecast_log import LoggedStep
from gateway.live_accuracy import actuals_for, score_versions
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.gateway import GatewayProcess

CATEGORY = "Beauty"
DAYS = 7  # data deliveries after the first: scored days, = min_days
LEVELS = (80, 95)


def _step(
    version: str, target: str, prediction: float, actual: float, naive: float, step: int = 1
) -> LoggedStep:
    return LoggedStep(
        category=CATEGORY,
        version=version,
        dataset_sha256="x",
        origin="2024-01-01",
        step=step,
        target=target,
        prediction=prediction,
        intervals={80: (prediction - 1, prediction + 1), 95: (prediction - 3, prediction + 3)},
        issued_at="2024-01-01T00:00:00Z",
        actual=actual,
        naive=naive,
    )


def test_scores_are_rmse_coverage_and_the_ratio_to_the_seasonal_naive() -> None:
    steps = [
        _step("v1", "2024-01-02", 10, 12, 14),  # error 2 (outside 80 %, inside 95 %), naive error 2
        _step("v1", "2024-01-03", 10, 10, 6),  # error 0, naive error 4
        _step("v2", "2024-01-02", 11, 12, 14),
    ]
    v2, v1 = score_versions(steps, min_days=2)
    assert (v1.version, v1.days, v1.steps, v1.ready) == ("v1", 2, 2, True)
    assert v1.rmse == pytest.approx(math.sqrt(2))
    assert v1.naive_rmse == pytest.approx(math.sqrt(10))
    assert v1.ratio_to_seasonal_naive == pytest.approx(math.sqrt(2) / math.sqrt(10), abs=1e-6)
    assert v1.coverage == {80: 0.5, 95: 1.0}
    assert (v2.version, v2.days, v2.ready) == ("v2", 1, False)


def test_the_seasonal_naive_reads_the_same_weekday_before_the_origin() -> None:
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    series = {CATEGORY: pd.Series(range(30), index=days, dtype=float)}
    open_steps = [
        replace(_step("v", "2024-01-20", 0, 0, 0, step=1), row_id=1),
        replace(_step("v", "2024-01-29", 0, 0, 0, step=10), row_id=2),
        replace(_step("v", "2024-02-05", 0, 0, 0), row_id=3),  # beyond the data
    ]
    scored = actuals_for(open_steps, series, season=7)
    assert scored == [(1, 19.0, 12.0), (2, 28.0, 14.0)]  # step 10: lag 14 (the origin's data only)


def _write_until(source: pd.DataFrame, last_day: pd.Timestamp, path: Path) -> None:
    part = source[pd.to_datetime(source["Date"]) <= last_day]
    tmp = path.with_suffix(".tmp")
    part.to_csv(tmp, index=False)
    tmp.replace(path)


def _live(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/api/models/{CATEGORY}/live", timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _logged(settings: Settings) -> list[tuple[str, int, float, float | None]]:
    with sqlite3.connect(settings.paths.run / "forecast_log.db") as db:
        rows = db.execute(
            "SELECT origin, step, prediction, actual FROM forecasts WHERE category = ? ORDER BY origin, step",
            (CATEGORY,),
        ).fetchall()
    return [(str(r[0]), int(r[1]), float(r[2]), r[3]) for r in rows]


@pytest.mark.slow
@pytest.mark.torchserve
def test_forecasts_logged_when_issued_are_scored_as_the_days_arrive(
    tmp_path: Path, test_settings: Settings, torchserve: object
) -> None:
    source = pd.read_csv(SAMPLE_DATA)
    end = pd.Timestamp(pd.to_datetime(source["Date"]).max())
    first = end - pd.Timedelta(days=2 * DAYS)
    data = tmp_path / "export.csv"
    _write_until(source, first, data)
    served = test_settings.torchserve
    settings = make_test_settings(
        tmp_path,
        data={"path": str(data)},
        paths={
            "model_store": str(test_settings.paths.model_store),
            "artifacts": str(test_settings.paths.artifacts),
        },
        torchserve={
            "inference_port": served.inference_port,
            "management_port": served.management_port,
            "metrics_port": served.metrics_port,
        },
        live_accuracy={"enabled": True, "poll_s": 0.3, "min_days": DAYS, "levels": list(LEVELS)},
    )
    actual = load_daily_sales(settings.data, SAMPLE_DATA)[CATEGORY]
    with GatewayProcess(settings, tmp_path / "gateway") as gateway:
        deadline = time.monotonic() + 120
        while not _logged(settings) and time.monotonic() < deadline:
            time.sleep(0.3)
        logged = _logged(settings)
        assert logged and {row[0] for row in logged} == {first.date().isoformat()}, logged
        # What was logged is what a user asking then was told.
        told = httpx.get(
            f"{gateway.url}/api/forecast/{CATEGORY}",
            params={"horizon": len(logged), "levels": list(LEVELS)},
            timeout=30,
        ).json()
        assert [step["prediction"] for step in told["forecast"]] == pytest.approx([row[2] for row in logged])
        assert _live(gateway.url)["served"] is None  # nothing scored before a day arrives

        # Deliveries on the next days with sales (a day without any sale does not move the data's end).
        deliveries = sorted({day for day in pd.to_datetime(source["Date"]) if day > first})[:DAYS]
        for delivered in deliveries:
            _write_until(source, delivered, data)
            expected = (delivered - first).days  # every day since the first origin, zero-sale days too
            deadline = time.monotonic() + 60
            report = _live(gateway.url)
            while (report["served"] or {}).get("days", 0) < expected and time.monotonic() < deadline:
                time.sleep(0.3)
                report = _live(gateway.url)
            assert report["served"] and report["served"]["days"] == expected, report

        served_score = report["served"]
        assert served_score["ready"] and served_score["version"] == report["served_version"]
        assert served_score["ratio_to_seasonal_naive"] is not None and served_score["rmse"] >= 0
        assert set(served_score["coverage"]) == {str(level) for level in LEVELS}
        assert all(0.0 <= share <= 1.0 for share in served_score["coverage"].values())
        # The actuals are the data's, and the first forecast's numbers were kept as issued.
        rows = _logged(settings)
        first_origin = [row for row in rows if row[0] == first.date().isoformat()]
        assert [row[2] for row in first_origin] == [row[2] for row in logged]
        for origin, step, _prediction, scored in rows:
            target = pd.Timestamp(origin) + pd.Timedelta(days=step)
            if target <= deliveries[-1]:
                assert scored == pytest.approx(float(actual.get(target, 0.0))), (origin, step)
        gauge = f'salescast_live_rmse_ratio_to_seasonal_naive{{category="{CATEGORY}"}}'
        deadline = time.monotonic() + 10  # exported right after the scores are written
        metrics = httpx.get(f"{gateway.url}/metrics", timeout=30).text
        while gauge not in metrics and time.monotonic() < deadline:
            time.sleep(0.2)
            metrics = httpx.get(f"{gateway.url}/metrics", timeout=30).text
        assert gauge in metrics, metrics[-2000:]
