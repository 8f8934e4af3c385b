"""The bundled sample: deterministic, in the Kaggle schema, and carrying learnable structure."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.sales_data import load_daily_sales
from core.sample_data import (
    COLUMNS,
    PROFILE_YEARS,
    SampleError,
    ensure_sample_data,
    generate_sample,
    sample_csv_bytes,
    write_sample,
)
from core.settings import load_settings
from tests.conftest import SAMPLE_DATA, make_test_settings

SETTINGS = load_settings(environ={})
CATEGORIES = ["Beauty", "Clothing", "Electronics"]


@pytest.fixture(scope="module")
def sample_sales() -> dict[str, pd.Series]:
    """The committed sample as daily series, zero-filled."""
    return load_daily_sales(SETTINGS.data.model_copy(update={"fill_policy": "zero"}), SAMPLE_DATA)


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DATA)


# ---- determinism ------------------------------------------------------------------------------


def test_committed_sample_is_what_the_configured_seed_generates() -> None:
    sample = SETTINGS.sample
    assert SETTINGS.data.path.name == SAMPLE_DATA.name
    assert sample_csv_bytes(sample.seed, sample.start, sample.years) == SAMPLE_DATA.read_bytes(), (
        "data/sample_sales.csv differs from its generator: run `salescast data sample` and commit it"
    )


@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz"])
def test_same_seed_writes_byte_identical_files_and_another_seed_differs(tmp_path: Path, name: str) -> None:
    first = write_sample(tmp_path / "one" / name, 11, "2024-01-01", 0.3)
    second = write_sample(tmp_path / "two" / name, 11, "2024-01-01", 0.3)
    other = write_sample(tmp_path / "three" / name, 12, "2024-01-01", 0.3)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert sorted(p.name for p in first.parent.iterdir()) == [name]  # no temp file left behind


def test_gzip_sample_is_the_same_csv_and_loads(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "s.csv.gz", 5, "2024-01-01", 0.2)
    assert gzip.decompress(path.read_bytes()) == sample_csv_bytes(5, "2024-01-01", 0.2)
    sales = load_daily_sales(SETTINGS.data, path)
    assert list(sales) == CATEGORIES


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("old")
    write_sample(path, 1, "2024-01-01", 0.1)
    assert path.read_bytes() == sample_csv_bytes(1, "2024-01-01", 0.1)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"profile": "dense"}, "unknown sample profile 'dense'"),
        ({"start": "soon"}, "sample start 'soon' is not a date"),
        ({"years": 0.0}, "years must be positive"),
    ],
)
def test_invalid_parameters(kwargs: dict[str, object], expected: str) -> None:
    args: dict[str, object] = {"seed": 1, "start": "2024-01-01", "years": 1.0, **kwargs}
    with pytest.raises(SampleError, match=expected):
        generate_sample(**args)  # type: ignore[arg-type]


# ---- ensure_sample_data -------------------------------------------------------------------------


def test_ensure_sample_data_creates_the_missing_file_only(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "sales.csv"
    settings = make_test_settings(tmp_path, data={"path": str(target)}, sample={"years": 0.1})
    assert ensure_sample_data(settings) == target
    assert target.read_bytes() == sample_csv_bytes(settings.sample.seed, settings.sample.start, 0.1)

    target.write_text("user data")  # an existing file is never overwritten
    assert ensure_sample_data(settings) == target
    assert target.read_text() == "user data"


# ---- shape of the committed sample ----------------------------------------------------------------


def test_schema_and_transactions(sample_rows: pd.DataFrame) -> None:
    assert tuple(sample_rows.columns) == COLUMNS
    assert SAMPLE_DATA.stat().st_size < 5_000_000
    assert sample_rows["Transaction ID"].is_unique
    assert sorted(sample_rows["Product Category"].unique()) == CATEGORIES
    assert sample_rows["Quantity"].between(1, 4).all()
    assert (sample_rows["Quantity"] * sample_rows["Price per Unit"] == sample_rows["Total Amount"]).all()
    assert sample_rows["Age"].between(18, 64).all()
    assert set(sample_rows["Gender"]) == {"Female", "Male"}
    per_day = sample_rows.groupby(["Date", "Product Category"]).size()
    assert 10 <= per_day.median() <= 40
    prices = sample_rows.groupby("Product Category")["Price per Unit"].median()
    assert prices["Electronics"] > prices["Clothing"] > prices["Beauty"]


def test_at_least_two_years_with_some_zero_days(sample_sales: dict[str, pd.Series]) -> None:
    assert list(sample_sales) == CATEGORIES
    zero_share = {name: float((series == 0).mean()) for name, series in sample_sales.items()}
    for name, series in sample_sales.items():
        assert len(series) >= 730
        assert 0.0 < zero_share[name] < 0.05, name
        assert series[pd.Timestamp("2023-12-25")] == 0.0  # closed on Christmas Day
    assert zero_share["Clothing"] == min(zero_share.values())  # the busiest category


def test_weekly_yearly_trend_and_holiday_structure(sample_sales: dict[str, pd.Series]) -> None:
    for name, series in sample_sales.items():
        days = pd.DatetimeIndex(series.index)
        is_open = (series > 0).to_numpy()
        by_weekday = series[is_open].groupby(days[is_open].dayofweek).mean()
        assert by_weekday[5] > 1.6 * by_weekday[0], name  # Saturday vs Monday
        years = series.groupby(days.year).mean()
        assert years[2024] > years[2023], name  # trend
        black_friday = series[pd.Timestamp("2024-11-29")]
        other_fridays = series[(days.month == 11) & (days.dayofweek == 4)].drop(pd.Timestamp("2024-11-29"))
        assert black_friday > 1.5 * other_fridays.mean(), name
    clothing = sample_sales["Clothing"]
    months = clothing.groupby(pd.DatetimeIndex(clothing.index).month).mean()
    assert months.max() > 1.3 * months.min()  # yearly seasonality


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


@pytest.mark.parametrize("weeks", [2, 4])
def test_a_seasonal_average_beats_both_naive_baselines(
    sample_sales: dict[str, pd.Series], weeks: int
) -> None:
    """Learnable structure: averaging the same weekday over 2–4 weeks beats naive and seasonal naive."""
    for name, series in sample_sales.items():
        values = series.to_numpy()
        n = len(values)
        start = int(n * 0.8)
        actual = values[start:]
        naive = values[start - 1 : n - 1]
        seasonal_naive = values[start - 7 : n - 7]
        seasonal_average = np.mean([values[start - 7 * k : n - 7 * k] for k in range(1, weeks + 1)], axis=0)
        model_like = _rmse(actual, seasonal_average)
        assert model_like < 0.95 * _rmse(actual, naive), name
        assert model_like < 0.95 * _rmse(actual, seasonal_naive), name


def test_sparse_profile_has_about_1000_transactions_a_year_and_mostly_empty_days(tmp_path: Path) -> None:
    rows = generate_sample(3, "2023-01-01", 2.0, profile="sparse")
    assert 1600 <= len(rows) <= 2400
    path = tmp_path / "sparse.csv"
    rows.to_csv(path, index=False)
    sales = load_daily_sales(SETTINGS.data, path)
    assert list(sales) == CATEGORIES
    for name, series in sales.items():
        assert (series == 0).mean() > 0.5, name


def test_a_linear_model_on_14_day_windows_beats_both_naive_baselines(
    sample_sales: dict[str, pd.Series],
) -> None:
    """The CNN-LSTM's task done by ridge regression: fit on the first 70 % of windows, test the last 15 %."""
    window = SETTINGS.window.size
    for name, series in sample_sales.items():
        values = series.to_numpy()
        inputs = np.array([values[i - window : i] for i in range(window, len(values))])
        targets = values[window:]
        train_end, test_start = int(len(targets) * 0.7), int(len(targets) * 0.85)
        mean, std = values[: train_end + window].mean(), values[: train_end + window].std()
        design = np.c_[(inputs - mean) / std, np.ones(len(targets))]
        train = design[:train_end]
        weights = np.linalg.solve(
            train.T @ train + np.eye(window + 1), train.T @ ((targets[:train_end] - mean) / std)
        )
        actual = targets[test_start:]
        linear = _rmse(actual, design[test_start:] @ weights * std + mean)
        assert linear < 0.9 * _rmse(actual, inputs[test_start:, -1]), name  # naive
        assert linear < 0.9 * _rmse(actual, inputs[test_start:, -7]), name  # seasonal naive


