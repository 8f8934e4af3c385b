"""`salescast serve ui` starts while the gateway is down, serves the page, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.support.ports import free_port
from ui.server import launch_options

START_TIMEOUT_S = 60.0


@pytest.mark.slow
def test_serve_ui_starts_without_a_gateway_and_stops_on_sigterm(tmp_path: Path) -> None:
    port, gateway = free_port(), f"http://127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALESCAST_")}
    env.update({"SALESCAST_UI__PORT": str(port), "SALESCAST_GATEWAY_URL": gateway, "PYTHONUNBUFFERED": "1"})
    log_path = tmp_path / "ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "salescast", "serve", "ui"], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/", process, log_path)
        assert '"title":"salescast"' in page  # the page config the Gradio front end renders
        _wait_for_log(log_path, "ui listening on")  # launch() has returned: serving in the foreground
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text(errors="replace")
    assert f"ui listening on http://127.0.0.1:{port} (gateway {gateway})" in output
    assert "Traceback" not in output


def _wait_for_log(log_path: Path, text: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while text not in log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never logged: {log_path.read_text()}")
        time.sleep(0.2)


def _wait_for_page(url: str, process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"salescast serve ui exited with {process.returncode}: {log_path.read_text()}")
        try:
            return httpx.get(url, timeout=5).raise_for_status().text
        except httpx.HTTPError:
            time.sleep(0.3)
    pytest.fail(f"the UI did not answer within {START_TIMEOUT_S:g} s: {log_path.read_text()}")


def test_launch_options_keep_the_ui_offline_and_local(test_settings: Settings) -> None:
    options = launch_options(test_settings)
    assert options["server_name"] == test_settings.ui.host
    assert options["server_port"] == test_settings.ui.port
    assert options["share"] is False and options["ssr_mode"] is False and options["mcp_server"] is False
    assert options["show_error"] is False  # handlers show their own messages; no tracebacks in the page
