"""Preflight: a missing Java or a busy port stops `salescast up` before anything starts, naming the fix."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from salescast import preflight
from salescast.preflight import PreflightError
from tests.conftest import make_test_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_test_settings(tmp_path)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_free_ports_and_java_pass(settings: Settings) -> None:
    if preflight.java_problem():
        pytest.skip("this machine has no usable Java")
    preflight.check(settings)


def test_busy_port_names_the_setting_the_env_var_and_the_holder(settings: Settings, busy_port: int) -> None:
    taken = settings.with_overrides({"gateway": {"port": busy_port}})
    with pytest.raises(PreflightError) as excinfo:
        preflight.check(taken)
    message = str(excinfo.value)
    assert f"port {busy_port} for the gateway (gateway.port) is already in use" in message
    assert f"SALESCAST_GATEWAY__PORT={busy_port + 1} salescast up" in message
    assert "salescast down" in message


def test_two_services_on_one_port_are_reported(settings: Settings) -> None:
    clash = settings.with_overrides({"ui": {"port": settings.gateway.port}})
    with pytest.raises(PreflightError, match=r"ui\.port and gateway\.port are both"):
        preflight.check(clash)


def test_missing_java_names_the_package_to_install(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    problem = preflight.java_problem()
    assert problem is not None
    assert "Java not found on PATH" in problem and "openjdk-17-jre-headless" in problem
    with pytest.raises(PreflightError, match="Java not found"):
        preflight.check(settings)


def test_java_home_without_java_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    problem = preflight.java_problem()
    assert problem is not None and str(tmp_path) in problem


def test_old_java_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    problem = preflight.java_problem()
    assert problem is not None and "Java 8" in problem
