"""Served means `champion` in MLflow's registry: a real TorchServe, a real gateway subprocess and a
real MLflow (SQLite) store; the aliases follow a rollback, and the reconciler brings TorchServe back
to the champion after a crash between a deploy's steps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.contracts.champions import read_champions
from core.settings import Settings
from serving.archive import archive_version
from serving.model_record import ModelRecord
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.scripted_artifacts import write_scripted_version

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
V1, V2 = "20240101.000000", "20240201.000000"
WAIT_S = 60.0


@dataclass
class Stack:
    settings: Settings
    torchserve: TorchServeProcess
    gateway: GatewayProcess

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, timeout=30.0)

    def record(self) -> ModelRecord:
        return ModelRecord(self.settings)


@pytest.fixture
def stack(tmp_path: Path, isolated_torchserve: StartTorchServe) -> Iterator[Stack]:
    """Beauty V1 served and V2 archived (two scripted versions, trained before the registry knew them)."""
    settings = make_test_settings(tmp_path, gateway={"predict_timeout_s": 10.0, "models_refresh_s": 0.5})
    write_scripted_version(settings.paths.artifacts, "Beauty", V1, seed=1)
    write_scripted_version(settings.paths.artifacts, "Beauty", V2, seed=2)
    first = archive_version(settings, "Beauty", V1)
    archive_version(settings, "Beauty", V2)
    torchserve = isolated_torchserve(settings, [first])
    with GatewayProcess(settings, tmp_path / "gateway") as gateway:
        yield Stack(settings, torchserve, gateway)


def aliases(client: httpx.Client) -> dict[str, list[str]]:
    [model] = client.get("/api/models").json()["models"]
    return {version["version"]: version["aliases"] for version in model["versions"]}


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {WAIT_S:g} s: {what}")


def served(client: httpx.Client) -> str:
    answer = client.post("/api/predict", json={"category": "Beauty", "sales": [100.0] * 14})
    assert answer.status_code == 200, answer.text
    version: str = answer.json()["model_version"]
    return version


def test_start_up_adopts_the_served_version_and_a_rollback_moves_both_aliases(stack: Stack) -> None:
    with stack.client() as client:
        wait_for(lambda: aliases(client).get(V1) == ["champion"], "the served V1 recorded as champion")
        [model] = client.get("/api/models").json()["models"]
        first = next(version for version in model["versions"] if version["version"] == V1)
        assert first["registry_version"] == "1"

        pinned = client.put("/api/models/Beauty/default", json={"version": V2})
        assert pinned.status_code == 200, pinned.text
        # V2 was only archived: without a memory budget it is served with its worker at once
        assert client.get("/api/health").status_code == 200
        assert served(client) == V2
        assert aliases(client) == {V2: ["champion"], V1: ["previous"]}

        back = client.put("/api/models/Beauty/default", json={"version": V1})
        assert back.status_code == 200, back.text
        assert served(client) == V1
        assert aliases(client) == {V1: ["champion"], V2: ["previous"]}
    champion = read_champions(stack.settings.paths.model_store).models["beauty"]
    assert (champion.version, champion.previous) == (V1, V2)
    recorded = {item.version: item for item in stack.record().versions("beauty")}
    assert recorded[V1].aliases == ("champion",) and recorded[V2].aliases == ("previous",)
    assert len(recorded[V1].archive_sha256 or "") == 64


def test_a_crash_between_a_deploys_steps_is_reconciled_to_the_champion(stack: Stack) -> None:
    """TorchServe switched to V2 but the registry never moved (the deploy's process died between the
    two): at its next start the gateway makes TorchServe serve the champion again."""
    with stack.client() as client:
        wait_for(lambda: aliases(client).get(V1) == ["champion"], "the served V1 recorded as champion")
    stack.gateway.stop()
    management = stack.torchserve.management_url
    registered = httpx.post(
        f"{management}/models",
        params={"url": f"beauty-{V2}.mar", "initial_workers": 1, "synchronous": "true"},
    )
    assert registered.status_code == 200, registered.text
    assert httpx.put(f"{management}/models/beauty/{V2}/set-default").status_code == 200

    stack.gateway.start()
    with stack.client() as client:
        wait_for(lambda: served(client) == V1, "TorchServe serving the champion V1 again")
        assert aliases(client)[V1] == ["champion"]
    assert read_champions(stack.settings.paths.model_store).models["beauty"].version == V1


def test_a_champion_whose_version_is_not_registered_is_registered_and_served(stack: Stack) -> None:
    """The registry says V2 (e.g. a restart registered only V1): TorchServe gets V2 from the store."""
    with stack.client() as client:
        wait_for(lambda: aliases(client).get(V1) == ["champion"], "the served V1 recorded as champion")
    stack.gateway.stop()
    stack.record().promote("Beauty", "beauty", V2)

    stack.gateway.start()
    with stack.client() as client:
        wait_for(lambda: served(client) == V2, "TorchServe serving the champion V2")
        assert aliases(client) == {V2: ["champion"], V1: ["previous"]}