# ---- export-like profiles (store, shop) -----------------------------------------------------------


def _daily(rows: pd.DataFrame, tmp_path: Path, name: str) -> dict[str, pd.Series]:
    path = tmp_path / f"{name}.csv"
    rows.to_csv(path, index=False)
    return load_daily_sales(SETTINGS.data.model_copy(update={"fill_policy": "zero"}), path)


@pytest.fixture(scope="module")
def store_rows() -> pd.DataFrame:
    return generate_sample(7, "2021-01-01", PROFILE_YEARS["store"], profile="store")


def test_export_profiles_are_deterministic_per_seed() -> None:
    for profile in ("store", "shop"):
        first = sample_csv_bytes(5, "2024-01-01", 0.5, profile=profile)
        assert first == sample_csv_bytes(5, "2024-01-01", 0.5, profile=profile)
        assert first != sample_csv_bytes(6, "2024-01-01", 0.5, profile=profile)


@pytest.mark.parametrize("seed", [1, 7])
def test_store_profile_four_years_21_to_43_percent_zero_days_closed_sundays(
    tmp_path: Path, seed: int
) -> None:
    rows = generate_sample(seed, "2021-01-01", PROFILE_YEARS["store"], profile="store")
    sales = _daily(rows, tmp_path, "store")
    assert list(sales) == CATEGORIES
    shares = []
    for name, series in sales.items():
        days = pd.DatetimeIndex(series.index)
        assert len(series) >= 4 * 365 - 7, name
        assert (series[days.dayofweek == 6] == 0).all(), name  # closed on Sundays
        shares.append(float((series == 0).mean()))
        assert 0.18 <= shares[-1] <= 0.48, (name, shares[-1])
    assert min(shares) >= 0.21 and max(shares) <= 0.46, shares
    assert max(shares) - min(shares) >= 0.05, shares  # categories differ


