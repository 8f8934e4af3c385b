"""The accuracy bench's `optimum` on a generated profile: each category's expected sales given how the
file was made (`core.expected_sales`), scored beside the references (`salescast.bench.accuracy.OPTIMUM`).

A target such as "0.97 × the best classical reference" can lie beyond what the data allow: on a
generated file the bound is computable, since the generator's draws can be replayed from its seed.
The optimum knows every parameter and hidden state (the demand level up to the forecast's origin, the
level shifts up to the target day itself), so no forecaster can be expected to reach it; a model
close to it has little left to take.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.expected_sales import ExpectedSales
from core.sample_data import Profile
from core.settings import Settings
from salescast.bench.accuracy import HORIZONS, Optimum


def profile_optimum(profile: Profile, settings: Settings, data: Path) -> Optimum | None:
    """The optimum of `data`, the file `salescast bench accuracy --profile profile` scores (written
    from `sample.seed` and `sample.start`); None when `data` is not that generated file (the bundled
    sample replaced by other sales, or a profile without a replayable generator)."""
    from core.multiyear_sample import multiyear_expected_sales
    from core.retailer_sample import retailer_expected_sales, retailer_kinds
    from core.sample_data import PROFILE_YEARS, expected_sales, sample_csv_bytes

    sample = settings.sample
    if profile == "retailer":
        count = len(retailer_kinds(settings.bench.retailer_categories))
        days, expected = retailer_expected_sales(sample.seed, sample.start, categories=count)
    elif profile == "multiyear":
        years, country = PROFILE_YEARS["multiyear"], settings.data.holiday_country
        days, expected = multiyear_expected_sales(sample.seed, sample.start, years, country)
    elif profile == "default":  # the bundled sample, when it is still the generated one
        generated = sample_csv_bytes(sample.seed, sample.start, sample.years)
        if not data.is_file() or data.read_bytes() != generated:
            return None
        days, expected = expected_sales(sample.seed, sample.start, sample.years)
    elif profile in ("store", "shop"):
        days, expected = expected_sales(sample.seed, sample.start, PROFILE_YEARS[profile], profile=profile)
    else:
        return None
    return {category: _dated(days, sales) for category, sales in expected.items()}


def _dated(days: pd.DatetimeIndex, sales: ExpectedSales) -> dict[int, pd.Series]:
    return {h: pd.Series(sales.at(h), index=days) for h in HORIZONS}
