"""A dataset record, `<paths.datasets>/records/<dataset_id>.json`: one uploaded sales file and how to read it.

Written by the gateway when an upload passes every check (the file itself is stored content-addressed
beside it, `files/<sha256>.csv[.gz]`), read by the gateway's history, its dataset listing and its
training jobs. A record appears only complete (atomic write) and only after its file is in place.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.files import ContractError, read_contract, write_contract

DATASET_ID_PATTERN = r"^[0-9a-f]{16}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
RECORDS_DIR = "records"


class DatasetColumns(BaseModel):
    """Which columns hold the date, the category and the amount, and the date format if one was given."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    date: str = Field(min_length=1)
    category: str = Field(min_length=1)
    amount: str = Field(min_length=1)
    date_format: str | None = None


class CategorySummary(BaseModel):
    """One category of a dataset: days on its calendar, first and last day, share of days without sales."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str
    days: int = Field(ge=1)
    first: date
    last: date
    zero_days_pct: float = Field(ge=0.0, le=100.0)


class DatasetRecord(BaseModel):
    """An uploaded sales file: its name as uploaded, its stored file and SHA-256, the column mapping it is
    read with, the categories it holds and what the checks warned about."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dataset_id: str = Field(pattern=DATASET_ID_PATTERN)
    name: str = Field(min_length=1)
    file: str = Field(min_length=1, description="file name under <paths.datasets>/files")
    sha256: str = Field(pattern=SHA256_PATTERN)
    size_bytes: int = Field(ge=0)
    uploaded_at: str
    columns: DatasetColumns
    categories: list[CategorySummary]
    warnings: list[str] = Field(default_factory=list)


def record_path(root: Path, dataset_id: str) -> Path:
    """Where the record of `dataset_id` lives under the datasets folder `root`."""
    return root / RECORDS_DIR / f"{dataset_id}.json"


def write_dataset(root: Path, record: DatasetRecord) -> Path:
    """Write the record atomically."""
    return write_contract(record_path(root, record.dataset_id), record)


def read_dataset(root: Path, dataset_id: str) -> DatasetRecord:
    """The record of `dataset_id`; `ContractError` when missing or malformed."""
    return read_contract(DatasetRecord, record_path(root, dataset_id))


def list_datasets(root: Path) -> list[DatasetRecord]:
    """Every readable record, oldest upload first (an unreadable one is skipped: it names no usable file)."""
    folder = root / RECORDS_DIR
    if not folder.is_dir():
        return []
    records: list[DatasetRecord] = []
    for path in folder.glob("*.json"):
        try:
            records.append(read_contract(DatasetRecord, path))
        except ContractError:
            continue
    return sorted(records, key=lambda record: (record.uploaded_at, record.dataset_id))
