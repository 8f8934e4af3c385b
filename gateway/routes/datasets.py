"""POST /api/datasets (upload), GET /api/datasets, PUT /api/datasets/active: bring your own sales data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from core.column_detection import Role
from gateway.deps import ApiKeyDep, DatasetsDep
from gateway.routes.responses import errors
from gateway.schemas.datasets import ActivateRequest, DatasetItem, DatasetList, DatasetUploaded

router = APIRouter(tags=["data"])

_COLUMN_HELP = "Column holding the {}; omit to detect it (only when unambiguous)."
OptionalForm = Annotated[str | None, Form()]


@router.post(
    "/datasets",
    status_code=status.HTTP_201_CREATED,
    dependencies=[ApiKeyDep],
    responses=errors(401, 403, 413, 422),
)
async def upload_dataset(
    datasets: DatasetsDep,
    file: Annotated[UploadFile, File(description="CSV or .csv.gz of transactions (UTF-8).")],
    date_column: Annotated[str | None, Form(description=_COLUMN_HELP.format("transaction date"))] = None,
    category_column: Annotated[str | None, Form(description=_COLUMN_HELP.format("category"))] = None,
    amount_column: Annotated[str | None, Form(description=_COLUMN_HELP.format("amount"))] = None,
    date_format: Annotated[
        str | None, Form(description='strftime format for ambiguous dates, e.g. "%d/%m/%Y".')
    ] = None,
) -> DatasetUploaded:
    """Check a sales file the way training reads it, and store it (activate it with PUT .../active)."""
    given: dict[Role, str | None] = {
        "date": _blank_is_none(date_column),
        "category": _blank_is_none(category_column),
        "amount": _blank_is_none(amount_column),
    }
    record = await datasets.upload(file, given, _blank_is_none(date_format))
    return DatasetUploaded.model_validate(record, from_attributes=True)


@router.get("/datasets", responses=errors(503))
async def list_datasets(datasets: DatasetsDep) -> DatasetList:
    """The configured file (`default`) and every upload, with the active one flagged."""
    views = await datasets.views()
    active = next((view.dataset_id for view in views if view.active), "default")
    return DatasetList(active=active, datasets=views)


@router.put("/datasets/active", dependencies=[ApiKeyDep], responses=errors(401, 403, 404, 413, 422))
async def activate_dataset(body: ActivateRequest, datasets: DatasetsDep) -> DatasetItem:
    """History, forecasts, the UI's Explore tab and new training jobs read this dataset from now on."""
    return await datasets.activate(body.dataset_id)


def _blank_is_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None
