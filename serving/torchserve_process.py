"""Start, watch and stop one isolated TorchServe, and `salescast serve torchserve`.

Every instance gets its own working dir `<paths.run>/torchserve-<inference_port>/` holding its
config.properties, `logs/` (LOG_LOCATION / METRICS_LOCATION) and `tmp/` (TMPDIR and java.io.tmpdir:
TorchServe's pid file and the workers' unix sockets live there), plus its own worker port range,
so a dev stack and a test run never touch each other. TorchServe runs under `core.supervisor` (its own
process group); stopping it stops Java and every worker.

Start-up registers the archives through the management API (synchronously, so a broken archive
fails with TorchServe's message instead of a silent retry loop), then checks every model has a
ready worker. A bad archive is reported and skipped; when nothing could be loaded, start fails
with the reason and the log file to read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType

import httpx
import psutil

from core import supervisor
from core.errors import SalescastError
from core.java import find_java
from core.net import http_url
from core.settings import Settings
from serving.archive import ArchiveInfo, list_archives, served_archives
from serving.bucket_sync import BucketSync
from serving.management_client import ManagementClient, ManagementError
from serving.torchserve_config import write_config
from serving.usage_order import hot_first, read_usage_order
from serving.workers import WorkerLoadError, load_workers, unload_workers

logger = logging.getLogger(__name__)

PID_FILE = ".model_server.pid"
# Unix socket paths are limited to 107 bytes; TorchServe names them `<TMPDIR>/.ts.sock.<port>`.
_MAX_TMPDIR_CHARS = 80
_POLL_S = 0.2
_ERROR_LINE = re.compile(r"(Error|Exception|error:|Failed to load model)")


class TorchServeError(SalescastError):
    """TorchServe could not be started or stopped; the message says why and which log to read."""


class KillNotFoundError(TorchServeError):
    """No `kill` executable: TorchServe's frontend runs `kill -9 <pid>` to stop a worker."""


def find_kill(path: str) -> str:
    """The `kill` executable TorchServe's frontend will exec, looked up on TorchServe's PATH.

    On unregister and scale-down the frontend (0.12) execs `kill -9 <worker pid>` itself. Without
    that program (slim container images ship no procps; a shell's built-in `kill` is no executable)
    the exec fails, every `DELETE /models/<name>/<version>` answers 500 "Interrupted while cleaning
    resources" and the version is re-added, so a deploy could never remove the version it replaced.
    """
    found = shutil.which("kill", path=path)
    if found is None:
        raise KillNotFoundError(
            "TorchServe stops model workers with the `kill` command, but no `kill` executable is on "
            "PATH, so unregistering a model version would fail (500 'Interrupted while cleaning "
            "resources'): install procps (Debian/Ubuntu: apt-get install procps)"
        )
    return found


