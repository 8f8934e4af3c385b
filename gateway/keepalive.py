"""A keep-alive HTTP/1.1 client for one server — TorchServe's inference API — on asyncio + httptools.

Every prediction crosses this client, so its CPU is a direct part of what a prediction costs through
the gateway. Measured on the 2-core bench machine (uvicorn app forwarding one prediction, wrk load):
httpx ~1 ms, aiohttp 0.21–0.37 ms, this client 0.08–0.14 ms of the gateway's CPU per call, against
~1.3 ms of TorchServe's own. It does only what the gateway needs: a request with a JSON body,
answers with Content-Length or chunked bodies (httptools parses both), a bounded pool of keep-alive
connections, one deadline per call (connect included), TLS for an `https://` server, and one retry
on a reused connection that the server closed before answering (an idle keep-alive connection can
be closed by the server at any moment; predictions are safe to repeat).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import NamedTuple, cast
from urllib.parse import urlsplit

import httptools


class UpstreamError(Exception):
    """The server could not be reached, or the connection broke before a whole answer came back."""


class UpstreamTimeoutError(UpstreamError):
    """No whole answer within the call's deadline."""


class Answer(NamedTuple):
    status: int
    reason: str
    body: bytes


class _Connection(asyncio.Protocol):
    """One connection; one request at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self.received = False  # a byte of the current answer arrived
        self.keep_alive = False
        self._reason = bytearray()
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(UpstreamError(f"unreadable HTTP answer ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(UpstreamError(f"the server closed the connection ({exc or 'end of stream'})"))

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer = Answer(self.parser.get_status_code(), self._reason.decode("latin-1"), b"".join(self._body))
        self.keep_alive = self.parser.should_keep_alive()
        self._reason = bytearray()
        self._body = []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def send(self, data: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.received = False
        self.transport.write(data)
        return self.waiter

    def fail(self, exc: UpstreamError) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class KeepAlivePool:
    """Calls `base_url` (`http://host:port[/prefix]` or `https://…`) over at most `max_connections`
    keep-alive connections; each call gets `timeout_s` in total."""

    def __init__(self, base_url: str, *, timeout_s: float, max_connections: int) -> None:
        url = urlsplit(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {base_url!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._prefix = url.path
        self._host_header = url.netloc.rsplit("@", 1)[-1]
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Connection] = deque()
        self._closed = False

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> Answer:
        """One exchange; raises UpstreamTimeoutError past the deadline, UpstreamError when the server
        cannot be reached or breaks the connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        head = (
            f"{method} {self._prefix}{path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        async with self._slots:
            connection, reused = await self._connection(deadline)
            try:
                return await self._exchange(connection, head + body, deadline)
            except UpstreamTimeoutError:
                raise
            except UpstreamError:
                if not reused or connection.received:
                    raise
            # The server closed an idle connection as the request went out: once more, on a new one.
            connection, _ = await self._connection(deadline, reuse=False)
            return await self._exchange(connection, head + body, deadline)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _connection(self, deadline: float, *, reuse: bool = True) -> tuple[_Connection, bool]:
        while reuse and self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection, True
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                ),
                max(deadline - loop.time(), 0.0),
            )
        except asyncio.TimeoutError:
            raise UpstreamTimeoutError("no connection within the deadline") from None
        except OSError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        return connection, False

    async def _exchange(self, connection: _Connection, data: bytes, deadline: float) -> Answer:
        loop = asyncio.get_running_loop()
        waiter = connection.send(data)
        expiry = loop.call_at(deadline, _expire, waiter)
        done = False
        try:
            answer = await waiter
            done = True
            return answer
        finally:
            expiry.cancel()
            if done and connection.keep_alive and not connection.closed and not self._closed:
                self._idle.append(connection)
            else:  # failed, timed out, cancelled or `Connection: close`: never reuse it
                connection.close()


def _expire(waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeoutError("no answer within the deadline"))
