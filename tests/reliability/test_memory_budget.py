"""Serving memory as a budget (`torchserve.max_loaded_models`): six categories behind a budget of
three, on a real TorchServe and a real gateway. Every category answers, at most three versions
hold a worker at any moment (sampled from TorchServe's management API the whole time), concurrent
requests for a cold category wait for one load, a deploy of an unloaded category works, and a hot
swap of a category under load loses no request while other categories evict each other."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.archive import archive_version
from serving.torchserve_process import TorchServeProcess
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.torchserve import ArchiveCopies
from tests.handlers.scripted_artifacts import write_scripted_version

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

BUDGET = 3
API_KEY = "budget-key-0123456789"
SCRIPTED = ("Books", "Garden", "Toys")  # beside the sample's three trained categories
SCRIPTED_VERSION = "20240101.000000"
WINDOW = [float(100 + 10 * i) for i in range(14)]


@dataclass
class BudgetStack:
    settings: Settings
    url: str
    torchserve: TorchServeProcess
    gateway_log: Path
    categories: list[str] = field(default_factory=list)

    def predict(self, client: httpx.Client, category: str) -> httpx.Response:
        return client.post(f"{self.url}/api/predict", json={"category": category, "sales": WINDOW})

    def loads_logged(self, model_name: str) -> int:
        return self.gateway_log.read_text(encoding="utf-8").count(f"model loaded model={model_name} ")

    def unloads_logged(self) -> int:
        return self.gateway_log.read_text(encoding="utf-8").count("model unloaded model=")


class WorkerSampler:
    """Counts, every few ms from a thread, the versions holding a worker in TorchServe.

    One sweep asks each model in turn, so an unload and a load between two of its questions would
    be counted as both holding; a sample is therefore the versions holding a worker in two sweeps in
    a row (a load or an unload takes longer than a sweep, so that is what held at the moment between).
    """

    def __init__(self, management_url: str, models: list[str]) -> None:
        self._url = management_url
        self._models = models
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WorkerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            previous: set[tuple[str, str]] | None = None
            while not self._stop.is_set():
                holding: set[tuple[str, str]] = set()
                for model in self._models:
                    answer = client.get(f"{self._url}/models/{model}/all")
                    if answer.status_code == 200:
                        holding |= {(model, v["modelVersion"]) for v in answer.json() if v.get("workers")}
                if previous is not None:
                    self.samples.append(len(previous & holding))
                previous = holding
                time.sleep(0.02)


@pytest.fixture(scope="module")
def budget_stack(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies
) -> Iterator[BudgetStack]:
    root = tmp_path_factory.mktemp("budget")
    settings = make_test_settings(
        root,
        data={"path": str(SAMPLE_DATA)},
        torchserve={"max_loaded_models": BUDGET},
        gateway={"api_key": API_KEY, "deploy_policy": "always"},
    )
    archives = archive_copies(settings)
    for category in SCRIPTED:
        write_scripted_version(settings.paths.artifacts, category, SCRIPTED_VERSION, kind="window_level")
        archives.append(archive_version(settings, category, SCRIPTED_VERSION))
    torchserve = torchserve_process(settings, archives).start()
    try:
        assert len(torchserve.loaded) == BUDGET and len(torchserve.archived) == len(archives) - BUDGET, (
            torchserve.loaded,
            torchserve.archived,
            torchserve.failed,
        )
        with GatewayLauncher(settings, root / "gateway") as gateway:
            yield BudgetStack(
                settings,
                gateway.url,
                torchserve,
                gateway.log_path,
                sorted(info.category for info in archives),
            )
    finally:
        torchserve.stop()


def _models(stack: BudgetStack, **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{stack.url}/api/models", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_start_up_loads_the_budget_and_lists_the_rest_as_archived(budget_stack: BudgetStack) -> None:
    health = httpx.get(f"{budget_stack.url}/api/health", timeout=30)
    assert health.status_code == 200, health.text
    served = health.json()["torchserve"]
    assert served["max_loaded_models"] == BUDGET
    assert served["loaded"] + served["archived"] == len(budget_stack.categories)
    assert served["loaded"] <= BUDGET
    every = _models(budget_stack)
    assert every["total"] == len(budget_stack.categories)
    assert [model["category"] for model in every["models"]] == budget_stack.categories
    archived = _models(budget_stack, state="archived")
    assert archived["total"] == every["archived"] >= len(budget_stack.categories) - BUDGET
    assert all(not model["loaded"] for model in archived["models"])
    page = _models(budget_stack, offset=2, limit=2)
    assert [model["category"] for model in page["models"]] == budget_stack.categories[2:4]
    assert (page["total"], page["offset"], page["limit"]) == (len(budget_stack.categories), 2, 2)
    assert [model["category"] for model in _models(budget_stack, q="OOK")["models"]] == ["Books"]
    refused = httpx.get(f"{budget_stack.url}/api/models", params={"limit": 0}, timeout=30)
    assert refused.status_code == 422 and "limit" in refused.text


def test_every_category_answers_and_at_most_the_budget_is_loaded(budget_stack: BudgetStack) -> None:
    names = [model["model_name"] for model in _models(budget_stack)["models"]]
    with (
        WorkerSampler(budget_stack.torchserve.management_url, names) as sampler,
        httpx.Client(timeout=60) as client,
    ):
        for _ in range(2):
            for category in budget_stack.categories:
                answer = budget_stack.predict(client, category)
                assert answer.status_code == 200, answer.text
                assert answer.json()["category"] == category
    assert max(sampler.samples) == BUDGET, sampler.samples  # full, never beyond
    assert _models(budget_stack)["loaded"] <= BUDGET


def test_concurrent_requests_for_a_cold_category_wait_for_one_load(budget_stack: BudgetStack) -> None:
    cold = _models(budget_stack, state="archived")["models"][0]
    before = budget_stack.loads_logged(cold["model_name"])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            body = {"category": cold["category"], "sales": WINDOW}
            return await asyncio.gather(
                *(client.post(f"{budget_stack.url}/api/predict", json=body) for _ in range(6))
            )

    answers = asyncio.run(burst())
    assert [answer.status_code for answer in answers] == [200] * 6, [answer.text for answer in answers]
    assert budget_stack.loads_logged(cold["model_name"]) == before + 1


def test_a_deploy_of_an_unloaded_category_works_within_the_budget(budget_stack: BudgetStack) -> None:
    """A training job (from its own process) deploys a new version of a category that is not loaded."""
    headers = {"X-API-Key": API_KEY}
    trained = {"Beauty", "Clothing", "Electronics"}
    with httpx.Client(timeout=60) as client:
        for category in SCRIPTED:  # the three scripted categories become the most recently used
            assert budget_stack.predict(client, category).status_code == 200
    target = next(model for model in _models(budget_stack)["models"] if model["category"] in trained)
    assert not target["loaded"], "expected a trained category to have been unloaded"
    names = [model["model_name"] for model in _models(budget_stack)["models"]]
    with (
        WorkerSampler(budget_stack.torchserve.management_url, names) as sampler,
        httpx.Client(timeout=60) as client,
    ):
        accepted = client.post(
            f"{budget_stack.url}/api/train",
            json={"categories": [target["category"]], "deploy": "always"},
            headers=headers,
        )
        assert accepted.status_code == 202, accepted.text
        job_url = f"{budget_stack.url}/api/jobs/{accepted.json()['job_id']}"
        deadline = time.monotonic() + 240
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = client.get(job_url, headers=headers).json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert job.get("status") == "succeeded", job
        answer = budget_stack.predict(client, target["category"])
    assert answer.status_code == 200, answer.text
    new_version = job["results"][0]["version"]
    assert answer.json()["model_version"] == new_version
    assert max(sampler.samples) <= BUDGET, sampler.samples


class CategoryLoop:
    """Predicts the given categories in turn from a thread until stopped; every answer is recorded."""

    def __init__(self, stack: BudgetStack, categories: list[str]) -> None:
        self._stack = stack
        self._categories = categories
        self._stop = threading.Event()
        self.answers: list[tuple[str, int, str]] = []  # (category, status, version or error text)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CategoryLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def versions(self, category: str) -> list[str]:
        return [version for name, status, version in self.answers if name == category and status == 200]

    def _run(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                for category in self._categories:
                    try:
                        answer = self._stack.predict(client, category)
                    except httpx.HTTPError as exc:
                        self.answers.append((category, 0, repr(exc)))
                        continue
                    ok = answer.status_code == 200
                    detail = answer.json()["model_version"] if ok else answer.text
                    self.answers.append((category, answer.status_code, detail))


def test_a_hot_swap_under_load_loses_no_request_within_the_budget(budget_stack: BudgetStack) -> None:
    """While threads predict a loaded category and others (evicting each other), a training job
    deploys a new version of that category: every request is answered, the answers switch to the
    new version for good, and no more than the budget ever holds a worker."""
    headers = {"X-API-Key": API_KEY}
    models = {model["category"]: model for model in _models(budget_stack)["models"]}
    target = "Clothing"
    others = [category for category in budget_stack.categories if category != target][:3]
    old_version = models[target]["default_version"]
    names = [model["model_name"] for model in models.values()]
    with httpx.Client(timeout=60) as client:
        assert budget_stack.predict(client, target).status_code == 200
    assert _models(budget_stack, q=target)["models"][0]["loaded"]
    unloads = budget_stack.unloads_logged()
    with (
        WorkerSampler(budget_stack.torchserve.management_url, names) as sampler,
        CategoryLoop(budget_stack, [target]) as hot,
        CategoryLoop(budget_stack, others) as churn,
        CategoryLoop(budget_stack, others[::-1]) as churn_back,
        httpx.Client(timeout=60) as client,
    ):
        accepted = client.post(
            f"{budget_stack.url}/api/train",
            json={"categories": [target], "deploy": "always"},
            headers=headers,
        )
        assert accepted.status_code == 202, accepted.text
        job_url = f"{budget_stack.url}/api/jobs/{accepted.json()['job_id']}"
        deadline = time.monotonic() + 300
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = client.get(job_url, headers=headers).json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert job.get("status") == "succeeded", job
        new_version = job["results"][0]["version"]
        settled = len(hot.versions(target))
        while len(hot.versions(target)) < settled + 10 and time.monotonic() < deadline:
            time.sleep(0.1)  # a few answers from the new version
    lost = [answer for answer in hot.answers + churn.answers + churn_back.answers if answer[1] != 200]
    assert lost == [], lost
    assert churn.answers and churn_back.answers
    assert budget_stack.unloads_logged() > unloads  # the categories evicted each other meanwhile
    answered = hot.versions(target)
    assert answered[0] == old_version and answered[-1] == new_version, answered
    switched = answered.index(new_version)
    assert set(answered[switched:]) == {new_version}, "answers went back to the old version"
    assert max(sampler.samples) <= BUDGET, sampler.samples
    assert _models(budget_stack)["loaded"] <= BUDGET
