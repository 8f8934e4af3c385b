"""Bodies of the datasets routes (`/api/datasets`): an upload, the list, the active dataset."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.dataset import CategorySummary, DatasetColumns

_EXAMPLE_CATEGORIES: list[Any] = [
    {"category": "Beauty", "days": 730, "first": "2023-01-01", "last": "2024-12-30", "zero_days_pct": 12.6},
    {
        "category": "Café Crème",
        "days": 412,
        "first": "2023-11-15",
        "last": "2024-12-30",
        "zero_days_pct": 3.4,
    },
]


class DatasetUploaded(BaseModel):
    """What `POST /api/datasets` answers: the new dataset, how its columns were read, what it holds."""

    dataset_id: str
    name: str = Field(description="File name as uploaded.")
    sha256: str = Field(description="SHA-256 of the stored file (what training records).")
    columns: DatasetColumns = Field(description="Columns read as date, category and amount.")
    categories: list[CategorySummary]
    warnings: list[str] = Field(description="Columns chosen by detection and why; sparse categories.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": "3f1c0a9b2d4c7e8f",
                    "name": "export-2024.csv",
                    "sha256": "9b" * 32,
                    "columns": {
                        "date": "Order Date",
                        "category": "Dept",
                        "amount": "Net Sales",
                        "date_format": None,
                    },
                    "categories": _EXAMPLE_CATEGORIES,
                    "warnings": ["date column 'Order Date': the only column of dates"],
                }
            ]
        }
    )


class DatasetItem(BaseModel):
    """One dataset in the list; `default` is the configured `data.path`."""

    dataset_id: str
    name: str
    sha256: str | None = Field(default=None, description="Null for the configured file.")
    size_bytes: int | None = None
    uploaded_at: str | None = None
    columns: DatasetColumns
    categories: list[CategorySummary]
    warnings: list[str] = []
    active: bool = Field(description="History, forecasts and new training jobs read this dataset.")


class DatasetList(BaseModel):
    active: str = Field(description="Id of the active dataset.")
    datasets: list[DatasetItem]


class ActivateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"dataset_id": "3f1c0a9b2d4c7e8f"}]}
    )

    dataset_id: str = Field(
        min_length=1, description="An id from GET /api/datasets (`default` = the configured file)."
    )
