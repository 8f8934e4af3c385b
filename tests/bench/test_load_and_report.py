"""Load loops stay within their bounds and count errors; tables, JSON and log parsing behave."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.atomic import write_json_atomic
from salescast.bench.load import thread_load
from salescast.bench.report import markdown_table
from salescast.bench.training_cost import parse_epoch_times
from salescast.cli.main import build_parser


def test_thread_load_stops_at_the_request_cap_and_counts_errors() -> None:
    def call(index: int) -> None:
        if index % 4 == 0:
            raise ValueError("boom")

    result = thread_load("floor", call, concurrency=3, duration_s=30.0, max_requests=40)
    assert result.requests == 40
    assert result.errors == 10 and result.items == 30
    assert result.error_examples and "boom" in result.error_examples[0]
    assert result.seconds < 30.0
    assert result.to_dict()["p50_ms"] >= 0


def test_thread_load_stops_at_the_duration() -> None:
    result = thread_load("floor", lambda index: None, concurrency=2, duration_s=0.2, max_requests=10**9)
    assert result.seconds < 5.0 and result.requests > 0


def test_markdown_table_aligns_numbers_right() -> None:
    table = markdown_table(["layer", "items/s"], [["floor", "10"]])
    assert table.splitlines() == ["| layer | items/s |", "| :-- | --: |", "| floor | 10 |"]


def test_json_has_no_nan(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "x.json", {"a": math.nan, "b": [1.0, math.inf]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None]}


def test_epoch_times_come_from_the_training_log() -> None:
    log = "\n".join(
        [
            "2026-11-26 10:00:00,000 INFO t training started category=Beauty version=1 days=730 train=1",
            "2026-11-26 10:00:02,500 INFO t epoch category=Beauty version=1 epoch=1/2 train_loss=1",
            "2026-11-26 10:00:04,000 INFO t epoch category=Beauty version=1 epoch=2/2 train_loss=1",
        ]
    )
    assert parse_epoch_times(log) == (730, [2.5, 1.5])


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "accuracy", "--folds", "0"],
        ["bench", "serving", "--concurrency", "1,x"],
        ["bench", "training", "--years", "-1"],
    ],
)
def test_cli_rejects_malformed_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
