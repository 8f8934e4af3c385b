"""Atomic writes leave the old file or the new one; addresses and days parse one way everywhere."""

from __future__ import annotations

import json
import math
import os
import stat
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.atomic import atomic_path, write_json_atomic, write_text_atomic
from core.dates import DayError, parse_day
from core.net import client_host, http_url, is_loopback


def test_write_json_atomic_writes_null_for_non_finite_and_plain_numbers(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "m.json", {"a": math.nan, "b": [np.float32(1.5), math.inf], "c": "ü"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": None, "b": [1.5, None], "c": "ü"}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "x.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_atomic_files_get_umask_permissions_and_keep_their_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "plot.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path and tmp.name.startswith(".")
        tmp.write_bytes(b"png")
    mode = stat.S_IMODE((tmp_path / "plot.png").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


CLIENT_HOSTS = {  # a server's bind address → the host a client dials, and the URL
    "0.0.0.0": ("127.0.0.1", "http://127.0.0.1:80"),
    "": ("127.0.0.1", "http://127.0.0.1:80"),
    "::": ("::1", "http://[::1]:80"),
    "10.0.0.5": ("10.0.0.5", "http://10.0.0.5:80"),
    "torchserve": ("torchserve", "http://torchserve:80"),
}


@pytest.mark.parametrize("bind", CLIENT_HOSTS)
def test_client_host_and_url(bind: str) -> None:
    client, url = CLIENT_HOSTS[bind]
    assert client_host(bind) == client
    assert http_url(bind, 80) == url


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.2")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-31", date(2024, 12, 31)),
        (" 2024-12-31 10:30 ", date(2024, 12, 31)),
        (date(2024, 1, 2), date(2024, 1, 2)),
        (1704153600.0, date(2024, 1, 2)),
        (None, None),
        ("  ", None),
    ],
)
def test_parse_day(value: str | date | float | None, expected: date | None) -> None:
    assert parse_day(value, "start") == expected


@pytest.mark.parametrize("value", ["abc", "2023-13-01", "31/12/2024"])
def test_parse_day_names_the_field_and_the_form(value: str) -> None:
    with pytest.raises(DayError, match=f"^from must be a date as YYYY-MM-DD, got '{value}'$"):
        parse_day(value, "from")
