"""The rendered config.properties: addresses, the deliberate auth decision, per-instance worker ports."""

from __future__ import annotations

import re
from pathlib import Path

from serving.torchserve_config import render_config
from tests.conftest import make_test_settings


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_config_fills_every_placeholder_from_settings(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, torchserve={"job_queue_size": 7, "default_response_timeout_s": 9})
    text = render_config(settings)
    props = properties(text)
    ts = settings.torchserve
    assert "${" not in text
    assert props["inference_address"] == f"http://127.0.0.1:{ts.inference_port}"
    assert props["management_address"] == f"http://127.0.0.1:{ts.management_port}"
    assert props["metrics_address"] == f"http://127.0.0.1:{ts.metrics_port}"
    assert props["model_store"] == str(settings.paths.model_store.resolve())
    assert props["initial_worker_port"] == str(ts.initial_worker_port)
    assert props["job_queue_size"] == "7"
    assert props["default_response_timeout"] == "9"
    assert props["enable_model_api"] == "true"
    assert props["disable_token_authorization"] == "true"
    assert props["metrics_mode"] == "prometheus"
    assert props["install_py_dep_per_model"] == "false"
    # only archives in the model store (a .properties value: the regex's backslashes doubled)
    allowed = re.compile(props["allowed_urls"].replace("\\\\", "\\"))
    store = settings.paths.model_store.resolve()
    assert allowed.fullmatch(f"file://{store}/beauty-1.mar")
    for url in (f"file://{store}/../x/beauty.mar", f"file://{store}x/beauty.mar", "http://host/beauty.mar"):
        assert not allowed.fullmatch(url), url
    # gRPC servers are unused; fixed default ports (7070/7071) would make a second instance exit
    assert props["grpc_inference_port"] == props["grpc_management_port"] == "0"
    assert props["grpc_inference_address"] == props["grpc_management_address"] == "127.0.0.1"
