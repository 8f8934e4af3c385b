"""The line under a multi-day forecast: the total of the days and its own intervals, or why it has none."""

from __future__ import annotations

from ui.api_models import ForecastTotal
from ui.predict_handlers import total_line


def test_the_total_shows_each_levels_interval() -> None:
    total = ForecastTotal.model_validate(
        {
            "days": 7,
            "prediction": 7243.0,
            "intervals": [
                {"level": 80, "lower": 6211.8, "upper": 8274.2},
                {"level": 95, "lower": 0.0, "upper": 8875.7},
            ],
        }
    )
    assert total_line(total) == (
        "\n\nTotal of 7 days: **7,243.00** · 80 %: 6,211.80 – 8,274.20 · 95 %: 0.00 – 8,875.70"
    )


def test_a_version_without_intervals_of_totals_says_so() -> None:
    note = "no interval for the total: this version was calibrated before intervals of totals existed"
    total = ForecastTotal(days=2, prediction=10.0, intervals=None, note=note)
    assert total_line(total) == f"\n\nTotal of 2 days: **10.00** · {note}"


def test_one_day_has_no_total_line() -> None:
    assert total_line(None) == ""
