"""A private `redis-server` (Debian package) for benchmarks and tests: a free loopback port (never
6379, where a developer's own Redis may run), nothing persisted (`--save ""`, `--appendonly no`),
its folder and log in `root`; ready once it answers PING."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from core.errors import SalescastError
from core.supervisor import ManagedProcess, start_process, wait_ready
from salescast.bench.isolation import LOOPBACK, free_port

START_TIMEOUT_S = 30.0  # it answers in well under a second on an idle machine; CI may be busy
STOP_TIMEOUT_S = 5.0
DEFAULT_REDIS_PORT = 6379


@dataclass(frozen=True)
class RedisProcess:
    url: str
    port: int
    process: ManagedProcess
    startup_s: float

    def stop(self) -> None:
        self.process.stop(STOP_TIMEOUT_S)


def redis_server_executable() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise SalescastError("no `redis-server` executable: apt-get install redis-server")
    return found


def start_redis(root: Path) -> RedisProcess:
    """Start `redis-server` with its folder and log under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    while port == DEFAULT_REDIS_PORT:  # an ephemeral port never is; said here so it stays so
        port = free_port()
    command = [
        redis_server_executable(),
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(root),
    ]
    started = time.monotonic()
    process = start_process("redis-server", command, root / "redis.log")
    url = f"redis://{LOOPBACK}:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def answers() -> str | None:
        client.ping()
        return None

    try:
        wait_ready(process, answers, START_TIMEOUT_S)
    except BaseException:
        process.stop(STOP_TIMEOUT_S)
        raise
    finally:
        client.close()
    return RedisProcess(url=url, port=port, process=process, startup_s=time.monotonic() - started)
