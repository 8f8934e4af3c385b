"""The sharded topology for real: two shards, each with its own ports and model store, shard "a" of
two TorchServe pods (as `prod` runs two per shard), and one gateway routing by the shard map
(`torchserve.shard_map`). Every category answers through the gateway, each shard registers only its
own categories, a training job's deploy lands on every pod of the category's shard and nowhere
else, and killing one shard turns only its categories into 503s naming it, until it comes back."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core.settings import Settings
from core.shard_map import read_shard_map
from salescast.bench.serving_stack import GatewayLauncher, torchserve_process
from serving.archive import archive_version
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.torchserve import ArchiveCopies
from tests.handlers.scripted_artifacts import write_scripted_version

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

API_KEY = "shards-key-0123456789"
SHARDS = ("a", "b")
SCRIPTED = ("Books", "Garden", "Toys")  # beside the sample's three trained categories
SCRIPTED_VERSION = "20240101.000000"
WINDOW = [float(100 + 10 * i) for i in range(14)]


@dataclass
class ShardedStack:
    url: str
    shard_settings: dict[str, Settings]
    servers: dict[str, TorchServeProcess]
    shard_of: dict[str, str]  # category → shard name
    gateway_log: Path

    def predict(self, category: str) -> httpx.Response:
        return httpx.post(f"{self.url}/api/predict", json={"category": category, "sales": WINDOW}, timeout=60)

    def categories_of(self, shard: str) -> list[str]:
        return sorted(category for category, name in self.shard_of.items() if name == shard)

    def start_shard(self, shard: str) -> TorchServeProcess:
        server: TorchServeProcess = torchserve_process(self.shard_settings[shard]).start()
        self.servers[shard] = server
        return server


SECOND_POD = "a-pod-1"  # shard "a"'s second pod: its own ports, the shard's model store


@pytest.fixture(scope="module")
def sharded_stack(
    tmp_path_factory: pytest.TempPathFactory, archive_copies: ArchiveCopies
) -> Iterator[ShardedStack]:
    root = tmp_path_factory.mktemp("shards")
    map_path = root / "shards.yaml"
    shard_settings = {
        name: make_test_settings(
            root / f"shard-{name}", torchserve={"shard_map": str(map_path), "shard": name}
        )
        for name in SHARDS
    }
    shard_settings[SECOND_POD] = make_test_settings(
        root / f"shard-{SECOND_POD}",
        torchserve={"shard_map": str(map_path), "shard": "a"},
        paths={"model_store": str(shard_settings["a"].paths.model_store)},
    )
    map_path.write_text(
        yaml.safe_dump(
            {
                "format_version": 1,
                "routing": "rendezvous-sha256",
                "shards": [
                    {
                        "name": name,
                        "inference_url": settings.torchserve.inference_base_url,
                        "management_url": settings.torchserve.management_base_url,
                        "model_store": str(settings.paths.model_store),
                        "pods": [settings.torchserve.management_base_url]
                        + (
                            [shard_settings[SECOND_POD].torchserve.management_base_url] if name == "a" else []
                        ),
                    }
                    for name, settings in shard_settings.items()
                    if name in SHARDS
                ],
            }
        ),
        encoding="utf-8",
    )
    settings = make_test_settings(
        root / "gateway",
        torchserve={"shard_map": str(map_path)},
        gateway={"api_key": API_KEY, "deploy_policy": "always"},
    )
    archives = archive_copies(settings)
    for category in SCRIPTED:
        write_scripted_version(settings.paths.artifacts, category, SCRIPTED_VERSION, kind="window_level")
        archives.append(archive_version(settings, category, SCRIPTED_VERSION))
    shard_map = read_shard_map(map_path)
    shard_of = {info.category: shard_map.shard_for(info.model_name).name for info in archives}
    assert set(shard_of.values()) == set(SHARDS), shard_of  # both shards serve something
    for name in SHARDS:  # every shard's store holds every archive; it serves its own
        store = shard_settings[name].paths.model_store
        shutil.copytree(settings.paths.model_store, store, dirs_exist_ok=True)
    stack = ShardedStack("", shard_settings, {}, shard_of, root / "gateway")
    try:
        for name in (*SHARDS, SECOND_POD):
            stack.start_shard(name)
        with GatewayLauncher(settings, root / "gateway") as gateway:
            stack.url, stack.gateway_log = gateway.url, gateway.log_path
            yield stack
    finally:
        for server in stack.servers.values():
            server.stop()


def _registered(server: TorchServeProcess) -> set[str]:
    answer = httpx.get(f"{server.management_url}/models", timeout=30)
    assert answer.status_code == 200, answer.text
    return {model["modelName"] for model in answer.json()["models"]}


def _wait_for(stack: ShardedStack, category: str, status: int, timeout_s: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    answer = stack.predict(category)
    while answer.status_code != status and time.monotonic() < deadline:
        time.sleep(1)
        answer = stack.predict(category)
    return answer


def test_each_shard_registers_only_its_categories_and_every_category_answers(
    sharded_stack: ShardedStack,
) -> None:
    for pod, server in sharded_stack.servers.items():
        shard = "a" if pod == SECOND_POD else pod
        own = {category.lower() for category in sharded_stack.categories_of(shard)}
        assert _registered(server) == own, pod
    for category in sharded_stack.shard_of:
        answer = sharded_stack.predict(category)
        assert answer.status_code == 200, (category, answer.text)
    listed = httpx.get(f"{sharded_stack.url}/api/models", timeout=30).json()["models"]
    assert sorted(model["category"] for model in listed) == sorted(sharded_stack.shard_of)


def test_a_deploy_reaches_every_pod_of_the_categorys_shard_only(sharded_stack: ShardedStack) -> None:
    target = next(category for category in sharded_stack.categories_of("a") if category not in SCRIPTED)
    with httpx.Client(timeout=60, headers={"X-API-Key": API_KEY}) as client:
        accepted = client.post(
            f"{sharded_stack.url}/api/train", json={"categories": [target], "deploy": "always"}
        )
        assert accepted.status_code == 202, accepted.text
        job_url = f"{sharded_stack.url}/api/jobs/{accepted.json()['job_id']}"
        deadline = time.monotonic() + 300
        job: dict[str, Any] = client.get(job_url).json()
        while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(1)
            job = client.get(job_url).json()
    assert job["status"] == "succeeded", job
    version = job["results"][0]["version"]
    model = target.lower()
    for pod in ("a", SECOND_POD):  # the new default, on both pods of shard a
        on_pod = httpx.get(f"{sharded_stack.servers[pod].management_url}/models/{model}", timeout=30).json()
        assert on_pod[0]["modelVersion"] == version, pod
    assert (sharded_stack.shard_settings["a"].paths.model_store / f"{model}-{version}.mar").is_file()
    assert model not in _registered(sharded_stack.servers["b"])
    answer = _wait_for(sharded_stack, target, 200)
    assert answer.json()["model_version"] == version, answer.text


def test_a_dead_shard_turns_only_its_categories_into_503_until_it_returns(
    sharded_stack: ShardedStack,
) -> None:
    down, up = "b", "a"
    sharded_stack.servers.pop(down).stop()
    try:
        for category in sharded_stack.categories_of(down):
            answer = sharded_stack.predict(category)
            assert answer.status_code == 503, (category, answer.text)
            assert f"shard {down}" in answer.json()["detail"], answer.text
        for category in sharded_stack.categories_of(up):
            answer = sharded_stack.predict(category)
            assert answer.status_code == 200, (category, answer.text)
        health = httpx.get(f"{sharded_stack.url}/api/health", timeout=30)
        assert health.status_code == 503
        assert f"shard {down}" in health.text, health.text
    finally:
        sharded_stack.start_shard(down)
    for category in sharded_stack.categories_of(down):
        answer = _wait_for(sharded_stack, category, 200)
        assert answer.status_code == 200, (category, answer.text)
    assert httpx.get(f"{sharded_stack.url}/api/health", timeout=30).status_code == 200
