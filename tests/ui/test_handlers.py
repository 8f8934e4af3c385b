"""Every event handler of the UI, called through the Gradio API against a real gateway + TorchServe.

The UI's answers are compared with the gateway's own answers to the same requests, so a wrong
URL, shape or number in the UI fails here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.support.ports import free_port
from tests.ui.conftest import TRAIN_CATEGORY, TRAINING_API_KEY, Stack, UiServer, gradio_client, ui_settings
from ui.api_models import CalendarUse
from ui.formatting import format_sales
from ui.input_parsing import format_sales_text
from ui.predict_handlers import calendar_line

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]


def _rows(table: dict[str, Any]) -> list[list[Any]]:
    return [list(row) for row in table["data"]]


def _column(table: dict[str, Any], name: str) -> list[Any]:
    index = table["headers"].index(name)
    return [row[index] for row in table["data"]]


def _served(gateway_url: str, category: str, field: str) -> int:
    """`window_size` or `max_horizon` of `category` as GET /api/models reports it."""
    models = httpx.get(f"{gateway_url}/api/models", timeout=10).json()["models"]
    return int(next(model[field] for model in models if model["category"] == category))


def _window_size(gateway_url: str, category: str) -> int:
    return _served(gateway_url, category, "window_size")


# ---- page ---------------------------------------------------------------------------------------


def _plot(chart: dict[str, Any]) -> dict[str, Any]:
    """The plotly figure a gr.Plot output carries (interactive: hover and zoom in the page)."""
    assert chart["type"] == "plotly", chart["type"]
    figure: dict[str, Any] = json.loads(chart["plot"])
    return figure


def _file_text(download: Any) -> str:
    """The text of a file a DownloadButton output carries (the client downloads nothing: same machine)."""
    assert download is not None
    path = download["path"] if isinstance(download, dict) else download
    return Path(path).read_text(encoding="utf-8")


def _traces(chart: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace.get("name", ""): trace for trace in _plot(chart)["data"]}


def test_connect_reports_a_ready_stack_and_lists_categories(ui_client: Client) -> None:
    banner, explore, predict, train, backtest = ui_client.predict(api_name="/connect")
    assert "sc-ok" in banner and "the model server is ready" in banner
    assert explore["value"] == ["Beauty"]
    assert predict["value"] == "Beauty"
    for update in (explore, predict, train, backtest):
        assert [choice[0] for choice in update["choices"]] == ["Beauty", "Clothing", "Electronics"]


def test_ui_starts_without_a_gateway_and_says_so(test_settings: Any) -> None:
    missing = f"http://127.0.0.1:{free_port()}"
    with UiServer(ui_settings(test_settings, missing).with_overrides({"ui": {"port": free_port()}})) as ui:
        page = httpx.get(ui.url, timeout=10)
        assert page.status_code == 200
        banner, *_ = gradio_client(ui.url).predict(api_name="/connect")
    assert "sc-error" in banner
    assert f"Gateway unavailable. The gateway at {missing} is not reachable" in banner
    assert "not reachable (connection refused)" in banner


# ---- explore ------------------------------------------------------------------------------------


def test_explore_stats_match_the_gateway_history(ui_client: Client, gateway_url: str) -> None:
    chart, summary, message, download = ui_client.predict(
        ["Beauty", "Clothing"], "2023-03-01", "2023-03-31", 7, api_name="/explore"
    )
    figure = _plot(chart)
    assert figure["layout"]["xaxis"]["tickformat"] == "%Y-%m-%d"  # dates with their year
    assert figure["layout"]["legend"]["y"] < 0  # the legend sits below the plot, off the data
    csv = _file_text(download).splitlines()
    assert csv[0] == "date,category,sales" and len(csv) == 1 + 2 * 31
    assert "Showing Beauty, Clothing from 2023-03-01 to 2023-03-31" in message
    assert _column(summary, "Category") == ["Beauty", "Clothing"]
    for row, category in zip(_rows(summary), ["Beauty", "Clothing"], strict=True):
        march = {"start": "2023-03-01", "end": "2023-03-31"}
        history = httpx.get(f"{gateway_url}/api/history/{category}", params=march, timeout=10).json()
        sales = history["sales"]
        zero_share = sum(1 for value in sales if value == 0) / len(sales)
        assert row[1] == 31
        assert row[2] == f"{sum(sales):,.2f}"
        assert row[5] == "2023-03-31"
        assert row[6] == f"{zero_share:.1%}"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((["Beauty"], "2023-05-01", "2023-04-01", 7), "the start date 2023-05-01 is after the end date"),
        ((["Beauty"], None, None, 0), "rolling window must be a whole number of days from 1 to 90"),
        (([], None, None, 7), "Pick one or more categories"),
        ((["Toys"], None, None, 7), "Toys:"),
        # issue 13: a date that is not one was ignored; now it is an error that states the range
        (
            (["Beauty"], "abc", None, 7),
            "From must be a date as YYYY-MM-DD, got &#x27;abc&#x27;; "
            "the data covers 2023-01-01 to 2024-12-30",
        ),
        (
            (["Beauty"], "2030-01-01", None, 7),
            "No sales data from 2030-01-01 to the end; the data covers 2023-01-01",
        ),
    ],
)
def test_explore_explains_bad_choices(ui_client: Client, args: tuple[Any, ...], fragment: str) -> None:
    _, _, message, _ = ui_client.predict(*args, api_name="/explore")
    assert fragment in message


# ---- predict ------------------------------------------------------------------------------------


def test_describe_shows_the_served_window_size(ui_client: Client, gateway_url: str) -> None:
    info, horizon, *_, message, _, last_date = ui_client.predict(
        "Beauty", api_name="/describe"
    )  # the button label is not in the API
    assert f"reads the last **{_window_size(gateway_url, 'Beauty')}** days" in info
    assert horizon["value"] == 1 and horizon["maximum"] == _served(gateway_url, "Beauty", "max_horizon")
    assert "Filled with Beauty" in message
    history = httpx.get(f"{gateway_url}/api/history/Beauty", timeout=10).json()
    assert last_date == history["dates"][-1]


def test_days_ahead_are_the_served_models(ui_url: str, gateway_url: str) -> None:
    """The days-ahead limit is what GET /api/models reports for the category, not a number in the UI:
    the gateway's message explains a request beyond it, and once the category is chosen the box's
    maximum is that limit (its own session: the box's maximum is per page)."""
    client = gradio_client(ui_url)
    limit = _served(gateway_url, "Beauty", "max_horizon")
    text, *_ = client.predict("Beauty", api_name="/fill_last_days")
    headline, chart, message, _ = client.predict("Beauty", text, limit + 1, api_name="/predict")
    assert headline == "" and chart is None
    assert f"Could not predict: horizon must be from 1 to {limit}" in message
    info, horizon, *_ = client.predict("Beauty", limit + 5, api_name="/describe")
    assert f"forecasts up to {limit} days ahead" in info
    assert horizon["value"] == horizon["maximum"] == limit
    with pytest.raises(AppError, match=f"greater than maximum value {limit}"):
        client.predict("Beauty", text, limit + 1, api_name="/predict")
    headline, *_ = client.predict("Beauty", text, limit, api_name="/predict")
    assert f"{limit} days ahead" in headline or limit == 1


def test_choosing_another_category_refills_everything(ui_client: Client, gateway_url: str) -> None:
    """Issue 13: after Beauty was filled and predicted, choosing Clothing kept Beauty's numbers, dates,
    headline and chart. Choosing a category now refills the box and the table from that category and
    clears the headline, the chart and the download."""
    size = _window_size(gateway_url, "Clothing")
    beauty_text, *_ = ui_client.predict("Beauty", api_name="/fill_last_days")
    ui_client.predict("Beauty", beauty_text, 1, api_name="/predict")
    history = httpx.get(f"{gateway_url}/api/history/Clothing", timeout=10).json()
    _info, _horizon, text, table, check, result, chart, message, download, last_date = ui_client.predict(
        "Clothing", api_name="/describe"
    )
    assert text == format_sales_text(history["sales"][-size:]) != beauty_text
    assert _column(table, "Day") == history["dates"][-size:]
    assert _column(table, "Sales") == [entry.strip() for entry in text.split(",")]
    assert result == "" and check == "" and download is None
    assert "Press Predict" in json.dumps(_plot(chart))
    assert "Filled with Clothing" in message
    assert last_date == history["dates"][-1]


def test_fill_uses_the_last_n_days_of_history(ui_client: Client, gateway_url: str) -> None:
    size = _window_size(gateway_url, "Clothing")
    history = httpx.get(f"{gateway_url}/api/history/Clothing", timeout=10).json()
    text, table, check, message, last_date = ui_client.predict("Clothing", api_name="/fill_last_days")
    assert text == format_sales_text(history["sales"][-size:])
    assert last_date == history["dates"][-1]  # sent as last_date with the filled values
    assert _column(table, "Day") == history["dates"][-size:]
    assert f"from {history['dates'][-size]} to {history['dates'][-1]}" in message
    assert check == ""  # the box was replaced, so an old check of it is gone


def test_prediction_equals_the_gateway_answer(ui_client: Client, gateway_url: str) -> None:
    size = _window_size(gateway_url, "Beauty")
    sales = [float(100 + 37 * index % 250) for index in range(size)]
    direct = httpx.post(f"{gateway_url}/api/predict", json={"category": "Beauty", "sales": sales}, timeout=10)
    direct.raise_for_status()
    headline, chart, message, download = ui_client.predict(
        "Beauty", format_sales_text(sales), 1, api_name="/predict"
    )
    assert f"**{format_sales(direct.json()['prediction'])}**" in headline
    assert f"`{direct.json()['model_version']}`" in headline
    traces = _traces(chart)
    assert traces["forecast (model)"]["y"][-1] == pytest.approx(direct.json()["prediction"])
    assert "seasonal naive (same weekday last week)" in traces
    assert message == ""
    rows = _file_text(download).splitlines()
    assert rows[0].startswith("day,forecast,seasonal_naive")


def test_the_last_values_date_is_sent_and_its_calendar_answer_shown(
    ui_client: Client, gateway_url: str
) -> None:
    size = _window_size(gateway_url, "Beauty")
    sales = [float(100 + 37 * index % 250) for index in range(size)]
    body = {"category": "Beauty", "sales": sales, "last_date": "2024-12-24"}
    direct = httpx.post(f"{gateway_url}/api/predict", json=body, timeout=10).json()
    headline, *_ = ui_client.predict("Beauty", format_sales_text(sales), 1, "2024-12-24", api_name="/predict")
    assert f"**{format_sales(direct['prediction'])}**" in headline
    calendar = CalendarUse.model_validate(direct["calendar"]) if direct.get("calendar") else None
    shown = calendar_line(calendar).strip()
    assert shown and shown in headline
    assert direct["calendar"]["applied"] and "weekday" in direct["calendar"]["uses"]  # a format 3 model
    assert "from the last value's date (2024-12-24): weekday" in headline
    headline, _, message, _ = ui_client.predict(
        "Beauty", format_sales_text(sales), 1, "24.12.2024", api_name="/predict"
    )
    assert headline == "" and "date of the last value must be a day written YYYY-MM-DD" in message


def test_filled_prediction_is_drawn_after_the_last_90_days(ui_client: Client, gateway_url: str) -> None:
    """Issue 13: the forecast was drawn against the 14 inputs only; now against the last 90 days of history,
    with the seasonal-naive forecast of the same day beside it."""
    history = httpx.get(f"{gateway_url}/api/history/Beauty", timeout=10).json()
    text, *_ = ui_client.predict("Beauty", api_name="/fill_last_days")
    _, chart, _, download = ui_client.predict("Beauty", text, 1, api_name="/predict")
    traces = _traces(chart)
    context = traces["history"]
    assert len(context["x"]) == 90 and context["x"][-1].startswith(history["dates"][-1])
    naive = traces["seasonal naive (same weekday last week)"]
    assert naive["y"] == [pytest.approx(history["sales"][-7])]
    assert naive["x"][0].startswith(_day_after(history["dates"][-1]))
    assert _file_text(download).splitlines()[0].startswith("date,forecast,seasonal_naive")


def _day_after(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("values", "fragment"),
    [([1e12] * 14, "value 1 (1e+12)"), ([-500.0] + [100.0] * 13, "value 1 (-500)")],
)
def test_values_far_outside_the_history_are_warned_about(
    ui_client: Client, values: list[float], fragment: str
) -> None:
    """Issue 13: 14 × 1e12 or negative values got a plausible forecast and no word."""
    headline, chart, message, _ = ui_client.predict(
        "Beauty", format_sales_text(values), 1, api_name="/predict"
    )
    assert "Next-day forecast for Beauty" in headline and chart is not None
    assert "sc-warning" in message and fragment in message
    assert "far outside Beauty&#x27;s history" in message


@pytest.mark.parametrize(
    ("category", "text", "fragment"),
    [
        ("Beauty", "1, 2, 3", "Could not predict: expected {n} values, got 3"),
        ("Beauty", "1, abc, 3", "Could not predict: value 2 (&#x27;abc&#x27;) is not a number"),
        ("Beauty", "", "enter the sales values"),
        ("Toys", "1, 2", "Toys"),
        (None, "1", "Choose a category."),
    ],
)
def test_prediction_errors_are_readable(
    ui_client: Client, gateway_url: str, category: str | None, text: str, fragment: str
) -> None:
    headline, chart, message, download = ui_client.predict(category, text, 1, api_name="/predict")
    assert headline == "" and chart is None and download is None
    assert "sc-error" in message
    assert fragment.format(n=_window_size(gateway_url, "Beauty")) in message
    assert "Traceback" not in message


def test_forecast_tomorrow_matches_the_gateway(ui_client: Client, gateway_url: str) -> None:
    direct = httpx.get(f"{gateway_url}/api/forecast/Electronics", timeout=10).json()
    headline, chart, message, download = ui_client.predict("Electronics", 1, api_name="/forecast")
    expected = f"Forecast for Electronics on {direct['date']}: **{format_sales(direct['prediction'])}**"
    assert expected in headline
    assert f"up to {direct['history_end']}" in headline
    assert message == ""
    # issue 13: "Forecast tomorrow" drew no chart; it draws the same chart as a prediction
    traces = _traces(chart)
    assert traces["forecast (model)"]["x"][-1].startswith(direct["date"])
    assert traces["forecast (model)"]["y"][-1] == pytest.approx(direct["prediction"])
    assert len(traces["history"]["x"]) == 90
    assert download is not None


def test_a_week_ahead_shows_its_total_with_the_total_interval(ui_client: Client, gateway_url: str) -> None:
    days = min(7, _served(gateway_url, "Beauty", "max_horizon"))
    sales = [float(100 + 37 * index % 250) for index in range(_window_size(gateway_url, "Beauty"))]
    body = {"category": "Beauty", "sales": sales, "horizon": days}
    total = httpx.post(f"{gateway_url}/api/predict", json=body, timeout=10).json()["total"]
    headline, *_ = ui_client.predict("Beauty", format_sales_text(sales), days, api_name="/predict")
    line = headline.splitlines()[-1]
    assert line.startswith(f"Total of {days} days: **{format_sales(total['prediction'])}**")
    for interval in total["intervals"]:
        bounds = f"{format_sales(interval['lower'])} – {format_sales(interval['upper'])}"
        assert f"{interval['level']} %: {bounds}" in line
    forecast = httpx.get(f"{gateway_url}/api/forecast/Beauty", params={"horizon": days}, timeout=10).json()
    headline, *_ = ui_client.predict("Beauty", days, api_name="/forecast")
    assert headline.splitlines()[-1].startswith(
        f"Total of {days} days: **{format_sales(forecast['total']['prediction'])}**"
    )
    one_day, *_ = ui_client.predict("Beauty", format_sales_text(sales), 1, api_name="/predict")
    assert "Total of" not in one_day


# ---- train (no job is started on the shared stack) ---------------------------------------------


def test_start_training_needs_categories(ui_client: Client) -> None:
    job_id, status, *_ = ui_client.predict([], False, "", "default", api_name="/start_training")
    assert job_id == ""
    assert "Choose at least one category" in status


def test_start_training_unknown_category_is_refused_by_the_gateway(ui_client: Client) -> None:
    job_id, status, *_ = ui_client.predict(["Toys"], False, "", "default", api_name="/start_training")
    assert job_id == ""
    assert "Could not start training: unknown categories: Toys; known: Beauty, Clothing" in status


def test_unknown_job_is_reported(ui_client: Client) -> None:
    status, *_ = ui_client.predict("no-such-job", api_name="/job_status")
    assert "Could not read job no-such-job: no job with id &#x27;no-such-job&#x27;" in status


def test_recent_jobs_lists_with_headers(ui_client: Client) -> None:
    table, message = ui_client.predict(api_name="/recent_jobs")
    assert table["headers"][:3] == ["Job id", "Created (UTC)", "Status"]
    assert message == ""


# ---- a model server that is down ----------------------------------------------------------------


def test_model_server_down_is_shown_not_raised(offline_stack: Stack) -> None:
    client = gradio_client(offline_stack.ui_url)
    banner, *_ = client.predict(api_name="/connect")
    assert "sc-warning" in banner or "sc-error" in banner
    headline, _, message, _ = client.predict("Beauty", "1, 2, 3", 1, api_name="/predict")
    assert headline == ""
    assert "Could not predict: Service unavailable" in message
    # the history does not need the model server
    _, summary, explore_message, _ = client.predict(
        ["Beauty"], "2023-01-01", "2023-01-10", 3, api_name="/explore"
    )
    assert _column(summary, "Days") == [10]
    assert "sc-ok" in explore_message


# ---- a real training job, on a private stack ----------------------------------------------------


def test_training_job_runs_to_its_metrics_table(training_stack: Stack) -> None:
    client = gradio_client(training_stack.ui_url)
    job_id, status, *_ = client.predict(
        [TRAIN_CATEGORY], False, "ui-handler-test", "never", api_name="/start_training"
    )
    assert job_id, status
    # issue 13: a running job was missing from "Recent jobs" until it ended
    table, _ = client.predict(api_name="/recent_jobs")
    assert job_id in _column(table, "Job id")
    assert _column(table, "Status")[_column(table, "Job id").index(job_id)] in ("queued", "running")
    deadline = time.monotonic() + 300
    live: list[str] = []
    while time.monotonic() < deadline:
        status, outcomes, metrics, _timer, _jobs, loss, plots, _links, download = client.predict(
            job_id, api_name="/job_status"
        )
        if "— succeeded" in status or "— failed" in status:
            break
        assert "<progress" in status
        live.append(status)
        time.sleep(0.5)
    assert "— succeeded" in status, status
    # issue 13: epoch of the limit, validation loss and elapsed time while it runs (tiny model: 3 epochs)
    assert any("epoch " in text and "val loss" in text and "elapsed" in text for text in live), live
    assert "elapsed" in status
    loss_traces = _traces(loss)
    assert len(loss_traces[f"{TRAIN_CATEGORY} validation"]["y"]) >= 1
    # the saved loss and forecast plots of the new version, and a link to its MLflow run
    assert [item["caption"] for item in plots] == [
        f"{TRAIN_CATEGORY} {_column(outcomes, 'New version')[0]}: loss per epoch",
        f"{TRAIN_CATEGORY} {_column(outcomes, 'New version')[0]}: "
        "test segment: actual vs model vs seasonal naive",
    ]
    assert "MLflow run" in status and "/#/experiments/" in status
    assert _file_text(download).startswith("Category,Forecaster,MAE")
    assert _column(outcomes, "Category") == [TRAIN_CATEGORY]
    assert _column(outcomes, "Deployed") == ["no"]  # policy "never"
    assert _column(outcomes, "Epoch")[0].endswith("/3")
    forecasters = _column(metrics, "Forecaster")
    assert forecasters[0] == "CNN-LSTM (new version)"
    assert "Seasonal naive (same weekday last week)" in forecasters
    # the job is in the recent list, which needed the API key the UI took from its settings
    table, message = client.predict(api_name="/recent_jobs")
    assert message == "" and job_id in _column(table, "Job id")
    unauthorised = httpx.get(f"{training_stack.gateway_url}/api/jobs", timeout=10)
    assert unauthorised.status_code == 401
    assert TRAINING_API_KEY not in httpx.get(training_stack.ui_url, timeout=10).text


def test_failed_job_shows_its_error(offline_stack: Stack) -> None:
    """Training works without TorchServe, deploying does not: the job fails at its deploy step."""
    client = gradio_client(offline_stack.ui_url)
    job_id, status, *_ = client.predict(
        ["Clothing"], False, "ui-failing", "always", api_name="/start_training"
    )
    assert job_id, status
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, outcomes, *_ = client.predict(job_id, api_name="/job_status")
        if "— succeeded" in status or "— failed" in status:
            break
        time.sleep(1)
    assert "— failed" in status, status
    assert "The job failed:" in status and "sc-error" in status
    assert "<progress" not in status
    assert _column(outcomes, "State") == ["failed"]
    assert _column(outcomes, "Why / error")[0].startswith("deploy: ")  # the failed step, then its error
