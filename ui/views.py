"""Handler answers as named tuples ("views"), turned into Gradio's positional outputs in one place.

A handler that fills many components returns a `NamedTuple` whose field names say what each value
is for; Gradio takes any tuple as its list of outputs. `outputs_for` lists the components in the
view's field order, so the order is written once (in the view) and a field without a component fails
when the page is built rather than showing a value in the wrong component.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
from gradio.blocks import Block


class ChartView(NamedTuple):
    """A chart, the table beside it, a message about both, and the CSV of the chart's data (None when
    there is nothing to download): what Explore and Backtest answer."""

    chart: go.Figure
    table: pd.DataFrame
    message: str
    download: str | None


def outputs_for(view: type[NamedTuple], components: Mapping[str, Block]) -> list[Block]:
    """The components named like `view`'s fields, in field order (`components` may hold more)."""
    missing = [name for name in view._fields if name not in components]
    if missing:
        raise ValueError(f"{view.__name__} has fields with no component: {', '.join(missing)}")
    return [components[name] for name in view._fields]
