"""The local stack behind `salescast up` / `salescast down`.

`up`: preflight (Java, free ports) → sample data → train + archive every category without an
archive → start MLflow UI, TorchServe, gateway and UI (`salescast serve X`, each in its own process
group, logs in `<paths.run>/logs/`) → wait until all are healthy → print their URLs → watch them
until Ctrl-C, SIGTERM or `salescast down`, then stop everything it started.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any

import httpx

from core import supervisor
from core.errors import SalescastError
from core.net import http_url
from core.settings import Settings
from salescast import preflight

log = logging.getLogger(__name__)

HEALTH_REQUEST_TIMEOUT_S = 5.0  # one probe; the overall wait is `up.health_timeout_s`
# Child env: no analytics calls from Gradio / MLflow on an offline machine.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


class StackError(SalescastError):
    """The stack could not be brought up (a service died or stayed unhealthy) or stopped."""


class _StopRequestedError(Exception):
    """SIGTERM (e.g. from `salescast down`) arrived; unwind like Ctrl-C."""


@dataclass(frozen=True)
class Service:
    """One long-running service: how to start it, where a person opens it, how to tell it is healthy."""

    name: str
    url: str
    health: Callable[[httpx.Client], str | None]  # None when healthy, else what is still missing


def _http_ok(url: str) -> Callable[[httpx.Client], str | None]:
    def probe(client: httpx.Client) -> str | None:
        response = client.get(url)
        return None if response.status_code == 200 else f"GET {url} answered {response.status_code}"

    return probe


def _torchserve_ready(settings: Settings, models: Sequence[str]) -> Callable[[httpx.Client], str | None]:
    ts = settings.torchserve
    ping = f"{http_url(ts.host, ts.inference_port)}/ping"
    management = http_url(ts.host, ts.management_port)

    def probe(client: httpx.Client) -> str | None:
        response = client.get(ping)
        if response.status_code != 200:
            return f"GET {ping} answered {response.status_code}"
        for model in models:
            described = client.get(f"{management}/models/{model}")
            if described.status_code != 200:
                return f"model {model} is not registered yet"
            workers = [w for entry in described.json() for w in entry.get("workers", [])]
            if not any(worker.get("status") == "READY" for worker in workers):
                return f"model {model} has no ready worker yet"
        return None

    return probe


def services(settings: Settings, models: Sequence[str]) -> list[Service]:
    """The services `up` starts, in start order (MLflow first: cheap and useful while waiting)."""
    ts, gw, ui, ml = settings.torchserve, settings.gateway, settings.ui, settings.mlflow
    gateway_url = http_url(gw.host, gw.port)
    ui_url = http_url(ui.host, ui.port)
    mlflow_url = http_url(ml.ui_host, ml.ui_port)
    return [
        Service("mlflow", mlflow_url, _http_ok(f"{mlflow_url}/health")),
        Service("torchserve", http_url(ts.host, ts.inference_port), _torchserve_ready(settings, models)),
        Service("gateway", gateway_url, _http_ok(f"{gateway_url}/api/health")),
        Service("ui", ui_url, _http_ok(f"{ui_url}/")),
    ]


def _cli(config_path: str | None, *args: str) -> list[str]:
    """A `salescast …` command run by this interpreter, with the same config file."""
    config = ["--config", config_path] if config_path else []
    return [sys.executable, "-m", "salescast", *config, *args]


def child_env(settings: Settings) -> dict[str, str]:
    """Environment of every child: ours, offline switches, and the UI wired to the gateway we start."""
    env = {**os.environ, **OFFLINE_ENV}
    env.pop("SALESCAST_UI__GATEWAY_URL", None)
    env["SALESCAST_GATEWAY_URL"] = http_url(settings.gateway.host, settings.gateway.port)
    return env


# ---- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPlan:
    """What `up` must do before serving: categories to train, to archive only, already archived."""

    train: list[str]
    archive: list[str]
    ready: list[str]
    slugs: list[str]


def plan_models(settings: Settings) -> ModelPlan:
    """Compare the data's categories with model_store/ and artifacts/."""
    from core.artifacts import latest_version
    from core.sales_data import load_daily_sales
    from core.slugs import category_slug
    from serving.archive import list_archives

    categories = (
        list(settings.data.categories)
        if isinstance(settings.data.categories, list)
        else sorted(load_daily_sales(settings.data))
    )
    archived = {info.category for info in list_archives(settings)}
    train, archive, ready = [], [], []
    for category in categories:
        if category in archived:
            ready.append(category)
        elif latest_version(settings, category):
            archive.append(category)
        else:
            train.append(category)
    return ModelPlan(train, archive, ready, [category_slug(c) for c in categories])


