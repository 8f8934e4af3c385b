"""The daily sales series the models learn from, loaded with training's own loader and cached.

They come from the active dataset (`core.datasets`: an upload, or the configured `data.path`). The
cache key is the dataset id and its file's path, mtime and size: activating another dataset or
replacing the configured CSV is picked up on the next request without a restart. Loading runs in a
worker thread so the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date
from pathlib import Path

import pandas as pd

from core.datasets import DatasetSource, DatasetStore
from core.dates import parse_day
from core.errors import SalescastError
from core.settings import Settings
from gateway.errors import DataUnavailableError, InputError, UnknownCategoryError

log = logging.getLogger(__name__)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # RFC 3339 full-date: what `format: date` promises


class HistoryCache:
    """`series()` returns every category's daily Series, re-read only when the file changed."""

    def __init__(self, settings: Settings, store: DatasetStore) -> None:
        self._settings = settings
        self._store = store
        self._key: tuple[str, str, int, int] | None = None
        self._series: dict[str, pd.Series] = {}
        self._lock = asyncio.Lock()

    def source(self) -> DatasetSource:
        """The active dataset (read from its pointer on every call, so activation takes effect at once)."""
        return self._store.active_source()

    @property
    def path(self) -> Path:
        return self.source().path

    async def series(self) -> dict[str, pd.Series]:
        source = self.source()
        path = source.path
        try:
            stat = path.stat()
        except OSError as exc:
            raise DataUnavailableError(f"sales data file {path} cannot be read: {exc.strerror}") from exc
        key = (source.dataset_id, str(path), stat.st_mtime_ns, stat.st_size)
        if key == self._key:
            return self._series
        async with self._lock:
            if key != self._key:
                from core.sales_data import load_daily_sales

                try:
                    loaded = await asyncio.to_thread(load_daily_sales, source.data, path)
                except SalescastError as exc:
                    raise DataUnavailableError(f"sales data file {path} cannot be used: {exc}") from exc
                self._series, self._key = loaded, key
                log.info(
                    "history loaded dataset=%s path=%s categories=%s",
                    source.dataset_id,
                    path,
                    ",".join(loaded),
                )
        return self._series

    async def categories(self) -> list[str]:
        """Categories training would use: the config's list for the configured file, else every
        category in the active dataset."""
        listed = self.source().data.categories
        if isinstance(listed, list):
            return list(listed)
        return list(await self.series())

    async def category(self, category: str) -> tuple[str, pd.Series]:
        """The Series of `category` (exact or case-insensitive name); 404 naming the known ones."""
        series = await self.series()
        if category in series:
            return category, series[category]
        for name, values in series.items():
            if name.casefold() == category.casefold():
                return name, values
        raise UnknownCategoryError(
            f"unknown category {category!r}; categories in the data: {', '.join(sorted(series))}"
        )


def query_day(value: str | None, name: str) -> date | None:
    """A `start`/`end` query value: YYYY-MM-DD exactly, as the OpenAPI document says (`parse_day`
    alone would also take a time part, other ISO forms and a blank); None when absent."""
    if value is not None and not _DAY.fullmatch(value):
        raise InputError(f"{name} must be a date as YYYY-MM-DD, got {value!r}")
    return parse_day(value, name)  # a DayError (422) for a day that does not exist, e.g. 2023-02-30


def slice_days(series: pd.Series, start: date | None, end: date | None) -> pd.Series:
    """Inclusive date range of a daily Series; 422 when start is after end.

    The bounds are clamped to the series' own days first: pandas cannot slice a nanosecond index
    by a day outside its range (year 565 or 9999), and no day there holds data anyway."""
    if start and end and start > end:
        raise InputError(f"start ({start}) is after end ({end})")
    if series.empty:
        return series
    first, last = series.index[0].date(), series.index[-1].date()
    if (start and start > last) or (end and end < first):
        return series.iloc[:0]
    lower = pd.Timestamp(max(start, first)) if start else None
    upper = pd.Timestamp(min(end, last)) if end else None
    return series.loc[lower:upper]