class TorchServeProcess:
    """One TorchServe serving `archives` (default: every category's champion, else its newest archive).

    Use as a context manager, or call `start()` / `stop()`. After `start()`, `loaded` maps model
    name → the archive serving it and `failed` maps archive file name → why it is not served.
    """

    def __init__(
        self,
        settings: Settings,
        archives: Sequence[ArchiveInfo] | None = None,
        *,
        work_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self._archives = list(archives) if archives is not None else None
        port = settings.torchserve.inference_port
        self.work_dir = (work_dir or settings.paths.run / f"torchserve-{port}").resolve()
        self.log_dir = self.work_dir / "logs"
        self.loaded: dict[str, ArchiveInfo] = {}  # registered with a ready worker
        self.archived: dict[str, ArchiveInfo] = {}  # registered without one (beyond the memory budget)
        self.failed: dict[str, str] = {}
        self._tmp_dir: Path | None = None
        self._own_tmp = False
        self._process: supervisor.ManagedProcess | None = None

    # ---- addresses and files ------------------------------------------------------------------

    @property
    def inference_url(self) -> str:
        return http_url(self.settings.torchserve.host, self.settings.torchserve.inference_port)

    @property
    def management_url(self) -> str:
        return http_url(self.settings.torchserve.host, self.settings.torchserve.management_port)

    @property
    def metrics_url(self) -> str:
        return http_url(self.settings.torchserve.host, self.settings.torchserve.metrics_port)

    @property
    def model_log(self) -> Path:
        """Where the Python workers' output goes: the log to read when a model fails to load."""
        return self.log_dir / "model_log.log"

    @property
    def ts_log(self) -> Path:
        return self.log_dir / "ts_log.log"

    @property
    def console_log(self) -> Path:
        """TorchServe's stdout/stderr (start-up failures of Java itself land here)."""
        return self.log_dir / "console.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.exited() is None

    def process_tree(self) -> list[psutil.Process]:
        """The launcher, Java and every worker process of this instance."""
        return self._process.tree() if self._process is not None else []

    # ---- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> TorchServeProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> TorchServeProcess:
        """Launch TorchServe, wait for /ping, register the archives and wait for ready workers."""
        if self.running:
            return self
        java = find_java()
        find_kill(_launch_path(java))
        ts = self.settings.torchserve
        deadline = time.monotonic() + ts.startup_timeout_s
        self._check_ports_free()
        self._prepare_dirs()
        config = write_config(self.settings, self.work_dir / "config.properties")
        store = self.settings.paths.model_store.resolve()
        store.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "ts.model_server",
            "--start",
            "--foreground",
            "--ncs",
            "--disable-token-auth",
            "--enable-model-api",
            "--model-store",
            str(store),
            "--ts-config",
            str(config),
        ]
        self._process = supervisor.start_process(
            "torchserve", command, self.console_log, self._environment(java), cwd=self.work_dir
        )
        logger.info(
            "torchserve starting pid=%d inference=%s management=%s work_dir=%s",
            self._process.pid,
            self.inference_url,
            self.management_url,
            self.work_dir,
        )
        try:
            self._wait_for_ping(self._process, deadline)
            archives = (
                self._archives
                if self._archives is not None
                else list(served_archives(self.settings).values())
            )
            asyncio.run(self._load(archives, deadline))
        except ManagementError as exc:
            self._raise_if_exited()  # a dead server explains a failed call better than the call does
            self.stop()
            raise TorchServeError(f"TorchServe start-up failed: {exc}; see {self.ts_log}") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop TorchServe and all its workers (TERM, then KILL after `stop_timeout_s`); idempotent."""
        process = self._process
        if process is None:
            return
        if process.stop(self.settings.torchserve.stop_timeout_s):
            logger.warning("torchserve ignored SIGTERM and was killed work_dir=%s", self.work_dir)
        self._process = None
        if self._own_tmp and self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
        logger.info("torchserve stopped inference=%s work_dir=%s", self.inference_url, self.work_dir)

    def wait(self) -> int:
        """Block until TorchServe exits on its own; returns its exit code."""
        if self._process is None:
            raise TorchServeError("TorchServe is not running")
        return self._process.popen.wait()

    # ---- start-up steps -----------------------------------------------------------------------

    def _check_ports_free(self) -> None:
        ts = self.settings.torchserve
        for name, port in (
            ("inference_port", ts.inference_port),
            ("management_port", ts.management_port),
            ("metrics_port", ts.metrics_port),
        ):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((ts.host, port))
                except OSError as exc:
                    raise TorchServeError(
                        f"cannot start TorchServe: {ts.host}:{port} (torchserve.{name}) is in use "
                        f"({exc.strerror}); stop whatever listens there (another TorchServe?) "
                        "or choose another port"
                    ) from None

    def _prepare_dirs(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.work_dir / "tmp"
        if len(str(tmp)) > _MAX_TMPDIR_CHARS:
            tmp = Path(tempfile.mkdtemp(prefix="salescast-ts-"))
            self._own_tmp = True
        tmp.mkdir(parents=True, exist_ok=True)
        pid_file = tmp / PID_FILE
        if pid_file.is_file():
            other = _running_torchserve(pid_file)
            if other is not None:
                raise TorchServeError(
                    f"another TorchServe (pid {other}) is already running from {self.work_dir}; "
                    f"stop it first (Ctrl-C in its terminal, or `kill {other}`)"
                )
            pid_file.unlink()
        self._tmp_dir = tmp

    def _environment(self, java: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TS_")}
        tmp = str(self._tmp_dir)
        env.update(
            TMPDIR=tmp,
            TEMP=tmp,  # TorchServe's launcher passes it to Java as java.io.tmpdir
            LOG_LOCATION=str(self.log_dir),
            METRICS_LOCATION=str(self.log_dir),
            PATH=_launch_path(java),
        )
        return env

    def _wait_for_ping(self, process: supervisor.ManagedProcess, deadline: float) -> None:
        url = f"{self.inference_url}/ping"
        with httpx.Client(timeout=2.0) as client:

            def healthy() -> str | None:
                status = client.get(url).status_code
                return None if status == 200 else f"{url} answered {status}"

            try:
                supervisor.wait_ready(process, healthy, max(0.0, deadline - time.monotonic()), poll_s=_POLL_S)
            except supervisor.SupervisorError as exc:
                self._raise_if_exited()
                timeout_s = self.settings.torchserve.startup_timeout_s
                raise TorchServeError(
                    f"TorchServe did not answer {url} within {timeout_s:g} s; "
                    f"see {self.console_log} and {self.ts_log}"
                ) from exc
        logger.info("torchserve healthy url=%s", url)

    def _raise_if_exited(self) -> None:
        process = self._process
        if process is not None and process.exited() is not None:
            code = process.exited()
            self.stop()
            raise TorchServeError(
                f"TorchServe exited during start-up (exit code {code}): {_tail(process)} "
                f"— full output in {self.console_log}"
            )

    async def _load(self, archives: Sequence[ArchiveInfo], deadline: float) -> None:
        """Register every archive (no workers: cheap), then load the hot ones up to the budget.

        `torchserve.max_loaded_models` bounds the versions holding a worker; the rest stay
        registered and the gateway's loaded set loads them on their first request. Both steps run
        `torchserve.register_concurrency` at a time, hot categories (`usage.json`) first.
        """
        self.loaded.clear()
        self.archived.clear()
        self.failed.clear()
        if not archives:
            logger.warning(
                "torchserve has no models: %s holds no archives; train and archive first "
                "(salescast train --all) — the gateway can deploy versions later",
                self.settings.paths.model_store,
            )
            return
        ts = self.settings.torchserve
        limit = asyncio.Semaphore(ts.register_concurrency)
        by_name = {archive.model_name: archive for archive in archives}
        order = hot_first(by_name, read_usage_order(self.settings.paths.model_store))
        budget = len(order) if ts.max_loaded_models is None else ts.max_loaded_models
        timeout = max(1.0, deadline - time.monotonic())
        async with ManagementClient(self.management_url, timeout_s=timeout) as client:
            await asyncio.gather(*(self._register(client, by_name[name], limit) for name in order))
            registered = [name for name in order if name in self.archived]
            await asyncio.gather(
                *(self._load_workers(client, by_name[name], limit, deadline) for name in registered[:budget]),
                *(self._keep_unloaded(client, by_name[name], limit) for name in registered[budget:]),
            )
        if not self.loaded and not self.archived:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in self.failed.items())
            raise TorchServeError(f"TorchServe could not serve any model — {reasons}")
        logger.info(
            "torchserve ready loaded=%s archived=%d",
            ",".join(f"{name}@{info.version}" for name, info in sorted(self.loaded.items())),
            len(self.archived),
        )

    async def _register(
        self, client: ManagementClient, archive: ArchiveInfo, limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            try:
                await client.register(archive.file_name, initial_workers=0, synchronous=False)
            except ManagementError as exc:
                await self._record_failure(client, archive, exc)
                return
        self.archived[archive.model_name] = archive
        logger.info("model registered category=%s version=%s", archive.category, archive.version)

    async def _load_workers(
        self, client: ManagementClient, archive: ArchiveInfo, limit: asyncio.Semaphore, deadline: float
    ) -> None:
        async with limit:
            try:
                await load_workers(
                    client,
                    archive.model_name,
                    archive.version,
                    self.settings.archive.workers,
                    max(1.0, deadline - time.monotonic()),
                )
            except (ManagementError, WorkerLoadError) as exc:
                del self.archived[archive.model_name]
                await self._record_failure(client, archive, exc)
                return
        del self.archived[archive.model_name]
        self.loaded[archive.model_name] = archive

    async def _keep_unloaded(
        self, client: ManagementClient, archive: ArchiveInfo, limit: asyncio.Semaphore
    ) -> None:
        """Archives built before `model_config` said 0 workers start one when registered: stop it."""
        async with limit:
            try:
                await unload_workers(client, archive.model_name, archive.version)
            except ManagementError as exc:
                logger.warning("could not unload model=%s: %s", archive.model_name, exc)

    async def _record_failure(
        self, client: ManagementClient, archive: ArchiveInfo, exc: ManagementError | WorkerLoadError
    ) -> None:
        worker_error = _worker_error(self.model_log, archive.model_name, archive.version)
        if worker_error is not None or isinstance(exc, WorkerLoadError):
            detail = worker_error or str(exc)
            reason = f"its workers died while loading the model ({detail}); see {self.model_log}"
            # A failed load leaves the version registered with retrying workers.
            try:
                await client.unregister(archive.model_name, archive.version)
            except ManagementError as cleanup:
                logger.warning("could not unregister failed model=%s: %s", archive.model_name, cleanup)
        else:
            reason = (
                f"TorchServe refused the archive: {exc.message} "
                "(is it a valid .mar? rebuild it with `salescast archive`)"
            )
        self.failed[archive.file_name] = reason
        logger.error(
            "model not served category=%s version=%s archive=%s reason=%s",
            archive.category,
            archive.version,
            archive.path,
            reason,
        )


def _launch_path(java: str) -> str:
    """TorchServe's PATH: the chosen Java's folder first, then this process's PATH."""
    return f"{Path(java).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def _running_torchserve(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip() or "0")
        process = psutil.Process(pid)
        return pid if "org.pytorch.serve.ModelServer" in process.cmdline() else None
    except (ValueError, psutil.Error):
        return None


