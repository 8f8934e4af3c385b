"""Messages, job progress and metrics tables built from gateway answers."""

from __future__ import annotations

from typing import Any

from ui import formatting
from ui.api_models import CategoryOutcome, Health, Job

METRICS: dict[str, Any] = {
    "category": "Beauty",
    "version": "20261126.101500",
    "window_size": 14,
    "served_version": "20261125.090000",
    "test": {
        "model": {"mae": 412.3, "rmse": 561.2, "smape": 48.1, "mase": 0.71, "rmsse": 0.69},
        "naive": {"mae": 598.0, "rmse": 802.4, "smape": 61.0, "mase": 1.03, "rmsse": 0.99},
        "seasonal_naive": {"mae": 580.1, "rmse": 1810.9, "smape": 60.2, "mase": 1.0, "rmsse": 1.0},
        "moving_average": {"mae": 450.7, "rmse": 598.3, "smape": 52.4, "mase": 0.78, "rmsse": 0.74},
        "served": {"mae": 420.0, "rmse": 590.0, "smape": 50.0, "mase": 0.72, "rmsse": 0.7},
    },
}


def _job(status: str, results: list[dict[str, Any]], **extra: Any) -> Job:
    return Job.model_validate(
        {
            "job_id": "abc123",
            "status": status,
            "categories": [r["category"] for r in results],
            "experiment_name": "exp-1",
            "deploy_policy": "if_better",
            "created_at": "2026-11-26T10:15:00.123456Z",
            "results": results,
            **extra,
        }
    )


def test_message_html_escapes_and_marks_code() -> None:
    text = formatting.message_html("error", "value 2 ('<b>') is bad; run `salescast serve gateway`")
    assert "&lt;b&gt;" in text and "<b>" not in text
    assert "<code>salescast serve gateway</code>" in text
    assert 'class="sc-msg sc-error"' in text


def test_format_sales_has_two_decimals_and_separators() -> None:
    assert formatting.format_sales(1234.5) == "1,234.50"
    assert formatting.format_sales(0) == "0.00"


def test_health_banner_for_each_state() -> None:
    down = formatting.health_html(None, "The gateway at http://gw:8000 is not reachable.", "http://gw:8000")
    assert "sc-error" in down
    assert "Gateway unavailable. The gateway at http://gw:8000 is not reachable." in down
    assert "No answer from http://gw:8000" in formatting.health_html(None, None, "http://gw:8000")
    ok = Health.model_validate({"status": "ok", "torchserve": {"status": "ready"}})
    assert "sc-ok" in formatting.health_html(ok, None, "http://gw:8000")
    degraded = Health.model_validate(
        {"status": "unavailable", "torchserve": {"status": "unavailable", "detail": "connection refused"}}
    )
    banner = formatting.health_html(degraded, None, "http://gw:8000")
    assert "sc-warning" in banner and "model server is not ready (connection refused)" in banner


def test_prediction_markdown_shows_value_and_version() -> None:
    text = formatting.prediction_markdown("Beauty", 1034.7, "20261126.101500", 14)
    assert "**1,034.70**" in text and "`20261126.101500`" in text and "last 14 days" in text


def test_running_job_shows_a_progress_bar() -> None:
    job = _job(
        "running",
        [{"category": "Beauty", "state": "succeeded"}, {"category": "Clothing", "state": "training"}],
    )
    assert formatting.job_progress(job) == (1, 2)
    text = formatting.job_status_html(job)
    assert '<progress class="sc-progress" value="1" max="2">' in text
    assert "1 of 2 categories finished" in text and "Clothing: training" in text


def test_a_category_a_job_left_unchanged_counts_as_finished() -> None:
    job = _job(
        "running",
        [{"category": "Beauty", "state": "unchanged"}, {"category": "Clothing", "state": "training"}],
    )
    assert formatting.job_progress(job) == (1, 2)


def test_queued_job_shows_an_indeterminate_bar() -> None:
    text = formatting.job_status_html(_job("queued", [{"category": "Beauty", "state": "queued"}]))
    assert '<progress class="sc-progress"></progress>' in text


def test_failed_job_shows_its_error_and_no_bar() -> None:
    job = _job(
        "failed",
        [{"category": "Beauty", "state": "failed", "failed_step": "training", "error": "data file missing"}],
    )
    text = formatting.job_status_html(job)
    assert "<progress" not in text
    assert "The job failed: Beauty during training: data file missing" in text
    assert formatting.outcome_frame(job).iloc[0]["Why / error"] == "training: data file missing"


def test_job_level_error_wins() -> None:
    job = _job(
        "failed", [{"category": "Beauty", "state": "queued"}], error="gateway restarted during the job"
    )
    assert "The job failed: gateway restarted during the job" in formatting.job_status_html(job)


def test_succeeded_job_summarises_deployment() -> None:
    job = _job(
        "succeeded",
        [
            {"category": "Beauty", "state": "succeeded", "version": "v2", "deployed": True, "seconds": 41.84},
            {
                "category": "Clothing",
                "state": "succeeded",
                "version": "v3",
                "deployed": False,
                "deploy_reason": "test RMSE 900 >= seasonal-naive 800",
            },
        ],
    )
    text = formatting.job_status_html(job)
    assert "Beauty v2 deployed" in text and "Clothing v3 trained, not deployed" in text
    frame = formatting.outcome_frame(job)
    assert frame.iloc[0].tolist() == ["Beauty", "succeeded", "", "", "", "41.8", "v2", "yes", ""]
    assert frame.iloc[1]["Deployed"] == "no"
    assert frame.iloc[1]["Why / error"] == "test RMSE 900 >= seasonal-naive 800"


