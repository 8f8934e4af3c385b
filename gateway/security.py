"""The optional API key (`SALESCAST_API_KEY` → `gateway.api_key`), checked in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, status
from fastapi.security import APIKeyHeader

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Needed on train, job and model-admin routes when the gateway has an API key set.",
)


def check_api_key(expected: str | None, given: str | None) -> None:
    """No key configured → open; missing header → 401; wrong key → 403."""
    if not expected:
        return
    if not given:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing {API_KEY_HEADER} header: this route needs the gateway's API key",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=f"wrong {API_KEY_HEADER}")
