"""The gateway's Redis connections (`redis.url`): made from settings, checked at start, never logged
with the password.

Replicas behind one Service share their job store, one-job lock and forecast cache through it
(docs/shared-state.md). A URL that is set but does not answer stops the gateway at start: a replica
silently falling back to its own state would run a second training job beside the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

from core.settings import RedisSettings
from gateway.errors import GatewayError

T = TypeVar("T")


class SharedStateUnavailableError(GatewayError):
    """Redis (`redis.url`) did not answer: at start the gateway stops; on a request it answers 503."""

    status_code = 503


def redacted_url(url: str) -> str:
    """`url` without its user and password: the form every message and log line shows."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def sync_client(settings: RedisSettings) -> redis.Redis:
    """A thread-safe client with its own connection pool (job store, one-job lock)."""
    assert settings.url is not None
    return redis.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_s,
        socket_timeout=settings.socket_timeout_s,
        health_check_interval=int(settings.lock_ttl_s),
    )


def async_client(settings: RedisSettings) -> redis.asyncio.Redis:
    """An asyncio client (the forecast cache, on the request path)."""
    assert settings.url is not None
    return redis.asyncio.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_s,
        socket_timeout=settings.socket_timeout_s,
    )


def check_reachable(settings: RedisSettings) -> None:
    """Ping `redis.url` once; SharedStateUnavailableError naming the URL without its credentials."""
    if settings.url is None:
        return
    client = sync_client(settings)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SharedStateUnavailableError(unreachable_message(settings.url, exc)) from None
    finally:
        client.close()


def unreachable_message(url: str, exc: BaseException) -> str:
    """What to tell when Redis does not answer; redis-py's own messages name host and port only."""
    return (
        f"redis.url {redacted_url(url)} does not answer ({type(exc).__name__}: {exc}); start Redis "
        "there, or set redis.url to null for a single gateway with its own SQLite job store"
    )


def answered(command: Callable[[], T], what: str, where: str) -> T:
    """Run one Redis command; Redis not answering is a 503 naming `what` and `where` (the URL
    without credentials), for every sync user of `redis.url` alike."""
    try:
        return command()
    except redis.RedisError as exc:
        raise SharedStateUnavailableError(
            f"{what} (redis.url {where}) did not answer: {type(exc).__name__}: {exc}"
        ) from None