def test_metrics_frame_lists_model_served_and_baselines() -> None:
    outcome = CategoryOutcome.model_validate({"category": "Beauty", "state": "succeeded", "metrics": METRICS})
    frame = formatting.metrics_frame([outcome])
    assert list(frame.columns) == formatting.METRICS_COLUMNS
    assert frame["Forecaster"].tolist() == [
        "CNN-LSTM (new version)",
        "Served version 20261125.090000",
        "Naive (yesterday's value)",
        "Seasonal naive (same weekday last week)",
        "Moving average",
    ]
    model = frame.iloc[0]
    assert (model["MAE"], model["RMSE"], model["MASE"]) == ("412.30", "561.20", "0.71")
    assert frame.iloc[3]["RMSE"] == "1,810.90"


def test_metrics_frame_skips_categories_without_metrics() -> None:
    outcome = CategoryOutcome.model_validate({"category": "Beauty", "state": "failed"})
    assert formatting.metrics_frame([outcome]).empty


def test_jobs_frame_and_short_time() -> None:
    frame = formatting.jobs_frame([_job("succeeded", [{"category": "Beauty", "state": "succeeded"}])])
    assert frame.iloc[0].tolist() == [
        "abc123",
        "2026-11-26 10:15:00",
        "succeeded",
        "Beauty",
        "",
        "",
        "exp-1",
        "if_better",
    ]
    assert formatting.short_time(None) == ""
    assert formatting.short_time("not a time") == "not a time"


def test_running_job_shows_epoch_loss_and_elapsed_time() -> None:
    """Issue 13: no epoch, loss or elapsed time while a job ran."""
    import pandas as pd

    job = _job(
        "running",
        [
            {
                "category": "Beauty",
                "state": "training",
                "epoch": 4,
                "max_epochs": 60,
                "val_loss": 0.41234,
                "train_loss": 0.5,
                "seconds": 12.0,
            }
        ],
        started_at="2026-11-26T10:15:00Z",
        finished_at=None,
    )
    text = formatting.job_status_html(job, now=pd.Timestamp("2026-11-26T10:15:14Z"))
    assert "Beauty: epoch 4/60, val loss 0.4123, 12 s" in text and "elapsed 14 s" in text
    row = formatting.outcome_frame(job).iloc[0]
    assert (row["Epoch"], row["Train loss"], row["Val loss"], row["Time (s)"]) == (
        "4/60",
        "0.5000",
        "0.4123",
        "12.0",
    )


def test_a_short_history_shows_it_trains_its_classical_part_only() -> None:
    """A launched category trains no networks: its row says so rather than waiting for epochs, while
    a category not yet at its first epoch still reads "training"."""
    job = _job(
        "running",
        [
            {"category": "Launched", "state": "training", "classical_only": True},
            {"category": "Beauty", "state": "training"},
        ],
        started_at="2026-11-26T10:15:00Z",
        finished_at=None,
    )
    text = formatting.job_status_html(job)
    assert "Launched: training its classical part only (too short a history for the networks)" in text
    assert "Beauty: training" in text and "Beauty: training its" not in text
    assert list(formatting.outcome_frame(job)["Epoch"]) == ["classical only", ""]
    done = _job(
        "succeeded", [{"category": "Launched", "state": "succeeded", "epoch": 0, "classical_only": True}]
    )
    assert list(formatting.outcome_frame(done)["Epoch"]) == ["classical only"]


def test_a_version_that_scores_like_the_served_one_is_pointed_out() -> None:
    """Issue 13: a model identical to the served one was deployed again without a word."""
    same = {"rmse": 874.5, "mae": 684.1}
    metrics = {"served_version": "v1", "test": {"model": same, "served": dict(same), "seasonal_naive": same}}
    job = _job(
        "succeeded",
        [{"category": "Beauty", "state": "succeeded", "version": "v2", "deployed": True, "metrics": metrics}],
    )
    notes = formatting.same_score_notes(job.results)
    assert notes == [
        "Beauty: the new version v2 scores the same as the served version v1 (test RMSE 874.50, MAE 684.10) "
        "— most likely the same model trained on the same data; it was deployed anyway."
    ]
    assert "sc-warning" in formatting.job_status_html(job)
    better = {**metrics, "test": {"model": {"rmse": 800.0, "mae": 600.0}, "served": same}}
    assert (
        formatting.same_score_notes(
            _job("succeeded", [{"category": "Beauty", "state": "succeeded", "metrics": better}]).results
        )
        == []
    )


def test_mlflow_links_point_at_each_run() -> None:
    job = _job(
        "succeeded",
        [{"category": "Beauty", "state": "succeeded", "mlflow_experiment_id": "3", "mlflow_run_id": "abc"}],
    )
    assert 'href="http://127.0.0.1:5000/#/experiments/3/runs/abc"' in formatting.mlflow_links_html(
        job, "http://127.0.0.1:5000/"
    )
