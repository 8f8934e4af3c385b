"""The memory budget shared by gateway replicas (`redis.url`): one real TorchServe with six categories
behind a budget of three, a real redis-server and two real gateway processes. Threads predict every
category through both gateways at once; every request is answered and at no sampled moment do more
than three versions hold a worker, also while a training job deploys a new version (its headroom
and reconcile go through the shared set). The control, the same traffic through two gateways
without Redis, goes beyond the budget (each keeps its own set of three): the test can fail."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from core.settings import Settings
from salescast.bench.isolation import free_port
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.archive import archive_version
from serving.torchserve_process import TorchServeProcess
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.torchserve import ArchiveCopies
from tests.handlers.scripted_artifacts import write_scripted_version
from tests.reliability.test_memory_budget import WorkerSampler

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

BUDGET = 3
API_KEY = "shared-budget-key-0123456789"
HEADERS = {"X-API-Key": API_KEY}
JOB_WAIT_S = 300.0  # a tiny training job on a busy 2-core machine, with deploy
SCRIPTED = ("Books", "Garden", "Toys")  # beside the sample's three trained categories
SCRIPTED_VERSION = "20240101.000000"
WINDOW = [float(100 + 10 * i) for i in range(14)]
TRAFFIC_S = 20.0


@dataclass
class SixCategories:
    settings: Settings
    torchserve: TorchServeProcess
    categories: list[str]
    model_names: list[str]


@pytest.fixture(scope="module")
def six_categories(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies
) -> Iterator[SixCategories]:
    """One TorchServe: six categories registered, three of them loaded (the budget)."""
    root = tmp_path_factory.mktemp("shared-budget")
    settings = make_test_settings(
        root,
        data={"path": str(SAMPLE_DATA)},
        torchserve={"max_loaded_models": BUDGET},
        # A training job shares the two cores with TorchServe and both gateways: a prediction may take
        # longer than the served 2 s there, and what this file checks is the budget, not latency.
        gateway={"api_key": API_KEY, "deploy_policy": "always", "job_poll_s": 0.2, "predict_timeout_s": 10.0},
    )
    archives = archive_copies(settings)
    for category in SCRIPTED:
        write_scripted_version(settings.paths.artifacts, category, SCRIPTED_VERSION, kind="window_level")
        archives.append(archive_version(settings, category, SCRIPTED_VERSION))
    torchserve = torchserve_process(settings, archives).start()
    try:
        assert len(torchserve.loaded) == BUDGET, (torchserve.loaded, torchserve.archived, torchserve.failed)
        yield SixCategories(
            settings,
            torchserve,
            sorted(info.category for info in archives),
            sorted(info.model_name for info in archives),
        )
    finally:
        torchserve.stop()


@contextmanager
def two_gateways(stack: SixCategories, work_dir: Path, settings: Settings | None) -> Iterator[list[str]]:
    """Two gateway processes in front of the stack's TorchServe with `settings` (the stack's when
    None) and ports of their own."""
    base = settings if settings is not None else stack.settings
    with ExitStack() as started:
        urls = []
        for name in ("a", "b"):
            own = base.with_overrides({"gateway": {"port": free_port()}})
            urls.append(started.enter_context(GatewayLauncher(own, work_dir / name)).url)
        yield urls


class Traffic:
    """Threads predicting their categories in turn through their gateway until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.answers: list[tuple[str, str, int, str]] = []  # (gateway, category, status, body)
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Traffic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for thread in self._threads:
            thread.join(timeout=180)

    def start(self, routes: list[tuple[str, list[str]]]) -> None:
        """One thread per (gateway URL, categories)."""
        self._threads = [threading.Thread(target=self._run, args=route, daemon=True) for route in routes]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """No new request (the threads end with their current one)."""
        self._stop.set()

    def _run(self, url: str, categories: list[str]) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                for category in categories:
                    try:
                        answer = client.post(
                            f"{url}/api/predict", json={"category": category, "sales": WINDOW}
                        )
                    except httpx.HTTPError as exc:
                        self.answers.append((url, category, 0, repr(exc)))
                        continue
                    self.answers.append((url, category, answer.status_code, answer.text))


def routes(urls: list[str], categories: list[str]) -> list[tuple[str, list[str]]]:
    """Each gateway its own half, and every category (forward through one, backward through the
    other): with a loaded set per gateway the two halves alone fill twice the budget."""
    half = len(categories) // 2
    return [
        (urls[0], categories[:half]),
        (urls[1], categories[half:]),
        (urls[0], categories),
        (urls[1], categories[::-1]),
    ]


