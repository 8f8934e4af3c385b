"""Hot swap under load, deploy failures and their true outcome, and the management client against a
real TorchServe."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from core.artifacts import version_dir
from serving.archive import ArchiveInfo
from serving.deploy import DeployError, DeployResult, deploy_archive
from serving.management_client import ManagementClient, ManagementError
from tests.conftest import make_test_settings
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.reference import reference_next_day
from tests.serving.scripted_store import broken_archive, scripted_archive

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

V1, V2, V3 = "20250101.000000", "20250102.000000", "20250103.000000"
WINDOW = [float(300 - 5 * i) for i in range(14)]


def direct_prediction(model_dir: Path) -> float:
    return reference_next_day(model_dir, [WINDOW])[0]


class PredictionLoop(threading.Thread):
    """Predicts back to back until stopped, recording every answer's version and every failure."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop_event.is_set():
                try:
                    response = client.post(self.url, json={"sales": WINDOW})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.versions.append(response.json()["model_version"])
                else:
                    self.failures.append(f"{response.status_code} {response.text}")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def test_hot_swap_under_load_fails_no_prediction(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path, torchserve={"drain_s": 0.5, "loaded_versions": 1})
    v1 = scripted_archive(settings, "Beauty", V1, seed=1)
    v2 = scripted_archive(settings, "Beauty", V2, seed=2)
    server = isolated_torchserve(settings, [v1])
    loop = PredictionLoop(f"{server.inference_url}/predictions/beauty")

    async def swap() -> tuple[DeployResult, list[str], str]:
        async with ManagementClient(server.management_url) as client:
            result = await deploy_archive(client, v2, settings)
            versions = [d.version for d in await client.describe_all("beauty")]
            return result, versions, await client.default_version("beauty")

    loop.start()
    try:
        while len(loop.versions) < 20:
            threading.Event().wait(0.05)
        result, registered, default = asyncio.run(swap())
        seen = len(loop.versions)
        while len(loop.versions) < seen + 20:
            threading.Event().wait(0.05)
    finally:
        loop.stop()

    assert loop.failures == []
    assert loop.versions[0] == V1
    assert loop.versions[-1] == V2
    first_v2 = loop.versions.index(V2)
    assert set(loop.versions[first_v2:]) == {V2}, "answers went back to v1 after the switch"
    assert (registered, default) == ([V2], V2)
    assert result.previous_default == V1
    assert result.unregistered == [V1]
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": WINDOW}).json()
    assert answer["prediction"] == pytest.approx(
        direct_prediction(version_dir(settings, "Beauty", V2)), abs=1e-4
    )


def test_failed_deploy_keeps_the_previous_version_and_client_errors_carry_torchserve_text(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path, torchserve={"drain_s": 0.0})
    v1 = scripted_archive(settings, "Beauty", V1)
    broken = broken_archive(settings, "Beauty", V3)
    server = isolated_torchserve(settings, [v1])

    async def scenario() -> None:
        async with ManagementClient(server.management_url) as client:
            with pytest.raises(DeployError, match=r"could not load beauty-20250103\.000000\.mar"):
                await deploy_archive(client, broken, settings)
            assert [d.version for d in await client.describe_all("beauty")] == [V1]
            assert await client.default_version("beauty") == V1
            assert [m.name for m in await client.list_models()] == ["beauty"]
            description = (await client.describe("beauty", V1))[0]
            assert (description.name, description.ready_workers) == ("beauty", 1)
            with pytest.raises(ManagementError) as missing:
                await client.unregister("beauty", "19990101.000000")
            assert missing.value.status_code == 404
            assert "19990101.000000" in missing.value.message
            with pytest.raises(ManagementError) as unknown_file:
                await client.register("nothing-here.mar", initial_workers=1)
            assert unknown_file.value.status_code in (400, 404)
            assert await client.scale_workers("beauty", V1, min_workers=2)
            # "synchronous" answers once the workers started; on a busy machine a new worker can
            # still be restarting then, so its readiness is polled (as serving.workers does).
            deadline = time.monotonic() + 60
            while (ready := (await client.describe("beauty", V1))[0].ready_workers) < 2:
                assert time.monotonic() < deadline, ready
                await asyncio.sleep(0.5)

    asyncio.run(scenario())
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": WINDOW})
    assert answer.json()["model_version"] == V1


