"""The weekday of the day forecast as a model input (format 3): read from the request's date by the
handler, moved on a day a step, and used by the classical part instead of the window's own pattern;
without a date (or for a version before format 3) the window's pattern, as before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from handlers.calendar_terms import WEEKDAY_NOT_SENT
from handlers.calendar_terms import WEEKDAY_UNKNOWN as HANDLER_UNKNOWN
from handlers.forecast_steps import answer_batch, forecast_paths, prepare_stats
from handlers.request_parsing import parse_batch
from training.forecaster import WindowForecaster, as_forecaster
from training.model import WEEKDAY_UNKNOWN, WeeklyProfileES, next_phase
from training.multistep import recursive_paths

N = 14
PROFILE = torch.tensor([0.6, 0.8, 1.0, 1.0, 1.1, 1.3, 1.2])  # index 0 is a Monday (first_weekday 0)
ANCHOR = 100.0


def anchored_forecaster() -> WindowForecaster:
    """The classical part alone, fully anchored: its forecast is ANCHOR × the profile at the phase it
    reads, whatever the window's level, so the answer shows which weekday it used."""
    classical = WeeklyProfileES(PROFILE, 0.0, N, 1.0, anchor=ANCHOR, anchor_weight=1.0, first_weekday=0)
    return WindowForecaster([], classical, 1.0, ANCHOR, 20.0, non_negative=True).eval()


def served_stats(format_version: int) -> dict[str, Any]:
    stats = {
        "category": "Toys",
        "version": "20240101.000000",
        "window_size": N,
        "mean": ANCHOR,
        "std": 20.0,
        "format_version": format_version,
        "model_input": "normalized",
        "max_horizon": 3,
        "normalization": anchored_forecaster().normalization().model_dump(),
    }
    return prepare_stats(stats)


def answers(format_version: int, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stats = served_stats(format_version)
    batch = parse_batch([{"body": body} for body in bodies], stats)
    model = torch.jit.script(anchored_forecaster())
    paths = forecast_paths(model, batch.windows, stats, batch.horizon, batch.weekdays)
    results = answer_batch(batch, paths, stats)
    assert all(status == 200 for status, _ in results)
    return [answer for _, answer in results]


def friday_like_window() -> list[float]:
    """Two weeks whose pattern says the next day is a Saturday (profile index 5)."""
    rolled = torch.roll(PROFILE, -5)  # oldest day: index 5, ..., the last: index 4
    return (ANCHOR * rolled).repeat(2).tolist()


def test_a_known_weekday_replaces_the_phase_the_window_would_give() -> None:
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.gamma(2.0, 50.0, size=(3, N)), dtype=torch.float32)
    module = WeeklyProfileES(PROFILE, 0.1, N, 1.0, first_weekday=2)  # index 0 is a Wednesday
    detected = torch.argmax(x @ module.centered.t(), dim=1)
    weekdays = torch.tensor([4, WEEKDAY_UNKNOWN, 1])
    phase = next_phase(x, module.centered, weekdays, module.first_weekday)
    assert phase.tolist() == [2, int(detected[1]), 6]  # Friday = index 2; Tuesday = index 6
    assert torch.equal(next_phase(x, module.centered, None, 2), detected)
    assert torch.equal(next_phase(x, module.centered, weekdays, WEEKDAY_UNKNOWN), detected)  # no dates fitted
    scripted = torch.jit.script(module)
    assert scripted(x, weekdays) == pytest.approx(module(x, weekdays))
    assert scripted(x) == pytest.approx(module(x))


def test_a_dated_request_reads_the_profile_at_its_weekday_a_day_further_each_step() -> None:
    window = friday_like_window()
    # 2024-12-24 is a Tuesday: the days forecast are Wednesday, Thursday and Friday
    dated_body = {"sales": window, "horizon": 3, "last_date": "2024-12-24"}
    [dated, plain] = answers(3, [dated_body, {"sales": window}])
    assert [step["prediction"] for step in dated["forecast"]] == pytest.approx(
        (ANCHOR * PROFILE[2:5]).tolist(), rel=1e-5
    )
    assert dated["calendar"] == {"applied": True, "last_date": "2024-12-24", "uses": ["weekday"]}
    # without a date the window's pattern says Saturday
    assert plain["prediction"] == pytest.approx(ANCHOR * float(PROFILE[5]), rel=1e-5)
    assert plain["calendar"] == {"applied": False, "note": WEEKDAY_NOT_SENT}


def test_a_version_before_format_3_reads_the_window_even_when_sent_a_date() -> None:
    [dated] = answers(2, [{"sales": friday_like_window(), "last_date": "2024-12-24"}])
    assert dated["prediction"] == pytest.approx(ANCHOR * float(PROFILE[5]), rel=1e-5)


def test_training_and_the_handler_move_the_weekday_alike() -> None:
    rng = np.random.default_rng(3)
    values = rng.gamma(3.0, 40.0, size=60)
    model = torch.jit.script(anchored_forecaster())
    origins = np.arange(N, 40, dtype=np.int64)
    weekdays = (origins + 3) % 7  # values[0] is a Thursday
    trained = recursive_paths(
        as_forecaster(model, anchored_forecaster().normalization()), values, origins, N, 3, weekdays
    )
    stats = served_stats(3)
    rows = torch.tensor(np.stack([values[o - N : o] for o in origins]))
    served = forecast_paths(model, rows, stats, 3, torch.tensor(weekdays)).numpy()
    assert served == pytest.approx(trained, rel=1e-9)
    assert trained[:, 0] == pytest.approx(ANCHOR * PROFILE.numpy()[weekdays].astype(np.float64), rel=1e-5)


def test_the_unknown_weekday_is_one_marker() -> None:
    assert HANDLER_UNKNOWN == WEEKDAY_UNKNOWN
