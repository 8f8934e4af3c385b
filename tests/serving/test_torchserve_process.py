"""A real TorchServe: start-up outcomes, isolation of two instances, clean stops, `serve torchserve`."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from core import supervisor
from core.java import JavaNotFoundError, find_java
from serving.archive import ArchiveInfo
from serving.torchserve_process import KillNotFoundError, TorchServeError, TorchServeProcess
from tests.conftest import REPO_ROOT, make_test_settings
from tests.fixtures.torchserve import StartTorchServe
from tests.serving.scripted_store import broken_archive, processes_mentioning, scripted_archive

V1 = "20250101.000000"
WINDOW = [float(100 + i) for i in range(14)]


def predict(server: TorchServeProcess, model: str) -> httpx.Response:
    return httpx.post(f"{server.inference_url}/predictions/{model}", json={"sales": WINDOW}, timeout=10)


@pytest.mark.parametrize(
    ("with_java", "error", "message"),
    [
        (False, JavaNotFoundError, r"needs Java 11 or newer.*openjdk-17-jre-headless"),
        # Slim images have no `kill` executable; TorchServe's frontend execs one to stop every worker.
        (True, KillNotFoundError, r"`kill` command.*apt-get install procps"),
    ],
)
def test_a_missing_program_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_java: bool, error: type[Exception], message: str
) -> None:
    """PATH holds nothing but (maybe) java, JAVA_HOME is unset: start fails before launching anything."""
    programs = tmp_path / "bin"
    programs.mkdir()
    if with_java:
        (programs / "java").symlink_to(find_java())
    monkeypatch.setenv("PATH", str(programs))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    server = TorchServeProcess(make_test_settings(tmp_path))
    with pytest.raises(error, match=message):
        server.start()
    assert server.pid is None


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", settings.torchserve.inference_port))
        busy.listen()
        with pytest.raises(TorchServeError, match=r"torchserve.inference_port\) is in use"):
            TorchServeProcess(settings).start()


@pytest.mark.slow
@pytest.mark.torchserve
def test_empty_model_store_serves_nothing_but_is_healthy(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    server = isolated_torchserve(make_test_settings(tmp_path))
    assert (server.loaded, server.failed) == ({}, {})
    assert httpx.get(f"{server.inference_url}/ping").json() == {"status": "Healthy"}
    assert httpx.get(f"{server.management_url}/models").json()["models"] == []
    assert predict(server, "beauty").status_code == 404


@pytest.mark.slow
@pytest.mark.torchserve
def test_corrupt_and_broken_archives_are_reported_while_the_good_one_serves(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path)
    good = scripted_archive(settings, "Beauty", V1)
    corrupt_path = settings.paths.model_store / f"clothing-{V1}.mar"
    corrupt_path.write_bytes(b"this is not a zip archive")
    corrupt = ArchiveInfo("Clothing", "clothing", V1, corrupt_path)
    broken = broken_archive(settings, "Electronics", V1)

    server = isolated_torchserve(settings, [good, corrupt, broken])

    assert set(server.loaded) == {"beauty"}
    assert "TorchServe refused the archive" in server.failed[corrupt.file_name]
    broken_reason = server.failed[broken.file_name]
    assert "workers died while loading the model" in broken_reason
    assert str(server.model_log) in broken_reason
    assert predict(server, "beauty").status_code == 200
    models = httpx.get(f"{server.management_url}/models").json()["models"]
    assert [model["modelName"] for model in models] == ["beauty"]


@pytest.mark.slow
@pytest.mark.torchserve
def test_workers_dying_for_every_model_fail_the_start_and_point_to_the_log(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    broken = broken_archive(settings, "Beauty", V1)
    server = TorchServeProcess(settings, [broken])
    with pytest.raises(TorchServeError, match=r"could not serve any model.*workers died") as raised:
        server.start()
    assert str(server.model_log) in str(raised.value)
    assert "PytorchStreamReader" in server.model_log.read_text()
    assert not server.running
    assert processes_mentioning(server.work_dir) == []


@pytest.mark.slow
@pytest.mark.torchserve
def test_two_instances_run_side_by_side_and_stop_without_orphans(tmp_path: Path) -> None:
    first_settings = make_test_settings(tmp_path / "a")
    second_settings = make_test_settings(tmp_path / "b")
    first = TorchServeProcess(first_settings, [scripted_archive(first_settings, "Beauty", V1, seed=1)])
    second = TorchServeProcess(second_settings, [scripted_archive(second_settings, "Beauty", V1, seed=2)])
    with first, second:
        first_answer, second_answer = predict(first, "beauty"), predict(second, "beauty")
        assert first_answer.status_code == second_answer.status_code == 200
        assert first_answer.json()["prediction"] != second_answer.json()["prediction"]
        first_tree = first.process_tree()
        assert {process.name() for process in first_tree} >= {"java"}
        assert len(first_tree) >= 3  # launcher, Java, a worker
        first.stop()
        assert psutil.wait_procs(first_tree, timeout=5)[1] == []
        assert processes_mentioning(first.work_dir) == []
        assert predict(second, "beauty").json() == second_answer.json()
        second_tree = second.process_tree()
    assert psutil.wait_procs(second_tree, timeout=5)[1] == []
    assert processes_mentioning(second.work_dir) == []


@pytest.mark.slow
@pytest.mark.torchserve
def test_serve_torchserve_serves_until_ctrl_c(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    scripted_archive(settings, "Beauty", V1)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    log = tmp_path / "serve.log"
    work_dir = settings.paths.run.resolve() / f"torchserve-{settings.torchserve.inference_port}"
    command = [sys.executable, "-m", "salescast.cli.main", "--config", str(config), "serve", "torchserve"]
    process = supervisor.start_process("serve torchserve", command, log, cwd=REPO_ROOT)
    try:

        def up() -> str | None:
            return None if "torchserve up" in log.read_text() else "no `torchserve up` line yet"

        supervisor.wait_ready(process, up, settings.torchserve.startup_timeout_s)
        url = f"http://127.0.0.1:{settings.torchserve.inference_port}/predictions/beauty"
        assert httpx.post(url, json={"sales": WINDOW}).status_code == 200
        process.popen.send_signal(signal.SIGINT)  # this process only, as Ctrl-C in its terminal would
        assert process.popen.wait(timeout=60) == 0, log.read_text()
    finally:
        process.stop(timeout_s=10)
    assert "serving category=Beauty version=20250101.000000" in log.read_text()
    assert processes_mentioning(work_dir) == []


@pytest.mark.slow
@pytest.mark.torchserve
def test_archives_register_from_the_model_store_only(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    """`allowed_urls`: a .mar runs handler code, so the management API refuses any other source
    (TorchServe's default would fetch one from any file or http URL)."""
    settings = make_test_settings(tmp_path)
    inside = scripted_archive(settings, "Beauty", V1)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    stray = outside / "clothing.mar"
    stray.write_bytes(scripted_archive(settings, "Clothing", V1).path.read_bytes())
    server = isolated_torchserve(settings, [inside])
    refused = [
        httpx.post(f"{server.management_url}/models", params={"url": url}, timeout=30)
        for url in (
            f"file://{stray}",
            "http://127.0.0.1:9/clothing.mar",
            f"file://{settings.paths.model_store}/../elsewhere/clothing.mar",
        )
    ]
    by_name = httpx.post(
        f"{server.management_url}/models",
        params={"url": f"clothing-{V1}.mar", "initial_workers": 0},
        timeout=30,
    )
    # TorchServe answers 404 ModelNotFoundException
    assert [answer.status_code for answer in refused] == [404, 404, 404], [a.text for a in refused]
    # ("… does not match any allowed URL(s)"; the ../ one: "Relative path is not allowed in url")
    assert ["allowed" in answer.json()["message"] for answer in refused] == [True] * 3, [
        a.text for a in refused
    ]
    assert by_name.status_code == 200, by_name.text
    assert predict(server, "beauty").status_code == 200
