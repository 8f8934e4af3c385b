"""The log of issued forecasts (`paths.run/forecast_log.db`): what the served model said, when it said it.

Live accuracy is only honest if it scores the forecasts users were given, with the version and the
history of that moment — never a forecast of the past remade with today's model. So each issued
forecast step is a row (category, version, dataset, origin = the history's last day, step, target
day, prediction, intervals), written once (the same version forecasting from the same origin is not
logged twice), and its actual is filled in when a later dataset holds the target day.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from core.sqlite_file import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forecasts (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    version TEXT NOT NULL,
    dataset_sha256 TEXT NOT NULL,
    origin TEXT NOT NULL,
    step INTEGER NOT NULL,
    target TEXT NOT NULL,
    prediction REAL NOT NULL,
    intervals TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    actual REAL,
    naive REAL,
    UNIQUE (category, version, origin, step)
);
CREATE INDEX IF NOT EXISTS forecasts_open ON forecasts (category, actual);
"""


@dataclass(frozen=True)
class LoggedStep:
    """One day of one issued forecast; `actual` and `naive` (the seasonal naive's forecast of the
    same day from the same origin) once the data holds the day."""

    category: str
    version: str
    dataset_sha256: str
    origin: str
    step: int
    target: str
    prediction: float
    intervals: dict[int, tuple[float, float]]  # level → (lower, upper)
    issued_at: str
    actual: float | None = None
    naive: float | None = None
    row_id: int | None = None


class ForecastLog:
    """Append issued forecasts, fill their actuals, read them back; safe from threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def has_origin(self, category: str, version: str, origin: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM forecasts WHERE category = ? AND version = ? AND origin = ? LIMIT 1",
                (category, version, origin),
            ).fetchone()
        return row is not None

    def add(self, steps: list[LoggedStep]) -> int:
        """Log the steps of one forecast in one transaction (steps already logged are kept as they
        were); returns how many were new."""
        rows = [
            (
                s.category,
                s.version,
                s.dataset_sha256,
                s.origin,
                s.step,
                s.target,
                s.prediction,
                json.dumps({str(level): list(bounds) for level, bounds in s.intervals.items()}),
                s.issued_at,
            )
            for s in steps
        ]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO forecasts (category, version, dataset_sha256, origin, step, target,"
                " prediction, intervals, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def unscored(self) -> list[LoggedStep]:
        """Every logged step whose actual is not known yet."""
        return self._select("actual IS NULL", ())

    def scored(self, category: str) -> list[LoggedStep]:
        return self._select("actual IS NOT NULL AND category = ?", (category,))

    def categories(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT category FROM forecasts ORDER BY category").fetchall()
        return [str(row[0]) for row in rows]

    def record_actuals(self, scored: list[tuple[int, float, float | None]]) -> None:
        """(row id, actual, seasonal naive) for the steps whose day the data now holds."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE forecasts SET actual = ?, naive = ? WHERE id = ?",
                [(actual, naive, row_id) for row_id, actual, naive in scored],
            )
            self._db.execute("COMMIT")

    def _select(self, where: str, params: tuple[str, ...]) -> list[LoggedStep]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, category, version, dataset_sha256, origin, step, target, prediction, intervals,"
                f" issued_at, actual, naive FROM forecasts WHERE {where} ORDER BY target, step",
                params,
            ).fetchall()
        return [
            LoggedStep(
                row_id=row[0],
                category=row[1],
                version=row[2],
                dataset_sha256=row[3],
                origin=row[4],
                step=row[5],
                target=row[6],
                prediction=row[7],
                intervals={
                    int(level): (bounds[0], bounds[1]) for level, bounds in json.loads(row[8]).items()
                },
                issued_at=row[9],
                actual=row[10],
                naive=row[11],
            )
            for row in rows
        ]
