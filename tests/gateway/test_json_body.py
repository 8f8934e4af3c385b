"""Request bodies decode to exactly what the standard library gives, values and errors alike."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.json_body import loads

BODIES = [
    b'{"category": "Beauty", "sales": [1.5, 2, -0.0, 1e-400, 3.4e38]}',
    b'{"a": 1, "a": 2}',
    b"[9223372036854775807, 18446744073709551615, 18446744073709551616, -9223372036854775809]",
    b'{"levels": [18446744073709551616], "sales": [1' + b"0" * 39 + b"]}",
    b"[NaN, Infinity, -Infinity, 1e400]",
    b'["\\ud800", "caf\\u00e9", "\xc3\xa9"]',
    b"\xef\xbb\xbf[1]",
    b" [1] \n",
]


def _typed(value: Any) -> Any:
    """The value with every number's type spelled out (1 == 1.0, but not for a message)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize("body", BODIES)
def test_values_are_the_standard_librarys(body: bytes) -> None:
    assert _typed(loads(body)) == _typed(json.loads(body))


@pytest.mark.parametrize("body", [b"{category: 1}", b'{"a": [1, 2}', b"\xff[1]", b"", b"[1] x"])
def test_errors_are_the_standard_librarys(body: bytes) -> None:
    with pytest.raises(Exception) as expected:
        json.loads(body)
    with pytest.raises(Exception) as got:
        loads(body)
    assert (type(got.value), str(got.value)) == (type(expected.value), str(expected.value))