def prepare_models(
    settings: Settings,
    config_path: str | None,
    register: Callable[[Any], None],
    *,
    retrain_all: bool = False,
) -> ModelPlan:
    """Create the sample data if missing, then train / archive what model_store/ lacks (all: retrain)."""
    from core.sample_data import ensure_sample_data

    ensure_sample_data(settings)
    plan = plan_models(settings)
    if retrain_all:
        everything = [*plan.train, *plan.archive, *plan.ready]
        plan = ModelPlan(train=everything, archive=[], ready=[], slugs=plan.slugs)
    if plan.ready:
        print(f"salescast up: archived already, skipping training: {', '.join(plan.ready)}", flush=True)
    for category in plan.archive:
        print(f"salescast up: archiving the trained model of {category}", flush=True)
        _run_step(settings, config_path, register, "archive", ["archive", "--category", category])
    if plan.train:
        print(f"salescast up: training {', '.join(plan.train)} (first run only)", flush=True)
        args = ["train"]
        for category in plan.train:
            args += ["--category", category]
        _run_step(settings, config_path, register, "train", args)
    return plan


def _run_step(
    settings: Settings,
    config_path: str | None,
    register: Callable[[Any], None],
    name: str,
    args: list[str],
) -> None:
    """Run a one-shot `salescast` command under the supervisor, its log shown on this terminal as it grows."""
    log_path = supervisor.log_dir(settings.paths.run) / f"{name}.log"
    command = _cli(config_path, *args)
    proc = supervisor.start_process(name, command, log_path, child_env(settings))
    register(proc)
    try:
        code = supervisor.follow(proc, sys.stdout, settings.up.poll_interval_s)
    finally:
        if proc.exited() is None:
            proc.stop(settings.up.stop_timeout_s)
        register(None)
    if code != 0:
        raise StackError(
            f"`salescast {' '.join(args)}` failed with exit code {code}; nothing was started. "
            f"Its output is in {log_path}"
        )


# ---- up ---------------------------------------------------------------------------------------


class Stack:
    """The running stack: children, pid file, and the stop that leaves nothing behind."""

    def __init__(self, settings: Settings, config_path: str | None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.children: list[supervisor.ManagedProcess] = []
        self.step: supervisor.ManagedProcess | None = None
        self.pid_path = supervisor.pid_file(settings.paths.run)
        self.urls: dict[str, str] = {}

    def _save(self) -> None:
        running = [*self.children, *([self.step] if self.step else [])]
        supervisor.write_pid_file(self.pid_path, supervisor.own_record(running, {"urls": self.urls}))

    def _set_step(self, proc: Any) -> None:
        self.step = proc
        self._save()

    def claim(self) -> None:
        """Take the pid file, refusing when another `salescast up` on this run folder is alive."""
        record = supervisor.read_pid_file(self.pid_path)
        if record and supervisor.is_alive(int(record["pid"]), record.get("create_time")):
            raise StackError(
                f"salescast up is already running (pid {record['pid']}, pid file {self.pid_path}); "
                "stop it with `salescast down` (or `make down`)"
            )
        if record:
            stale = _record_children(record)
            if any(supervisor.is_alive(pid, ct) for _, pid, ct in stale):
                print("salescast up: stopping services left over from a stack that was killed", flush=True)
                supervisor.stop_trees(stale, self.settings.up.stop_timeout_s)
        self._save()

    def start(self, models: Sequence[str]) -> list[Service]:
        env = child_env(self.settings)
        logs = supervisor.log_dir(self.settings.paths.run)
        wanted = services(self.settings, models)
        for service in wanted:
            command = _cli(self.config_path, "serve", service.name)
            self.children.append(
                supervisor.start_process(service.name, command, logs / f"{service.name}.log", env)
            )
            self.urls[service.name] = service.url
            self._save()
        return wanted

    def wait_healthy(self, wanted: Sequence[Service]) -> None:
        """Poll every service until healthy; a child that exits or the timeout ends it with its log."""
        up = self.settings.up
        children = {child.name: child for child in self.children}

        def healthy(child: supervisor.ManagedProcess) -> None:
            print(f"salescast up: {child.name} healthy at {self.urls[child.name]}", flush=True)

        with httpx.Client(timeout=HEALTH_REQUEST_TIMEOUT_S, trust_env=False) as client:
            waits = [(children[service.name], partial(service.health, client)) for service in wanted]
            try:
                supervisor.wait_all_ready(
                    waits, up.health_timeout_s, poll_s=up.poll_interval_s, on_ready=healthy
                )
            except supervisor.SupervisorError as exc:
                timed_out = all(child.exited() is None for child in self.children)
                hint = (
                    f"\nRaise up.health_timeout_s={up.health_timeout_s:g} (SALESCAST_UP__HEALTH_TIMEOUT_S) "
                    "on a slow machine, or read the logs above."
                )
                raise StackError(f"{exc}{hint if timed_out else ''}") from None

    def watch(self) -> None:
        """Block until a child dies (an error) or a signal asks to stop (raises)."""
        while True:
            self._check_children()
            time.sleep(self.settings.up.poll_interval_s)

    def _check_children(self) -> None:
        for child in self.children:
            code = child.exited()
            if code is not None:
                raise StackError(
                    f"{child.name} exited with code {code}; its log is {child.log_path}. Last lines:\n"
                    f"{supervisor.tail(child.log_path)}"
                )

    def stop(self) -> None:
        """Stop every child (all at once, signalled in reverse start order) and drop the pid file."""
        running = [*reversed(self.children), *([self.step] if self.step else [])]
        if running:
            print("salescast up: stopping " + ", ".join(p.name for p in running), flush=True)
        killed = supervisor.stop_processes(running, self.settings.up.stop_timeout_s)
        if killed:
            print(
                f"salescast up: had to kill {', '.join(killed)} (did not stop within "
                f"up.stop_timeout_s={self.settings.up.stop_timeout_s:g}s)",
                flush=True,
            )
        self.children.clear()
        self.step = None
        record = supervisor.read_pid_file(self.pid_path)
        if record and int(record.get("pid", -1)) == os.getpid():
            self.pid_path.unlink(missing_ok=True)
        print("salescast up: stopped", flush=True)


def _record_children(record: dict[str, Any]) -> list[tuple[str, int, float | None]]:
    children = record.get("children") or {}
    return [(name, int(c["pid"]), c.get("create_time")) for name, c in children.items()]


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def up(settings: Settings, config_path: str | None) -> int:
    """Bring the whole stack up and keep it running until Ctrl-C / SIGTERM / `salescast down`."""
    started = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # health polls would log a line each
    preflight.check(settings)
    stack = Stack(settings, config_path)
    stack.claim()
    previous_term = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        plan = prepare_models(settings, config_path, stack._set_step)
        wanted = stack.start(plan.slugs)
        print(
            f"salescast up: started {', '.join(s.name for s in wanted)}; waiting until healthy "
            f"(logs in {supervisor.log_dir(settings.paths.run)})",
            flush=True,
        )
        stack.wait_healthy(wanted)
        _print_ready(stack, time.monotonic() - started)
        stack.watch()
    except (KeyboardInterrupt, _StopRequestedError):
        print("\nsalescast up: stop requested", flush=True)
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.stop()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_term)
    return 0  # pragma: no cover - watch() only leaves by raising