def test_two_gateways_on_one_redis_stay_within_the_budget(
    six_categories: SixCategories, redis_server: RedisServer, tmp_path: Path
) -> None:
    shared = redis_server.settings()
    settings = six_categories.settings.with_overrides({"redis": shared.model_dump()})
    with two_gateways(six_categories, tmp_path, settings) as urls:
        with (
            WorkerSampler(six_categories.torchserve.management_url, six_categories.model_names) as sampler,
            Traffic() as traffic,
        ):
            traffic.start(routes(urls, six_categories.categories))
            time.sleep(TRAFFIC_S)
        holding = {
            (model, version["modelVersion"])
            for model in six_categories.model_names
            for version in httpx.get(f"{six_categories.torchserve.management_url}/models/{model}/all").json()
            if version.get("workers")
        }
        key = f"{shared.key_prefix}loaded:{six_categories.settings.torchserve.management_base_url}"
        stored = cast(list[bytes], redis_server.client().zrange(key, 0, -1))
        members = {tuple(member.decode().rsplit("@", 1)) for member in stored}
        logs = [path.read_text(encoding="utf-8") for path in sorted(tmp_path.glob("*/gateway-*.log"))]
    failed = [answer for answer in traffic.answers if answer[2] != 200]
    assert failed == [], failed[:5]
    assert {category for _, category, _, _ in traffic.answers} == set(six_categories.categories)
    assert {url for url, *_ in traffic.answers} == set(urls)
    assert sampler.samples and max(sampler.samples) <= BUDGET, sampler.samples
    assert members == holding and len(members) <= BUDGET, (members, holding)
    assert len(logs) == 2 and all("model loaded model=" in log for log in logs)  # both decided


def test_a_deploy_under_load_keeps_the_shared_budget(
    six_categories: SixCategories, redis_server: RedisServer, tmp_path: Path
) -> None:
    """A training job deploys a new version while both gateways predict every category: its headroom
    holds in the shared set, its reconcile puts the new version there, no request is lost and the
    budget holds throughout."""
    shared = redis_server.settings()
    settings = six_categories.settings.with_overrides({"redis": shared.model_dump()})
    target = "Beauty"
    headroom_key = (
        f"{shared.key_prefix}loaded-headroom:{six_categories.settings.torchserve.management_base_url}"
    )
    headroom_seen: set[bytes | None] = set()
    with two_gateways(six_categories, tmp_path, settings) as urls, redis_server.client() as redis_client:
        with (
            WorkerSampler(six_categories.torchserve.management_url, six_categories.model_names) as sampler,
            Traffic() as traffic,
            httpx.Client(timeout=30, headers=HEADERS) as client,
        ):
            traffic.start(routes(urls, six_categories.categories)[2:])  # two threads: the job needs a core
            accepted = client.post(f"{urls[0]}/api/train", json={"categories": [target], "deploy": "always"})
            assert accepted.status_code == 202, accepted.text
            deadline = time.monotonic() + JOB_WAIT_S
            job: dict[str, Any] = {}
            while time.monotonic() < deadline and job.get("status") not in ("succeeded", "failed"):
                time.sleep(0.5)
                headroom_seen.add(cast(bytes | None, redis_client.get(headroom_key)))
                job = client.get(f"{urls[0]}/api/jobs/{accepted.json()['job_id']}").json()
        answer = httpx.post(f"{urls[0]}/api/predict", json={"category": target, "sales": WINDOW}, timeout=60)
    assert job.get("status") == "succeeded", job
    assert b"2" in headroom_seen, headroom_seen  # the job's deploy slots, seen by both gateways
    assert answer.status_code == 200 and answer.json()["model_version"] == job["results"][0]["version"]
    failed = [answer for answer in traffic.answers if answer[2] != 200]
    assert failed == [], failed[:5]
    assert sampler.samples and max(sampler.samples) <= BUDGET, sampler.samples


def test_two_gateways_without_redis_exceed_the_budget(six_categories: SixCategories, tmp_path: Path) -> None:
    """The control: each gateway keeps its own set of three, so together they hold more."""
    with (
        Traffic() as traffic,  # joined once the gateways stopped: requests waiting on loads end at once
        two_gateways(six_categories, tmp_path, None) as urls,
        WorkerSampler(six_categories.torchserve.management_url, six_categories.model_names) as sampler,
    ):
        traffic.start(routes(urls, six_categories.categories))
        deadline = time.monotonic() + TRAFFIC_S
        while time.monotonic() < deadline and max(sampler.samples, default=0) <= BUDGET:
            time.sleep(0.2)
        traffic.stop()
    assert max(sampler.samples) > BUDGET, sampler.samples