def test_store_profile_has_large_orders_level_shifts_and_a_volatile_last_half_year(
    store_rows: pd.DataFrame, tmp_path: Path
) -> None:
    large = store_rows[store_rows["Quantity"] > 4]
    assert 20 <= len(large) <= 200  # occasional: about 1 % of open days per category
    assert large["Quantity"].between(10, 30).all()
    sales = _daily(store_rows, tmp_path, "store")
    for name, series in sales.items():
        values = series.to_numpy()
        quarters = [values[i : i + 91].mean() for i in range(0, len(values) - 91, 91)]
        assert max(quarters) > 1.4 * min(quarters), name  # the level moves, not only noise
        is_open = pd.DatetimeIndex(series.index).dayofweek != 6
        empty = (values == 0) & is_open  # open but nothing sold: burstier demand has more such days
        assert empty[-120:].mean() > empty[-485:-120].mean() + 0.03, name


def test_shop_profile_one_year_about_45_percent_zero_days(tmp_path: Path) -> None:
    for seed in (1, 7):
        rows = generate_sample(seed, "2024-01-01", PROFILE_YEARS["shop"], profile="shop")
        assert 1200 <= len(rows) <= 2400
        sales = _daily(rows, tmp_path, "shop")
        assert list(sales) == CATEGORIES
        shares = [float((series == 0).mean()) for series in sales.values()]
        assert all(len(series) >= 360 for series in sales.values())
        assert all(0.3 <= share <= 0.6 for share in shares), shares
        assert 0.38 <= float(np.mean(shares)) <= 0.52, shares
