"""A TorchServe request read and validated against a version's manifest, and a batch of them stacked.

Every message is meant for the client ("expected 14 values, got 3"): a bad request in a batch keeps
its message (answered with a 4xx by `forecast_steps`) and does not stop the others. Travels inside
every `.mar` beside `forecast_steps.py` (torch and the standard library only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

if TYPE_CHECKING:
    from handlers import calendar_terms, version_stats
else:
    try:  # inside a .mar: the archive's own copies (TorchServe puts the model dir on sys.path)
        import calendar_terms
        import version_stats
    except ModuleNotFoundError as missing:  # in the repository
        if missing.name not in {"calendar_terms", "version_stats"}:
            raise
        from handlers import calendar_terms, version_stats

FLOAT32_MAX = float(torch.finfo(torch.float32).max)
SALES_FORM = "sales"
INSTANCES_FORM = "instances"
NUMBER_TYPES = frozenset((int, float))


def request_body(request: Any) -> Any:
    """The body of one TorchServe request, decoded from bytes/str JSON when TorchServe did not parse it.

    Under TorchServe's `kserve` service envelope a "request" is one bare instance (a list of N
    numbers); it is read as `{"sales": [...]}`.
    """
    if isinstance(request, list):
        return {SALES_FORM: request}
    body = request.get("body")
    if body is None:
        body = request.get("data")
    if body is None:
        raise ValueError(
            'empty request body: send JSON like {"sales": [numbers]} with Content-Type: application/json'
        )
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("request body is not UTF-8 text") from None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    return body


Request = tuple[str, list[list[float]], int, "list[int] | None", "date | None"]
"""One validated request: (form, rows of N floats, days ahead, levels or None for the defaults,
date of the last value or None)."""


def parse_request(body: Any, stats: Mapping[str, Any]) -> Request:
    """Validate one request body against the version's manifest.

    Raises ValueError with a message meant for the client ("expected 14 values, got 3").
    """
    window_size = int(stats["window_size"])
    if isinstance(body, Mapping) and SALES_FORM in body:
        form, rows = SALES_FORM, [validate_values(body[SALES_FORM], window_size)]
    elif isinstance(body, Mapping) and INSTANCES_FORM in body:
        instances = body[INSTANCES_FORM]
        if not isinstance(instances, list) or not instances:
            raise ValueError(f'"instances" must be a non-empty list of lists of {window_size} numbers')
        rows = []
        for index, values in enumerate(instances):
            try:
                rows.append(validate_values(values, window_size))
            except ValueError as exc:
                raise ValueError(f"instance {index}: {exc}") from None
        form = INSTANCES_FORM
    else:
        raise ValueError(
            f'expected a JSON object {{"sales": [{window_size} numbers]}} '
            f'or {{"instances": [[{window_size} numbers], ...]}}'
        )
    return (
        form,
        rows,
        parse_horizon(body.get("horizon"), stats),
        parse_levels(body.get("levels"), stats),
        calendar_terms.parse_last_date(body.get("last_date")),
    )


def parse_horizon(value: Any, stats: Mapping[str, Any]) -> int:
    """Days ahead: 1 when absent, else a whole number within 1..max_horizon."""
    limit = int(stats["max_horizon"])
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ValueError(f"horizon must be a whole number from 1 to {limit}, got {value!r}")
    return value


def parse_levels(value: Any, stats: Mapping[str, Any]) -> list[int] | None:
    """Interval levels in percent (each rounded to a calibrated level); None = the version's defaults."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        not isinstance(level, bool)
        and isinstance(level, (int, float))
        and version_stats.MIN_LEVEL <= level <= version_stats.MAX_LEVEL
        for level in value
    ):
        raise ValueError(
            f"levels must be a list of percents from {version_stats.MIN_LEVEL} to "
            f"{version_stats.MAX_LEVEL}, got {value!r}"
        )
    return sorted({round(level) for level in value})


