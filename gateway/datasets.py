"""Uploads and the dataset list: an upload is streamed to a staging file (counted, hashed), checked in a
worker thread with training's own loader, then stored content-addressed and recorded (`core.datasets`).

A failed upload leaves nothing behind and changes neither the active dataset nor any served model.
The configured file (`default`) is listed beside the uploads with a summary computed once per version
of the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from core.column_detection import ColumnDetectionError, Role
from core.contracts.dataset import CategorySummary, DatasetColumns, DatasetRecord
from core.dataset_inspection import UploadError, inspect_upload, summarize
from core.datasets import DEFAULT_DATASET_ID, DatasetSource, DatasetStore, UnknownDatasetError
from core.errors import SalescastError
from core.settings import Settings
from gateway.errors import DataUnavailableError, InputError, NotFoundError, PayloadTooLargeError
from gateway.history import HistoryCache
from gateway.schemas.datasets import DatasetItem

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20


class UploadedFile(Protocol):
    """The part of Starlette's `UploadFile` an upload needs."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


class DatasetService:
    """Upload, list and activate datasets for one gateway."""

    def __init__(self, settings: Settings, store: DatasetStore) -> None:
        self._settings = settings
        self._store = store
        self._default_summary: tuple[tuple[int, int], list[CategorySummary]] | None = None
        self._lock = asyncio.Lock()

    async def upload(
        self, upload: UploadedFile, given: Mapping[Role, str | None], date_format: str | None
    ) -> DatasetRecord:
        """Stream, check and store one upload; 413 over `gateway.max_upload_bytes`, 422 for a file that
        cannot be read as sales data (the message names the line or column and what was expected)."""
        limit = self._settings.gateway.max_upload_bytes
        name = Path(upload.filename or "upload.csv").name
        with self._store.staging_file(name) as staged:
            digest, size = hashlib.sha256(), 0
            with staged.open("wb") as handle:
                while chunk := await upload.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLargeError(
                            f"{name} is larger than the upload limit of {limit} bytes "
                            "(gateway.max_upload_bytes)"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
            try:
                inspection = await asyncio.to_thread(
                    inspect_upload, staged, name, given, date_format, self._settings.data
                )
            except ColumnDetectionError as exc:
                raise InputError(str(exc)) from None
            except UploadError as exc:
                raise InputError(str(exc)) from None
            async with self._lock:
                record = await asyncio.to_thread(
                    self._store.add, staged, name, digest.hexdigest(), inspection
                )
        log.info(
            "dataset uploaded dataset=%s name=%s bytes=%d categories=%s",
            record.dataset_id,
            record.name,
            size,
            ",".join(summary.category for summary in record.categories),
        )
        return record

    async def views(self) -> list[DatasetItem]:
        """The configured file first, then every upload, each with its active flag."""
        active = self._store.active_id()
        views = [await self._default_view(active == DEFAULT_DATASET_ID)]
        views += [_record_view(record, record.dataset_id == active) for record in self._store.records()]
        return views

    async def activate(self, dataset_id: str) -> DatasetItem:
        """Make `dataset_id` active; 404 naming the known ids. The next history read uses it."""
        try:
            async with self._lock:
                source = await asyncio.to_thread(self._store.activate, dataset_id)
        except UnknownDatasetError as exc:
            raise NotFoundError(str(exc)) from None
        log.info("dataset activated dataset=%s name=%s", source.dataset_id, source.name)
        return await self.view(source)

    async def view(self, source: DatasetSource) -> DatasetItem:
        active = source.dataset_id == self._store.active_id()
        if source.record is None:
            return await self._default_view(active)
        return _record_view(source.record, active)

    async def _default_view(self, active: bool) -> DatasetItem:
        source = self._store.source(DEFAULT_DATASET_ID)
        data = source.data
        return DatasetItem(
            dataset_id=DEFAULT_DATASET_ID,
            name=source.name,
            sha256=None,
            size_bytes=_size(source.path),
            uploaded_at=None,
            columns=DatasetColumns(
                date=data.date_column,
                category=data.category_column,
                amount=data.amount_column,
                date_format=data.date_format,
            ),
            categories=await self._default_categories(source),
            warnings=[],
            active=active,
        )

    async def _default_categories(self, source: DatasetSource) -> list[CategorySummary]:
        """Summary of the configured file, computed once per (mtime, size); empty when unreadable."""
        try:
            stat = source.path.stat()
        except OSError:
            return []
        key = (stat.st_mtime_ns, stat.st_size)
        if self._default_summary is None or self._default_summary[0] != key:
            from core.sales_data import load_daily_sales

            zero_filled = source.data.model_copy(update={"fill_policy": "zero", "categories": "auto"})
            try:
                sales = await asyncio.to_thread(load_daily_sales, zero_filled, source.path)
            except SalescastError as exc:
                log.warning("configured data file cannot be summarized: %s", exc)
                return []
            self._default_summary = (key, [summarize(name, series) for name, series in sales.items()])
        return self._default_summary[1]


def _record_view(record: DatasetRecord, active: bool) -> DatasetItem:
    return DatasetItem.model_validate(
        {**dict(record), "active": active}
    )  # the stored file name stays private


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def active_dataset_or_503(history: HistoryCache) -> DatasetSource:
    """The active dataset for a new job; 503 when its record cannot be read."""
    try:
        return history.source()
    except SalescastError as exc:
        raise DataUnavailableError(f"the active dataset cannot be used: {exc}") from None
