"""The handler travels alone inside the `.mar`, with its own reader of `norm_stats.json` and its own
describe answer. These tests keep them in step with the typed owners in `core.contracts`: the
handler accepts every manifest the writer writes, rejects what the typed reader rejects, and its
describe answer is what the gateway's reader expects."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from ts.context import Context

from core.contracts.files import ContractError
from core.contracts.manifest import MANIFEST_FILE, VersionManifest, read_manifest, write_manifest
from core.contracts.metrics import write_metrics
from core.contracts.served import parse_served_info
from handlers.forecast_handler import ForecastHandler
from handlers.forecast_steps import load_norm_stats
from tests.handlers.scripted_artifacts import manifest, metrics, scripted_model

VERSION = "20250102.030405"


@pytest.mark.parametrize(
    "written",
    [
        manifest("Beauty", VERSION, 14, 250.0, 40.0),
        manifest("Home & Garden", VERSION, 1, -3.5, 1e-9),  # smallest window, tiny std, negative mean
        manifest("Café — Bücher", VERSION, 366, 0.0, 1.0),  # non-ASCII name, a year of history
        manifest("Beauty", VERSION, 14, 250.0, 40.0, kind="raw"),  # archives made before format 2
        manifest("Beauty", VERSION, 14, 250.0, 40.0, kind="window_level"),  # what training writes
        manifest("Beauty", VERSION, 28, 3.5, 1e-9, kind="window_level"),
    ],
)
def test_the_handler_reads_every_manifest_the_writer_writes(tmp_path: Path, written: VersionManifest) -> None:
    write_manifest(tmp_path, written)
    read_back = load_norm_stats(tmp_path / MANIFEST_FILE)
    assert read_back["category"] == written.category
    assert read_back["version"] == written.version
    assert read_back["window_size"] == written.window_size
    assert (read_back["mean"], read_back["std"]) == (written.mean, written.std)
    assert read_back["format_version"] == written.format_version
    if written.normalization is not None:
        assert read_back["normalization"] == written.normalization.model_dump()
    assert read_manifest(tmp_path) == written


def _valid() -> dict[str, Any]:
    return manifest("Beauty", VERSION, 14, 250.0, 40.0).model_dump(mode="json")


def _without(key: str) -> dict[str, Any]:
    data = _valid()
    del data[key]
    return data


def _format_2(**normalization: Any) -> dict[str, Any]:
    data = manifest("Beauty", VERSION, 14, 250.0, 40.0, kind="window_level").model_dump(mode="json")
    data["normalization"] = {**data["normalization"], **normalization}
    return data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_without("category"), "category"),
        (_without("version"), "version"),
        (_without("window_size"), "window_size"),
        (_without("mean"), "mean"),
        (_without("std"), "std"),
        ({**_valid(), "std": 0.0}, "std"),
        ({**_valid(), "std": -1.0}, "std"),
        ({**_valid(), "mean": math.nan}, "mean"),
        ({**_valid(), "std": math.inf}, "std"),
        ({**_valid(), "window_size": 0}, "window_size"),
        ({**_valid(), "window_size": "14"}, "window_size"),
        ({**_valid(), "window_size": 14.5}, "window_size"),
        ({**_valid(), "window_size": True}, "window_size"),
        ({**_valid(), "mean": "250"}, "mean"),
        ({**_valid(), "std": None}, "std"),
        ({**_valid(), "format_version": 4}, "format_version"),
        ({**_valid(), "format_version": True}, "format_version"),
        ({**_valid(), "format_version": 1.0}, "format_version"),
        ({**_valid(), "format_version": 2}, "normalization"),  # format 2 without the block
        ({**_format_2(), "format_version": 1}, "normalization"),  # the block in an old format
        ({**_format_2(), "model_input": "raw"}, "model_input"),
        (_format_2(method="global"), "method"),
        (_format_2(level_floor=0.0), "level_floor"),
        (_format_2(level_floor=math.inf), "level_floor"),
        (_format_2(cv=-0.1), "cv"),
        (_format_2(cv="0.2"), "cv"),
        (_format_2(non_negative="yes"), "non_negative"),
        (_format_2(non_negative=None), "non_negative"),
    ],
)
def test_the_handler_rejects_what_the_typed_reader_rejects(
    tmp_path: Path, data: dict[str, Any], reason: str
) -> None:
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ContractError, match=reason):
        read_manifest(tmp_path)
    with pytest.raises(ValueError, match=reason):
        load_norm_stats(tmp_path / MANIFEST_FILE)


def test_the_describe_answer_is_what_the_gateway_reads(tmp_path: Path) -> None:
    written = manifest("Home & Garden", VERSION, 14, 250.0, 40.0)
    scores = metrics("Home & Garden", VERSION, 14)
    write_manifest(tmp_path, written)
    write_metrics(tmp_path, scores)
    torch.jit.save(scripted_model(14), str(tmp_path / "model.pt"))
    context = Context(
        "home-garden", str(tmp_path), {"model": {"modelName": "home-garden"}}, 1, None, "0.12.0"
    )
    threads = torch.get_num_threads()
    handler = ForecastHandler()
    try:
        handler.initialize(context)
    finally:
        torch.set_num_threads(threads)
    # TorchServe sends the handler's answer as JSON: go through JSON as the gateway receives it.
    info = parse_served_info(json.loads(json.dumps(handler.describe_handle())), "test")
    assert info.category == written.category
    assert info.model_version == written.version
    assert info.window_size == written.window_size
    assert info.train_end == written.train_end.isoformat()
    assert info.last_date == written.last_date.isoformat()
    assert info.metrics == scores.test
