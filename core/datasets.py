"""The datasets salescast can learn from: the configured file (`data.path`, id `default`) and uploads.

Layout under `paths.datasets`: `files/<sha256><suffix>` (uploaded bytes, content-addressed, read as
data only), `records/<dataset_id>.json` (`core.contracts.dataset`) and `active.json`
(`core.contracts.active_dataset`). An upload is staged in `.staging/`, checked, moved into `files/`
and recorded; only then can it be activated, so a failed upload changes nothing another reader sees.
A dataset id is derived from the file's SHA-256 and its column mapping: the same file read the same
way is one dataset.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.contracts.active_dataset import ActiveDataset, read_active, write_active
from core.contracts.dataset import (
    DATASET_ID_PATTERN,
    DatasetColumns,
    DatasetRecord,
    list_datasets,
    read_dataset,
    write_dataset,
)
from core.contracts.files import ContractError
from core.dataset_inspection import Inspection, reading_settings
from core.errors import SalescastError
from core.settings import DataSettings, Settings

DEFAULT_DATASET_ID = "default"
FILES_DIR = "files"
STAGING_DIR = ".staging"


class UnknownDatasetError(SalescastError, LookupError):
    """No dataset has that id; the message lists the known ones."""


@dataclass(frozen=True)
class DatasetSource:
    """What a reader loads for one dataset: its file and the data settings to read it with."""

    dataset_id: str
    name: str
    path: Path
    data: DataSettings
    record: DatasetRecord | None  # None for the configured file


def utc_timestamp() -> str:
    """ISO-8601 UTC with a Z, second precision (as job records)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset_id_for(sha256: str, columns: DatasetColumns) -> str:
    """16 hex digits naming the file's bytes and how they are read."""
    mapping = json.dumps(columns.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(f"{sha256}\n{mapping}".encode()).hexdigest()[:16]


class DatasetStore:
    """Reads and writes the datasets folder of `settings` (`paths.datasets`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.root = settings.paths.datasets

    # ---- reading --------------------------------------------------------------------------------

    def records(self) -> list[DatasetRecord]:
        """Every uploaded dataset, oldest first."""
        return list_datasets(self.root)

    def active_id(self) -> str:
        """The active dataset's id; `default` when none was activated (or its record is gone)."""
        try:
            active = read_active(self.root)
        except ContractError:
            return DEFAULT_DATASET_ID
        if active is None or active.dataset_id == DEFAULT_DATASET_ID:
            return DEFAULT_DATASET_ID
        try:
            read_dataset(self.root, active.dataset_id)
        except ContractError:
            return DEFAULT_DATASET_ID
        return active.dataset_id

    def source(self, dataset_id: str) -> DatasetSource:
        """The file and read settings of `dataset_id`; `UnknownDatasetError` listing the known ids."""
        data = self._settings.data
        if dataset_id == DEFAULT_DATASET_ID:
            return DatasetSource(DEFAULT_DATASET_ID, data.path.name, data.path, data, None)
        try:
            if not re.fullmatch(DATASET_ID_PATTERN, dataset_id):  # never a path of anyone's choosing
                raise ContractError(f"{dataset_id!r} is not a dataset id")
            record = read_dataset(self.root, dataset_id)
        except ContractError:
            known = ", ".join([DEFAULT_DATASET_ID, *(record.dataset_id for record in self.records())])
            raise UnknownDatasetError(f"no dataset with id {dataset_id!r}; datasets: {known}") from None
        path = self.root / FILES_DIR / record.file
        return DatasetSource(
            record.dataset_id, record.name, path, reading_settings(data, path, record.columns), record
        )

    def active_source(self) -> DatasetSource:
        """The dataset history, forecasts and new training jobs read."""
        return self.source(self.active_id())

    # ---- writing --------------------------------------------------------------------------------

    @contextmanager
    def staging_file(self, name: str) -> Iterator[Path]:
        """A fresh path to write an upload to; its folder is removed when the block ends."""
        folder = self.root / STAGING_DIR / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            yield folder / (Path(name).name or "upload.csv")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def add(self, staged: Path, name: str, sha256: str, inspection: Inspection) -> DatasetRecord:
        """Move a checked upload into `files/` (kept when the same bytes are already there) and write its
        record; returns the record (the existing one, refreshed, for an identical upload)."""
        files = self.root / FILES_DIR
        files.mkdir(parents=True, exist_ok=True)
        stored = files / f"{sha256}{inspection.suffix}"
        if not stored.exists():
            staged.replace(stored)  # same file system: an atomic rename
        record = DatasetRecord(
            dataset_id=dataset_id_for(sha256, inspection.columns),
            name=Path(name).name or stored.name,
            file=stored.name,
            sha256=sha256,
            size_bytes=stored.stat().st_size,
            uploaded_at=utc_timestamp(),
            columns=inspection.columns,
            categories=inspection.categories,
            warnings=inspection.warnings,
        )
        write_dataset(self.root, record)
        return record

    def activate(self, dataset_id: str) -> DatasetSource:
        """Make `dataset_id` the active dataset (it must exist); returns its source."""
        source = self.source(dataset_id)
        write_active(self.root, ActiveDataset(dataset_id=source.dataset_id, activated_at=utc_timestamp()))
        return source
