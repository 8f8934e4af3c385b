"""ASGI middleware that refuses request bodies over `gateway.max_body_bytes` with 413, before parsing.

A declared Content-Length over the limit is refused at once; a chunked (streamed) body is counted as
it arrives and refused as soon as it passes the limit, so a huge body never reaches a route or
TorchServe. Bodies within the limit are replayed to the app unchanged. A path may have a limit of its
own (the dataset upload: `gateway.max_upload_bytes`), refused just as early.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class BodyLimit:
    """Largest body accepted, and the setting a client can be pointed at."""

    max_bytes: int
    setting: str


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, path_limits: Mapping[str, BodyLimit] | None = None
    ) -> None:
        self.app = app
        self.default = BodyLimit(max_body_bytes, "gateway.max_body_bytes")
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(str(scope.get("path", "")).rstrip("/"), self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await self._refuse(send, f"{declared} bytes", limit)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                await self._refuse(send, f"more than {limit.max_bytes} bytes", limit)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send, got: str, limit: BodyLimit) -> None:
        detail = f"request body too large: {got}, the limit is {limit.max_bytes} bytes ({limit.setting})"
        payload = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the already-read `body` once, then the client's own messages."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