def _tail(process: supervisor.ManagedProcess, lines: int = 3) -> str:
    """The process's last output lines on one line."""
    return " | ".join(process.tail(lines).strip().splitlines()) or "(no output)"


def _worker_error(model_log: Path, model_name: str, version: str) -> str | None:
    """The first error line a worker of `model_name` `version` logged, or None when it logged none."""
    if not model_log.is_file():
        return None
    marker = re.compile(rf"W-\d+-{re.escape(model_name)}_{re.escape(version)}-stdout MODEL_LOG - (.*)$")
    for line in model_log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = marker.search(line)
        if match and _ERROR_LINE.search(match.group(1)):
            return _shorten(match.group(1).strip())
    return None


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- `salescast serve torchserve` -------------------------------------------------------------


def restore_if_empty(settings: Settings) -> None:
    """With `storage.uri`: the bucket must answer (a clear error now, not at the first deploy), and
    an empty model store — a new or replaced machine — gets every champion back from it first."""
    bucket = BucketSync(settings)
    if not bucket.enabled:
        return
    bucket.check()
    if list_archives(settings):
        return
    restored = bucket.restore(settings.paths.model_store)
    if restored is not None:
        logger.info(
            "model store was empty: restored %d categories (%d archives) from %s",
            len(restored.champions.models),
            len(restored.archives),
            bucket.where,
        )


def serve_forever(settings: Settings) -> int:
    """Run TorchServe with every category's served archive until Ctrl-C or SIGTERM; 0 on a clean stop."""
    stop = threading.Event()

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the events
    restore_if_empty(settings)
    server = TorchServeProcess(settings)
    try:
        with server:
            for name, info in sorted(server.loaded.items()):
                logger.info("serving category=%s version=%s model=%s", info.category, info.version, name)
            for archive_name, reason in server.failed.items():
                logger.error("not serving archive=%s reason=%s", archive_name, reason)
            logger.info(
                "torchserve up inference=%s management=%s metrics=%s logs=%s (Ctrl-C to stop)",
                server.inference_url,
                server.management_url,
                server.metrics_url,
                server.log_dir,
            )
            while not stop.wait(1.0):
                if not server.running:
                    logger.error(
                        "torchserve exited unexpectedly; see %s and %s", server.ts_log, server.console_log
                    )
                    return 1
    except KeyboardInterrupt:
        logger.info("interrupted; torchserve stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
