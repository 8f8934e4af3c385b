"""The Train tab's scheduled-retraining line, from the gateway's answer (no server needed)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from tests.support.ports import free_port
from ui.api_models import Schedule
from ui.app import build_app
from ui.gateway_client import GatewayClient
from ui.schedule_line import schedule_markdown
from ui.train_handlers import TrainHandlers


def _schedule(**changes: Any) -> Schedule:
    answer: dict[str, Any] = {
        "enabled": True,
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "triggers": ["data_changed", "stale_days"],
        "next_run": "2026-12-06T03:00:00Z",
        "last_run": None,
        "last_job_status": None,
        "runner_pid": 4242,
        "runner": "other_process",
    }
    return Schedule.model_validate({**answer, **changes})


def test_off_says_how_to_turn_it_on() -> None:
    line = schedule_markdown(_schedule(enabled=False, next_run=None))
    assert line == "**Scheduled retraining:** off (set `retrain.enabled` in the gateway's configuration)."


def test_a_filed_job_shows_next_run_job_and_reason() -> None:
    run = {
        "at": "2026-12-05T03:00:12Z",
        "due": "2026-12-05T03:00:00Z",
        "job_id": "abc",
        "reason": "data_changed: x",
    }
    line = schedule_markdown(_schedule(last_run=run, last_job_status="running"))
    assert line == (
        "**Scheduled retraining** (`0 3 * * *`, UTC): next run 2026-12-06 03:00:00 UTC · "
        "last run 2026-12-05 03:00:12 UTC filed job abc, running, because data_changed: x."
    )


def test_a_skip_a_failure_and_no_runner_are_said() -> None:
    skipped = {"at": "2026-12-05T03:00:00Z", "skipped": "nothing to do: data unchanged since job abc"}
    assert "last run 2026-12-05 03:00:00 UTC filed nothing, nothing to do: data unchanged since job abc" in (
        schedule_markdown(_schedule(last_run=skipped))
    )
    failed = {"at": "2026-12-05T03:00:00Z", "error": "sales data file x cannot be read"}
    line = schedule_markdown(_schedule(last_run=failed, runner="none"))
    assert "failed: sales data file x cannot be read (retried at the next check)" in line
    assert line.endswith("· no gateway process runs the schedule now.")
    assert "last run none yet" in schedule_markdown(_schedule())


def test_an_unreachable_gateway_is_said_not_raised() -> None:
    handlers = TrainHandlers(
        GatewayClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0), poll_interval_s=0.5
    )
    line = handlers.schedule_line()
    assert line.startswith("**Scheduled retraining:** unknown (")
    assert "gateway" in line


def test_the_line_is_read_on_page_load_and_by_refresh(test_settings: Settings) -> None:
    app = build_app(test_settings)
    writers = [
        fn
        for fn in app.fns.values()
        if any(getattr(block, "elem_id", None) == "train-schedule" for block in fn.outputs)
    ]
    assert {event for fn in writers for _, event in fn.targets} == {"load", "click"}