def _print_ready(stack: Stack, seconds: float) -> None:
    urls = stack.urls
    lines = [
        f"salescast is up ({seconds:.0f}s). Open:",
        f"  Web UI        {urls['ui']}/",
        f"  Gateway API   {urls['gateway']}/docs  (health: {urls['gateway']}/api/health)",
        f"  MLflow UI     {urls['mlflow']}/",
        f"  TorchServe    {urls['torchserve']}/ping  (inference API)",
        f"Logs: {supervisor.log_dir(stack.settings.paths.run)}/<service>.log",
        "Stop with Ctrl-C here, or `salescast down` / `make down` from another shell.",
    ]
    print("\n".join(lines), flush=True)


def train_missing(settings: Settings, config_path: str | None, *, retrain_all: bool = False) -> int:
    """One-shot: train + archive what model_store/ lacks (the compose `trainer` service), then exit."""
    plan = prepare_models(settings, config_path, lambda _proc: None, retrain_all=retrain_all)
    done = len(plan.train) + len(plan.archive)
    print(
        f"salescast train-missing: {done} trained or archived, {len(plan.ready)} already archived", flush=True
    )
    return 0


# ---- down -------------------------------------------------------------------------------------


def down(settings: Settings) -> int:
    """Stop the stack recorded in the pid file; clean up its children if the supervisor is gone."""
    path = supervisor.pid_file(settings.paths.run)
    record = supervisor.read_pid_file(path)
    if record is None:
        print(f"salescast down: nothing is running (no pid file at {path})", flush=True)
        return 0
    pid, create_time = int(record["pid"]), record.get("create_time")
    timeout = settings.up.stop_timeout_s
    if supervisor.is_alive(pid, create_time):
        print(f"salescast down: asking salescast up (pid {pid}) to stop", flush=True)
        os.kill(pid, signal.SIGTERM)
        # The supervisor stops its children with up to `timeout` each phase (TERM, then KILL).
        deadline = time.monotonic() + 3 * timeout
        while supervisor.is_alive(pid, create_time) and time.monotonic() < deadline:
            time.sleep(settings.up.poll_interval_s)
        if supervisor.is_alive(pid, create_time):
            print(f"salescast down: pid {pid} did not stop within {3 * timeout:g}s; killing it", flush=True)
            supervisor.stop_trees([("salescast up", pid, create_time)], timeout)
    leftovers = [child for child in _record_children(record) if supervisor.is_alive(child[1], child[2])]
    if leftovers:
        print(f"salescast down: stopping leftover {', '.join(c[0] for c in leftovers)}", flush=True)
        supervisor.stop_trees(leftovers, timeout)
    path.unlink(missing_ok=True)
    print("salescast down: stopped", flush=True)
    return 0