def test_bad_request_in_a_batch_gets_its_4xx_while_the_others_are_answered(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path, archive={"batch_size": 4, "max_batch_delay_ms": 1000})
    archive = scripted_archive(settings, "Beauty", V1, seed=5)
    server = isolated_torchserve(settings, [archive])
    url = f"{server.inference_url}/predictions/beauty"
    bodies: list[dict[str, object]] = [
        {"sales": WINDOW},
        {"sales": WINDOW[:3]},
        {"instances": [WINDOW, WINDOW[::-1]]},
        {"sales": WINDOW[::-1]},
    ]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(client.post(url, json=body) for body in bodies))

    responses = asyncio.run(send_all())
    assert [response.status_code for response in responses] == [200, 400, 200, 200]
    bad = responses[1]
    assert bad.json() == {"error": "expected 14 values, got 3"}
    assert bad.reason_phrase == "expected 14 values, got 3"
    expected = direct_prediction(version_dir(settings, "Beauty", V1))
    assert responses[0].json()["prediction"] == pytest.approx(expected, abs=1e-4)
    assert responses[2].json()["predictions"][0] == pytest.approx(expected, abs=1e-4)
    described = httpx.get(f"{server.management_url}/models/beauty").json()[0]
    assert described["batchSize"] == 4


def test_an_old_version_that_will_not_unregister_is_retried_then_reported_while_the_new_one_serves(
    tmp_path: Path, isolated_torchserve: StartTorchServe, no_kill_on_path: None
) -> None:
    settings = make_test_settings(
        tmp_path,
        torchserve={"drain_s": 0.0, "loaded_versions": 1, "unregister_attempts": 1, "unregister_retry_s": 0},
    )
    v1, v2, v3 = (scripted_archive(settings, "Beauty", v, seed=i) for i, v in enumerate((V1, V2, V3)))
    server = isolated_torchserve(settings, [v1])

    async def deploy(archive: ArchiveInfo, attempts: int) -> tuple[DeployResult, list[str], str]:
        retrying = settings.with_overrides({"torchserve": {"unregister_attempts": attempts}})
        async with ManagementClient(server.management_url) as client:
            result = await deploy_archive(client, archive, retrying)
            versions = sorted(d.version for d in await client.describe_all("beauty"))
            return result, versions, await client.default_version("beauty")

    # One try: TorchServe refuses to unregister V1, yet V2 is the default: a deploy with a warning.
    result, registered, default = asyncio.run(deploy(v2, attempts=1))
    assert (result.version, result.previous_default, default) == (V2, V1, V2)
    assert result.unregistered == []
    [warning] = result.warnings
    assert f"version {V1} is still registered" in warning
    assert "Interrupted while cleaning resources" in warning
    assert registered == [V1, V2]
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": WINDOW}).json()
    assert answer["model_version"] == V2

    # Two tries: the retry removes what the first try could not (V2 had a live worker), and V1.
    result, registered, default = asyncio.run(deploy(v3, attempts=2))
    assert (result.version, default, registered) == (V3, V3, [V3])
    assert sorted(result.unregistered) == [V1, V2]
    assert result.warnings == []


class _SwitchFails(ManagementClient):
    """A real management client whose set-default call fails, before or after TorchServe applied it."""

    def __init__(self, base_url: str, *, applied: bool) -> None:
        super().__init__(base_url)
        self.applied = applied

    async def set_default(self, model: str, version: str) -> str:
        if self.applied:
            await super().set_default(model, version)
        raise ManagementError(500, "connection reset while answering (injected)")


def test_the_default_torchserve_reports_decides_whether_a_deploy_happened(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path, torchserve={"drain_s": 0.0, "loaded_versions": 1})
    v1, v2, v3 = (scripted_archive(settings, "Beauty", v, seed=i) for i, v in enumerate((V1, V2, V3)))
    server = isolated_torchserve(settings, [v1])

    async def scenario() -> None:
        async with _SwitchFails(server.management_url, applied=False) as client:
            with pytest.raises(DeployError, match=rf"did not make beauty version {V2} the default"):
                await deploy_archive(client, v2, settings)
            assert [d.version for d in await client.describe_all("beauty")] == [V1]  # V2 removed
            assert await client.default_version("beauty") == V1
        async with _SwitchFails(server.management_url, applied=True) as client:
            result = await deploy_archive(client, v3, settings)
            assert (result.version, result.unregistered, result.warnings) == (V3, [V1], [])
            assert [d.version for d in await client.describe_all("beauty")] == [V3]

    asyncio.run(scenario())
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": WINDOW}).json()
    assert answer["model_version"] == V3
