"""The gateway's keep-alive client against real loopback servers: reuse, framing, limits, failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

import pytest

from gateway.keepalive import KeepAlivePool, UpstreamError, UpstreamTimeoutError
from tests.support.ports import free_port

Reply = Callable[[bytes], bytes]


def ok(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def _ok_ignoring_body(extra: str, body: bytes) -> bytes:
    return ok(extra=extra)


class Server:
    """A loopback HTTP server whose answers the test scripts; counts connections and requests."""

    def __init__(self, reply: Reply, *, close_after_answer: bool = False) -> None:
        self.reply = reply
        self.close_after_answer = close_after_answer
        self.connections = 0
        self.open_connections = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *args: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        self.most_open = max(self.most_open, self.open_connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                await asyncio.sleep(0.01)
                writer.write(self.reply(body))
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def test_calls_reuse_one_connection_and_send_the_body() -> None:
    async def scenario() -> None:
        async with Server(lambda body: ok(body)) as server:
            pool = KeepAlivePool(server.url + "/", timeout_s=5, max_connections=4)
            for number in range(3):
                answer = await pool.request("POST", "/predictions/beauty", b'{"n": %d}' % number)
                assert answer.status == 200 and answer.body == b'{"n": %d}' % number
            await pool.close()
        assert server.connections == 1
        assert server.requests[0].startswith(b"POST /predictions/beauty HTTP/1.1\r\n")
        assert b"content-type: application/json" in server.requests[0].lower()

    run(scenario)


def test_chunked_answers_and_the_status_line_are_read() -> None:
    chunked = (
        b"HTTP/1.1 422 expected 14 values\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def scenario() -> None:
        async with Server(lambda body: chunked) as server:
            pool = KeepAlivePool(server.url, timeout_s=5, max_connections=1)
            answer = await pool.request("POST", "/x", b"{}")
            assert (answer.status, answer.reason, answer.body) == (422, "expected 14 values", b"abcde")
            await pool.close()

    run(scenario)


def test_a_connection_the_server_closes_is_never_reused() -> None:
    async def scenario() -> None:
        # `Connection: close` answers, and a server that hangs up after each answer without saying so.
        for extra, close in (("Connection: close\r\n", False), ("", True)):
            async with Server(partial(_ok_ignoring_body, extra), close_after_answer=close) as server:
                pool = KeepAlivePool(server.url, timeout_s=5, max_connections=1)
                for _ in range(3):
                    assert (await pool.request("POST", "/x", b"{}")).status == 200
                    await asyncio.sleep(0.05)  # the hang-up reaches the client while the connection is idle
                await pool.close()
            assert server.connections == 3

    run(scenario)


def test_a_request_on_a_connection_closed_meanwhile_is_sent_again_on_a_new_one() -> None:
    async def scenario() -> None:
        async with Server(lambda body: ok(body), close_after_answer=True) as server:
            pool = KeepAlivePool(server.url, timeout_s=5, max_connections=1)
            for number in range(5):  # no pause: the hang-up may not have reached the client yet
                answer = await pool.request("POST", "/x", b"%d" % number)
                assert (answer.status, answer.body) == (200, b"%d" % number)
            await pool.close()
        assert len(server.requests) == server.connections == 5

    run(scenario)


def test_concurrent_calls_stay_within_the_connection_limit() -> None:
    async def scenario() -> None:
        async with Server(lambda body: ok()) as server:
            pool = KeepAlivePool(server.url, timeout_s=5, max_connections=3)
            answers = await asyncio.gather(*(pool.request("POST", "/x", b"{}") for _ in range(20)))
            assert {answer.status for answer in answers} == {200}
            await pool.close()
        assert server.most_open <= 3

    run(scenario)


def test_a_silent_server_times_out_within_the_deadline() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    async def scenario() -> None:
        pool = KeepAlivePool(
            f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.3, max_connections=2
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(UpstreamTimeoutError):
            await pool.request("POST", "/x", b"{}")
        assert loop.time() - start < 2.0
        await pool.close()

    try:
        run(scenario)
    finally:
        listener.close()


def test_nothing_listening_is_an_upstream_error_naming_the_cause() -> None:
    async def scenario() -> None:
        pool = KeepAlivePool(f"http://127.0.0.1:{free_port()}", timeout_s=2, max_connections=2)
        with pytest.raises(UpstreamError, match="ConnectionRefusedError"):
            await pool.request("GET", "/ping")
        await pool.close()

    run(scenario)


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="http"):
        KeepAlivePool("ftp://127.0.0.1:1", timeout_s=1, max_connections=1)