def validate_values(values: Any, window_size: int) -> list[float]:
    """Exactly `window_size` finite numbers that fit in float32 (1e308 is finite only in float64).

    Plain JSON numbers within range pass a few C-level checks (a batch of 1000 windows is 14 000
    values); anything else is checked value by value, so the message names the first bad one."""
    if not isinstance(values, list):
        raise ValueError(f"expected a list of {window_size} numbers, got {type(values).__name__}")
    if len(values) != window_size:
        raise ValueError(f"expected {window_size} values, got {len(values)}")
    if values and NUMBER_TYPES.issuperset(map(type, values)):
        try:
            numbers = list(map(float, values))
        except OverflowError:  # an integer beyond float64: the loop below names it
            numbers = []
        # A NaN or an infinity makes the sum non-finite (so does an overflow, which takes values far
        # outside the float32 range); either way the loop below finds the value.
        if (
            numbers
            and math.isfinite(sum(numbers))
            and -FLOAT32_MAX <= min(numbers) <= max(numbers) <= FLOAT32_MAX
        ):
            return numbers
    checked = []
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value at position {position} is not a number: {value!r}")
        try:
            number = float(value)
        except OverflowError:  # JSON allows integers of any length
            message = f"value at position {position} is an integer outside the float32 range"
            raise ValueError(message) from None
        if not math.isfinite(number):
            raise ValueError(f"value at position {position} is not finite: {number}")
        if abs(number) > FLOAT32_MAX:
            raise ValueError(f"value at position {position} is outside the float32 range: {number:g}")
        checked.append(number)
    return checked


class Batch(NamedTuple):
    """A TorchServe batch after parsing: each request validated (or its error message), every valid
    row stacked in one [R, N] float64 tensor, the longest horizon asked, and whether the answers
    go out as JSON text (not under a service envelope, which builds its own answer from dicts).

    With calendar terms (the manifest's `calendar` and a request's `last_date`) a row is stored
    divided by its days' factors, and `target_factors` [R, horizon] holds the factors its forecast
    is multiplied by (1 for rows without a date); None when no row of the batch has them.
    `weekdays` [R] int64: the weekday of each row's first day ahead (`calendar_terms.next_weekday`),
    None when no row of the batch has a date."""

    parsed: list[Request | str]
    windows: torch.Tensor
    horizon: int
    as_text: bool
    target_factors: torch.Tensor | None = None
    weekdays: torch.Tensor | None = None


def parse_batch(requests: Sequence[Any], stats: Mapping[str, Any]) -> Batch:
    """Validate every request of a batch; a bad one keeps its message and does not stop the others."""
    parsed: list[Request | str] = []
    for raw in requests:
        try:
            parsed.append(parse_request(request_body(raw), stats))
        except ValueError as exc:
            parsed.append(str(exc))
    valid = [item for item in parsed if not isinstance(item, str)]
    rows = [row for item in valid for row in item[1]]
    horizon = max((item[2] for item in valid), default=0)
    width = int(stats["window_size"])
    windows = torch.tensor(rows, dtype=torch.float64) if rows else torch.zeros(0, width, dtype=torch.float64)
    as_text = all(isinstance(raw, Mapping) for raw in requests)
    if all(item[4] is None for item in valid):
        return Batch(parsed, windows, horizon, as_text)
    weekdays = torch.tensor(
        [calendar_terms.next_weekday(item[4]) for item in valid for _ in item[1]], dtype=torch.int64
    )
    block = stats.get("calendar")
    if block is None:
        return Batch(parsed, windows, horizon, as_text, None, weekdays)
    window_factors = torch.ones_like(windows)
    target_factors = torch.ones(len(rows), horizon, dtype=torch.float64)
    offset = 0
    for _, item_rows, _, _, last_date in valid:
        end = offset + len(item_rows)
        if last_date is not None:
            before, ahead = calendar_terms.request_factors(block, last_date, width, horizon)
            window_factors[offset:end] = torch.tensor(before, dtype=torch.float64)
            target_factors[offset:end] = torch.tensor(ahead, dtype=torch.float64)
        offset = end
    adjusted = windows / window_factors.clamp(min=float(block["floor"]))
    return Batch(parsed, adjusted, horizon, as_text, target_factors, weekdays)
