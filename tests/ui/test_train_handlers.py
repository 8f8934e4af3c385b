"""The Train tab's handlers called directly, in front of a gateway that is not there (no server needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.ports import free_port
from ui.formatting import JOBS_COLUMNS, OUTCOME_COLUMNS
from ui.gateway_client import GatewayClient
from ui.train_handlers import JobView, TrainHandlers
from ui.updates import skip


@pytest.fixture
def handlers() -> TrainHandlers:
    return TrainHandlers(GatewayClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0), poll_interval_s=0.5)


def test_no_job_id_shows_a_blank_job_and_stops_polling(handlers: TrainHandlers) -> None:
    view = handlers.show_job("  ")
    assert "No job selected." in view.status
    assert isinstance(view.outcomes, pd.DataFrame) and list(view.outcomes.columns) == OUTCOME_COLUMNS
    assert view.timer.active is False
    assert view.jobs == skip() and view.plots == [] and view.download is None


def test_an_unreachable_gateway_keeps_the_job_shown_and_polling(handlers: TrainHandlers) -> None:
    view = handlers.show_job("abc123")
    assert "Could not read job abc123" in view.status and "not reachable" in view.status
    assert view.timer.active is True  # a gateway blip must not end the live view of a running job
    assert all(value == skip() for value in view[1:] if value is not view.timer)


def test_start_without_categories_answers_no_id_and_a_blank_job(handlers: TrainHandlers) -> None:
    job_id, *rest = handlers.start([], False, None, "default")
    view = JobView._make(rest)
    assert job_id == ""
    assert "Choose at least one category" in view.status and view.timer.active is False


def test_start_reports_a_gateway_it_cannot_reach(handlers: TrainHandlers) -> None:
    job_id, status, *_ = handlers.start(["Beauty"], False, "exp", "never")
    assert job_id == "" and "Could not start training" in str(status)


def test_recent_jobs_says_why_the_list_is_empty(handlers: TrainHandlers) -> None:
    jobs, message = handlers.recent_jobs()
    assert list(jobs.columns) == JOBS_COLUMNS and jobs.empty
    assert "Could not list jobs" in message
