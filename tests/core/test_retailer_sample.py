"""The retailer profile sells as its docstring says, read back through the training data loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from core.retailer_sample import (
    INTERMITTENT_ZERO_SHARE,
    LAUNCH_DAYS,
    MIX,
    RETAILER_CATEGORIES,
    RetailerSampleError,
    kind_counts,
    retailer_kinds,
    write_retailer_sample,
)
from core.sales_data import load_daily_sales
from core.sample_data import COLUMNS, generate_sample
from core.settings import load_settings

SIZE = 300
HUGE_FACTOR = 5.0  # a huge category sells more than this many times the median category


@pytest.fixture(scope="module")
def retailer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_retailer_sample(
        tmp_path_factory.mktemp("retailer") / "r.csv", 7, "2023-01-01", categories=SIZE
    )


@pytest.fixture(scope="module")
def daily(retailer_csv: Path) -> dict[str, pd.Series]:
    return load_daily_sales(load_settings(environ={}).data, retailer_csv)


@pytest.mark.parametrize("size", [1, 2, 3, 12, 30, 299, 300, 301])
def test_kind_counts_add_up_and_follow_the_mix(size: int) -> None:
    counts = kind_counts(retailer_kinds(size))
    assert sum(counts.values()) == size
    for kind, share in MIX.items():
        assert abs(counts[kind] - share * size) < 1


def test_shares_at_300_categories_match_the_docstring(daily: dict[str, pd.Series]) -> None:
    assert len(daily) == SIZE
    last = max(series.index[-1] for series in daily.values())
    zero_share = {name: float((series == 0).mean()) for name, series in daily.items()}
    age_days = {name: (last - series.index[0]).days for name, series in daily.items()}
    mean = pd.Series({name: float(series.mean()) for name, series in daily.items()})

    intermittent = {name for name, share in zero_share.items() if share > INTERMITTENT_ZERO_SHARE}
    launched = {name for name, age in age_days.items() if LAUNCH_DAYS[0] <= age <= LAUNCH_DAYS[1]}
    huge = set(mean[mean > HUGE_FACTOR * mean.median()].index)
    assert len(intermittent) == MIX["intermittent"] * SIZE
    assert len(launched) == MIX["launched"] * SIZE
    assert len(huge) == MIX["huge"] * SIZE
    # ...and they are the categories named for that kind; the rest are weekly sellers with history
    assert intermittent == {name for name in daily if name.startswith("Intermittent")}
    assert launched == {name for name in daily if name.startswith("Launched")}
    assert huge == {name for name in daily if name.startswith("Huge")}
    weekly = [daily[name] for name in daily if name.startswith("Weekly")]
    assert len(weekly) == MIX["weekly"] * SIZE
    for series in weekly:
        by_weekday = series.groupby(pd.DatetimeIndex(series.index).dayofweek).mean()
        assert by_weekday.max() > 1.3 * by_weekday.min(), series.name  # a clear weekly pattern


def test_same_seed_same_bytes_and_a_category_does_not_depend_on_the_count(
    retailer_csv: Path, daily: dict[str, pd.Series], tmp_path: Path
) -> None:
    again = write_retailer_sample(tmp_path / "again.csv", 7, "2023-01-01", categories=SIZE)
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(retailer_csv.read_bytes()).digest()
    other_seed = write_retailer_sample(tmp_path / "other.csv", 8, "2023-01-01", categories=3)
    small = load_daily_sales(load_settings(environ={}).data, other_seed)
    assert not small["Weekly 001"].equals(daily["Weekly 001"])
    same_seed = load_daily_sales(
        load_settings(environ={}).data,
        write_retailer_sample(tmp_path / "s.csv", 7, "2023-01-01", categories=3),
    )
    pd.testing.assert_series_equal(same_seed["Weekly 001"], daily["Weekly 001"], check_names=False)


def test_registered_as_a_sample_profile() -> None:
    rows = generate_sample(7, "2023-01-01", 1.0, profile="retailer")
    assert rows["Product Category"].nunique() == RETAILER_CATEGORIES
    assert tuple(rows.columns) == COLUMNS  # the schema of every other profile
    with pytest.raises(RetailerSampleError, match="at least one category"):
        retailer_kinds(0)
