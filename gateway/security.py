"""The API key (`SALESCAST_API_KEY` → `gateway.api_key`), checked in constant time.

Without a key a gateway on loopback stays open, as on a workstation; one bound to any other address
(a container, a server) refuses every route that writes, so nobody who can reach the port trains,
deploys or pins a version unless the operator chose a key.
"""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import HTTPException, status
from fastapi.security import APIKeyHeader

from core.net import is_loopback
from core.settings import GatewaySettings

API_KEY_HEADER = "X-API-Key"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The gateway's API key, on the routes whose operations list it under `security`.",
)
KeyScope = Literal["admin", "predict"]
"""Which routes a key check guards: train, job, dataset and model-admin routes, or predict routes."""


def key_required(gateway: GatewaySettings, scope: KeyScope) -> bool:
    """Whether routes of `scope` refuse a request without the key: admin routes whenever a key is set,
    predict routes only when `gateway.protect_predict` is on too."""
    if not gateway.api_key:
        return False
    return scope == "admin" or gateway.protect_predict


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


def check_write_allowed(expected: str | None, host: str, method: str) -> None:
    """403 for a write on a keyless gateway that listens beyond loopback (secure by default)."""
    if expected or method.upper() in READ_METHODS or is_loopback(host):
        return
    raise HTTPException(
        status_code=status.HTTP_403_FORBIDDEN,
        detail=(
            f"this gateway listens on {host} without an API key, so it refuses to train, deploy or "
            "change models: set SALESCAST_API_KEY (gateway.api_key, or gateway.api_key_file) and "
            f"send it as {API_KEY_HEADER}"
        ),
    )
