"""Atomic file writes: a temp file beside the target, flushed to disk, then renamed over it.

Readers (TorchServe, the gateway, a second training run, a person with `cat`) see the old file or
the new one, never half of one; a failed write leaves the old file and no temp file behind. Every
file salescast writes for someone else to read goes through here.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh hidden path beside `path` to write to (same suffix, for writers that pick a format by
    it, e.g. matplotlib); renamed over `path` when the block ends without an error, deleted otherwise.
    The writer creates the file, so it gets the usual permissions (umask), not a temp file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        yield tmp
        _fsync(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns `path`."""
    with atomic_path(path) as tmp, tmp.open("xb") as handle:
        handle.write(data)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically; returns `path`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: Any) -> Path:
    """Write `payload` as indented UTF-8 JSON (NaN and infinities as null) atomically; returns `path`."""
    return write_text_atomic(path, json.dumps(json_safe(payload), indent=2, ensure_ascii=False) + "\n")


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (JSON has no NaN) and numpy scalars as
    plain numbers, so undefined metrics are written as null instead of invalid JSON."""
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
