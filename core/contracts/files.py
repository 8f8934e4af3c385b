"""Reading and writing contract files: JSON validated by the contract's model, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from core.atomic import write_json_atomic
from core.errors import SalescastError

Model = TypeVar("Model", bound=BaseModel)


class ContractError(SalescastError, ValueError):
    """A contract file is missing, not JSON, or breaks its schema; the message names the file."""


def read_contract(model: type[Model], path: Path) -> Model:
    """Read and validate one contract file; every failure is a `ContractError` naming `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise ContractError(f"{path}: not a valid {model.__name__}: {describe_errors(exc)}") from None


def write_contract(path: Path, value: BaseModel) -> Path:
    """Write `value` as JSON (non-finite numbers as null) atomically; returns `path`."""
    return write_json_atomic(path, value.model_dump(mode="json"))


def describe_errors(exc: ValidationError) -> str:
    """Pydantic's errors as one line: `std: Input should be greater than 0; version: …`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )
