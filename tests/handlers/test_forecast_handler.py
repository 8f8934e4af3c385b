"""The handler in-process: TorchServe's real `Context`, a scripted model, answers compared with the model."""

from __future__ import annotations

import ast
import json
import math
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import ts
from torch import nn
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
from ts.utils.util import list_classes_from_module

import handlers.calendar_terms as calendar_module
import handlers.forecast_handler as handler_module
import handlers.forecast_steps as steps_module
import handlers.request_parsing as request_module
import handlers.version_stats as stats_module
from core.contracts.manifest import IntervalCalibration
from core.sales_data import load_daily_sales
from core.settings import Settings
from handlers.forecast_handler import ForecastHandler
from handlers.forecast_steps import denormalize, forward, normalize
from handlers.request_parsing import parse_request, request_body, validate_values
from serving.archive import ArchiveInfo
from tests.handlers.reference import reference_next_day, reference_total
from tests.handlers.scripted_artifacts import KINDS, calibration, write_scripted_version

CATEGORY = "Home & Garden"
VERSION = "20250102.030405"
N = 14
MEAN, STD = 250.0, 40.0


@pytest.fixture(params=KINDS)
def model_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A version of each kind a model store may hold: format 2 (what training writes) and the two
    kinds of archives made before it ("raw", "normalized"), which must keep serving."""
    return write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, mean=MEAN, std=STD, seed=3, kind=request.param
    )


def make_context(model_dir: Path, batch_size: int) -> Context:
    """A context as TorchServe's worker makes it, with its metrics cache (BaseHandler.handle times
    every batch into it)."""
    manifest = {"model": {"modelName": "home-garden", "modelVersion": VERSION, "serializedFile": "model.pt"}}
    metrics = MetricsCacheYamlImpl(str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
    metrics.initialize_cache()
    metrics.model_name = "home-garden"
    context = Context("home-garden", str(model_dir), manifest, batch_size, None, "0.12.0", metrics=metrics)
    context.request_processor = [RequestProcessor({}) for _ in range(batch_size)]
    return context


@contextmanager
def initialized_handler(model_dir: Path) -> Iterator[ForecastHandler]:
    """A handler initialized on `model_dir`; torch's thread count (set to 1 by `initialize`) is put
    back afterwards so later tests in the session do not run single-threaded."""
    threads = torch.get_num_threads()
    instance = ForecastHandler()
    instance.initialize(make_context(model_dir, 1))
    try:
        yield instance
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def handler(model_dir: Path) -> Iterator[ForecastHandler]:
    with initialized_handler(model_dir) as instance:
        yield instance


def expected_prediction(model_dir: Path, window: list[float]) -> float:
    """The model called directly, with the normalization spelled out independently of the handler."""
    return reference_next_day(model_dir, [window])[0]


def run_batch(
    handler: ForecastHandler, model_dir: Path, requests: Sequence[Mapping[str, Any]]
) -> tuple[Context, list[Any]]:
    """The context and the decoded answers (the handler sends JSON text, see below)."""
    context = make_context(model_dir, len(requests))
    return context, [json.loads(answer) for answer in handler.handle(requests, context)]


def test_answers_go_out_as_compact_json_text(handler: ForecastHandler, model_dir: Path) -> None:
    """TorchServe sends text as is; a dict it would encode with its slow, indented encoder."""
    context = make_context(model_dir, 2)
    answers = handler.handle([{"body": {"sales": WINDOW}}, {"body": {"sales": [1.0]}}], context)
    for answer in answers:
        assert isinstance(answer, str) and answer == json.dumps(json.loads(answer), separators=(",", ":"))
    assert json.loads(answers[1]) == {"error": "expected 14 values, got 1"}


WINDOW = [float(200 + 7 * i) for i in range(N)]


def test_sales_answer_equals_the_model(handler: ForecastHandler, model_dir: Path) -> None:
    context, answers = run_batch(handler, model_dir, [{"body": {"sales": WINDOW}}])
    assert context.get_response_status(0)[0] == 200
    want = pytest.approx(expected_prediction(model_dir, WINDOW), abs=1e-4)
    reads_weekday = stats_module.reads_weekday(handler.stats)
    no_date = {"applied": False, "note": calendar_module.WEEKDAY_NOT_SENT}
    assert answers[0] == {
        "prediction": want,
        "category": CATEGORY,
        "model_version": VERSION,
        "window_size": N,
        "horizon": 1,
        "forecast": [{"step": 1, "prediction": want, "intervals": []}],  # this version has no intervals
        # no date sent: a model that reads the weekday says where it took it from
        **({"calendar": no_date} if reads_weekday else {}),
    }


def test_a_dated_request_gives_the_model_its_weekday(handler: ForecastHandler, model_dir: Path) -> None:
    """2024-12-24 is a Tuesday: a format 3 model gets Wednesday (2; the tiny model adds 0.01 × the
    weekday, in its scaled units); older formats get none. (Days further on: tests/contracts.)"""
    body = {"sales": WINDOW, "last_date": "2024-12-24"}
    _, [answer] = run_batch(handler, model_dir, [{"body": body}])
    reads_weekday = stats_module.reads_weekday(handler.stats)
    want = reference_next_day(model_dir, [WINDOW], 2 if reads_weekday else None)[0]
    assert answer["prediction"] == pytest.approx(want, abs=1e-4)
    if reads_weekday:
        assert want != pytest.approx(expected_prediction(model_dir, WINDOW), abs=1e-4)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"sales": WINDOW}).encode(),
        bytearray(json.dumps({"sales": WINDOW}).encode()),
        json.dumps({"sales": WINDOW}),
        {"sales": WINDOW},
    ],
    ids=["bytes", "bytearray", "str", "parsed"],
)
def test_body_may_be_bytes_str_or_parsed(handler: ForecastHandler, model_dir: Path, body: Any) -> None:
    _, answers = run_batch(handler, model_dir, [{"body": body}])
    assert answers[0]["prediction"] == pytest.approx(expected_prediction(model_dir, WINDOW), abs=1e-4)


def test_kserve_instances_answer_every_row(handler: ForecastHandler, model_dir: Path) -> None:
    rows = [WINDOW, [float(x) for x in range(N)], [1000.0] * N]
    _, answers = run_batch(handler, model_dir, [{"data": {"instances": rows}}])
    assert answers[0]["predictions"] == pytest.approx(
        [expected_prediction(model_dir, row) for row in rows], abs=1e-4
    )
    assert answers[0]["model_version"] == VERSION


class CountingModel(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batch_sizes: list[int] = []

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(inputs[0].shape[0])
        result: torch.Tensor = self.inner(*inputs)
        return result


def test_a_batch_runs_one_forward(handler: ForecastHandler, model_dir: Path) -> None:
    counting = CountingModel(handler.model)
    handler.model = counting
    requests: list[dict[str, Any]] = [
        {"body": {"sales": WINDOW}},
        {"body": {"instances": [WINDOW, WINDOW]}},
        {"body": {"sales": [1]}},
    ]
    run_batch(handler, model_dir, requests)
    assert counting.batch_sizes == [3]


def test_bad_request_in_a_batch_gets_its_own_4xx(handler: ForecastHandler, model_dir: Path) -> None:
    requests = [
        {"body": {"sales": WINDOW}},
        {"body": {"sales": [1.0, 2.0, 3.0]}},
        {"body": {"sales": WINDOW[::-1]}},
    ]
    context, answers = run_batch(handler, model_dir, requests)
    assert len(answers) == 3
    assert context.get_response_status(1) == (400, "expected 14 values, got 3")
    assert answers[1] == {"error": "expected 14 values, got 3"}
    for index, window in ((0, WINDOW), (2, WINDOW[::-1])):
        assert context.get_response_status(index)[0] == 200
        assert answers[index]["prediction"] == pytest.approx(expected_prediction(model_dir, window), abs=1e-4)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"body": {"sales": [1.0] * 3}}, "expected 14 values, got 3"),
        ({"body": {"sales": [1.0] * 13 + [1e308]}}, "outside the float32 range"),
        ({"body": '{"sales": [1,2,3,4,5,6,7,8,9,10,11,12,13,' + "9" * 400 + "]}"}, "integer outside"),
        ({"body": '{"sales": [1,2,3,4,5,6,7,8,9,10,11,12,13,NaN]}'}, "not finite"),
        ({"body": '{"sales": [1,2,3,4,5,6,7,8,9,10,11,12,13,Infinity]}'}, "not finite"),
        ({"body": {"sales": [1.0] * 13 + ["7"]}}, "not a number"),
        ({"body": {"sales": [1.0] * 13 + [True]}}, "not a number"),
        ({"body": {"sales": "1,2,3"}}, "expected a list of 14 numbers"),
        ({"body": {"instances": []}}, "non-empty list"),
        ({"body": {"instances": [[1.0] * N, [1.0] * 2]}}, "instance 1: expected 14 values, got 2"),
        ({"body": {"values": [1.0] * N}}, 'expected a JSON object {"sales"'),
        ({"body": [1.0] * N}, 'expected a JSON object {"sales"'),
        ({"body": b"{not json"}, "not valid JSON"),
        ({"body": b"\xff\xfe"}, "not UTF-8"),
        ({}, "empty request"),
    ],
)
def test_invalid_requests_get_400_with_a_message(
    handler: ForecastHandler, model_dir: Path, request_: dict[str, Any], message: str
) -> None:
    context, answers = run_batch(handler, model_dir, [request_])
    status, phrase = context.get_response_status(0)
    assert status == 400
    assert message in phrase
    assert answers[0] == {"error": phrase}


class Exploding(nn.Module):
    def forward(self, x: torch.Tensor, *scale: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1) * 1e38 * 1e38


def test_non_finite_prediction_is_an_error(handler: ForecastHandler, model_dir: Path) -> None:
    handler.model = Exploding()
    context, answers = run_batch(handler, model_dir, [{"body": {"sales": WINDOW}}])
    assert context.get_response_status(0)[0] == 422
    assert "non-finite prediction" in answers[0]["error"]


def test_initialize_uses_one_thread_and_reads_metrics(handler: ForecastHandler) -> None:
    assert torch.get_num_threads() == 1
    described = handler.describe_handle()
    assert described["category"] == CATEGORY
    assert described["model_version"] == VERSION
    assert set(described["metrics"]) == {"model", "naive", "seasonal_naive", "moving_average"}


def test_initialize_rejects_stats_without_a_positive_std(model_dir: Path) -> None:
    stats_path = model_dir / "norm_stats.json"
    stats = json.loads(stats_path.read_text())
    stats["std"] = 0.0
    stats_path.write_text(json.dumps(stats))
    with pytest.raises(ValueError, match="std must be > 0"):
        ForecastHandler().initialize(make_context(model_dir, 1))


def test_pure_steps_round_trip() -> None:
    rows = torch.tensor([[MEAN + STD * k for k in range(N)]], dtype=torch.float64)
    x, level, unit = normalize(rows, {"method": "global", "mean": MEAN, "std": STD})
    assert x.dtype == torch.float32
    assert x[0].tolist() == pytest.approx(list(range(N)))
    identity_last = torch.jit.script(LastValue())
    out = forward(identity_last, x, level, unit, scaled=False)
    assert denormalize(out, level, unit, non_negative=False).tolist() == pytest.approx([rows[0, -1].item()])
    assert validate_values([1] * N, N) == [1.0] * N
    stats = {"window_size": N, "max_horizon": 1}
    assert parse_request({"sales": [2] * N}, stats) == ("sales", [[2.0] * N], 1, None, None)
    assert request_body({"body": b'{"sales": []}'}) == {"sales": []}


class LastValue(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1]


def top_level_imports(module: ModuleType) -> set[str]:
    tree = ast.parse(Path(str(module.__file__)).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    return imported


def test_handler_file_fits_torchserve_rules() -> None:
    """Exactly one class (TorchServe's loader requires it), no module-level `handle` (it would be
    taken as a function entry point), and imports limited to torch, TorchServe, the stdlib and its
    steps modules (the archive's copies, or the repository's)."""
    assert list_classes_from_module(handler_module) == [ForecastHandler]
    assert not hasattr(handler_module, "handle")
    steps = {"forecast_steps", "request_parsing", "version_stats"}
    allowed = set(sys.stdlib_module_names) | {"torch", "ts", "__future__", "handlers"} | steps
    assert top_level_imports(handler_module) <= allowed, top_level_imports(handler_module) - allowed


def test_the_steps_need_only_torch_and_the_stdlib() -> None:
    """The steps also run where TorchServe is not installed (training, the bench)."""
    allowed = set(sys.stdlib_module_names) | {"torch", "__future__", "handlers"}
    allowed |= {"calendar_terms", "request_parsing", "version_stats"}
    for module in (steps_module, request_module):
        assert top_level_imports(module) <= allowed, (module.__name__, top_level_imports(module) - allowed)
    plain = set(sys.stdlib_module_names) | {"__future__"}
    # the gateway's index of archives describes a version with it and runs without torch
    without_torch = plain | {"handlers", "calendar_terms"}
    assert top_level_imports(stats_module) <= without_torch, top_level_imports(stats_module) - without_torch
    assert top_level_imports(calendar_module) <= plain, top_level_imports(calendar_module) - plain


def test_base_handler_keeps_the_describe_branch(handler: ForecastHandler, model_dir: Path) -> None:
    """`handle` is TorchServe's own: a describe request gets `describe_handle`'s answer."""
    assert "handle" not in vars(ForecastHandler)
    context = make_context(model_dir, 1)
    context.request_processor = [RequestProcessor({"describe": "True"})]
    [described] = handler.handle([{"body": b""}], context)
    assert described["model_version"] == VERSION
    assert described["window_size"] == N


def test_prediction_is_a_plain_float(handler: ForecastHandler, model_dir: Path) -> None:
    _, answers = run_batch(handler, model_dir, [{"body": {"sales": WINDOW}}])
    assert isinstance(answers[0]["prediction"], float)
    assert math.isfinite(answers[0]["prediction"])
    json.dumps(answers[0])


def test_runs_under_torchserves_kserve_envelope(handler: ForecastHandler, model_dir: Path) -> None:
    """With `service_envelope=kserve` TorchServe hands the handler bare instances and wraps the answers."""
    from ts.torch_handler.request_envelope.kserve import KServeEnvelope

    rows = [WINDOW, WINDOW[::-1], [1.0, 2.0]]
    context = make_context(model_dir, 1)
    answers = KServeEnvelope(handler.handle).handle([{"body": {"instances": rows}}], context)
    predictions = answers[0]["predictions"]
    assert len(predictions) == 3
    for row, answer in zip(rows[:2], predictions, strict=False):
        assert answer["prediction"] == pytest.approx(expected_prediction(model_dir, row), abs=1e-4)
    assert predictions[2] == {"error": "expected 14 values, got 2"}


# ---- horizon and intervals ------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def calibrated_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    return write_scripted_version(
        tmp_path / "calibrated",
        CATEGORY,
        VERSION,
        window_size=N,
        mean=MEAN,
        std=STD,
        seed=3,
        max_horizon=5,
        intervals=calibration(5),
        kind=request.param,
    )


@pytest.fixture
def calibrated(calibrated_dir: Path) -> Iterator[ForecastHandler]:
    with initialized_handler(calibrated_dir) as instance:
        yield instance


def recursive(model_dir: Path, window: list[float], horizon: int) -> list[float]:
    """Feeding each forecast back, spelled out with the model called directly."""
    path, current = [], list(window)
    for _ in range(horizon):
        value = expected_prediction(model_dir, current)
        path.append(value)
        current = [*current[1:], value]
    return path


def test_horizon_feeds_forecasts_back_and_every_step_has_its_intervals(
    calibrated: ForecastHandler, calibrated_dir: Path
) -> None:
    context, [answer] = run_batch(calibrated, calibrated_dir, [{"body": {"sales": WINDOW, "horizon": 4}}])
    assert context.get_response_status(0)[0] == 200
    want = recursive(calibrated_dir, WINDOW, 4)
    assert answer["horizon"] == 4
    assert answer["prediction"] == pytest.approx(want[0], abs=1e-3)
    assert [step["prediction"] for step in answer["forecast"]] == pytest.approx(want, abs=1e-3)
    for step in answer["forecast"]:
        assert [interval["level"] for interval in step["intervals"]] == [80, 95]  # the defaults
        for interval in step["intervals"]:
            half = interval["level"] / 10 * step["step"]  # scale "none": the quantile itself
            assert interval["lower"] == pytest.approx(max(0.0, step["prediction"] - half), abs=1e-6)
            assert interval["upper"] == pytest.approx(step["prediction"] + half, abs=1e-6)


def test_levels_map_to_the_nearest_calibrated_level(
    calibrated: ForecastHandler, calibrated_dir: Path
) -> None:
    body = {"instances": [WINDOW, WINDOW[::-1]], "horizon": 2, "levels": [52, 94.6]}
    context, [answer] = run_batch(calibrated, calibrated_dir, [{"body": body}])
    assert context.get_response_status(0)[0] == 200
    assert len(answer["predictions"]) == len(answer["forecasts"]) == 2
    for row, steps in zip((WINDOW, WINDOW[::-1]), answer["forecasts"], strict=True):
        assert [s["prediction"] for s in steps] == pytest.approx(recursive(calibrated_dir, row, 2), abs=1e-3)
        assert [i["level"] for i in steps[1]["intervals"]] == [50, 95]


def next_day_at_80(tmp_path: Path, intervals: IntervalCalibration, windows: list[list[float]]) -> list[Any]:
    """The answers of a one-day version calibrated with `intervals` to each window, at level 80."""
    folder = write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, max_horizon=1, intervals=intervals
    )
    with initialized_handler(folder) as handler:
        _, answers = run_batch(handler, folder, [{"body": {"sales": w, "levels": [80]}} for w in windows])
    return answers


def test_the_window_scale_widens_intervals_for_volatile_windows(tmp_path: Path) -> None:
    calm = [300.0] * N  # flat: the floor applies
    wild = [300.0 + (60.0 if i % 2 else -60.0) for i in range(N)]  # mean |day-to-day change| = 120
    answers = next_day_at_80(tmp_path, calibration(1, scale="diff", floor=0.5), [calm, wild])
    half = [a["forecast"][0]["intervals"][0]["upper"] - a["forecast"][0]["prediction"] for a in answers]
    assert half[0] == pytest.approx(8.0 * 0.5, abs=1e-6)  # quantile 8 × the floor
    assert half[1] == pytest.approx(8.0 * 120.0, abs=1e-3)  # quantile 8 × the window's scale
    assert answers[1]["forecast"][0]["intervals"][0]["lower"] == 0.0  # clipped: sales are never negative


def test_a_days_interval_follows_its_forecasts_share_of_the_windows_level(tmp_path: Path) -> None:
    windows = [[300.0] * N, [100.0 + 40.0 * i for i in range(N)], [900.0] * (N - 1) + [20.0]]
    answers = next_day_at_80(tmp_path, calibration(1, level_exponent=0.5), windows)
    shares = []
    for window, answer in zip(windows, answers, strict=True):
        prediction = answer["forecast"][0]["prediction"]
        shares.append(min(max(prediction / (sum(window) / N), 0.1), 10.0))
        half = answer["forecast"][0]["intervals"][0]["upper"] - prediction
        assert half == pytest.approx(8.0 * shares[-1] ** 0.5, rel=1e-6)  # quantile 8 × √(forecast / mean)
    assert max(shares) > 1.2 * min(shares)  # the windows' forecasts sit differently against their level


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"horizon": 6}, "horizon must be a whole number from 1 to 5, got 6"),
        ({"horizon": 0}, "horizon must be a whole number from 1 to 5, got 0"),
        ({"horizon": 2.5}, "horizon must be a whole number from 1 to 5"),
        ({"levels": [99.5]}, "levels must be a list of percents from 50 to 99"),
        ({"levels": 80}, "levels must be a list of percents from 50 to 99"),
    ],
)
def test_out_of_range_horizon_or_level_is_a_400_naming_the_range(
    calibrated: ForecastHandler, calibrated_dir: Path, extra: dict[str, Any], reason: str
) -> None:
    context, [answer] = run_batch(calibrated, calibrated_dir, [{"body": {"sales": WINDOW, **extra}}])
    status, phrase = context.get_response_status(0)
    assert status == 400 and reason in phrase and reason in answer["error"]


def test_a_version_without_calibration_forecasts_one_day_without_intervals(
    handler: ForecastHandler, model_dir: Path
) -> None:
    context, _ = run_batch(handler, model_dir, [{"body": {"sales": WINDOW, "horizon": 2}}])
    assert context.get_response_status(0) == (400, "horizon must be a whole number from 1 to 1, got 2")
    _, [levels] = run_batch(handler, model_dir, [{"body": {"sales": WINDOW, "levels": [80]}}])
    assert levels["forecast"][0]["intervals"] == []


# ---- the total of the days ahead ------------------------------------------------------------------


def assert_total_matches_reference(total: Mapping[str, Any], folder: Path, window: list[float]) -> None:
    days = total["days"]
    levels = [interval["level"] for interval in total.get("intervals", [])]
    want, bounds = reference_total(folder, window, days, levels)
    assert total["prediction"] == pytest.approx(want, rel=1e-6, abs=1e-3)
    assert bounds is not None
    for interval in total["intervals"]:
        lower, upper = bounds[interval["level"]]
        assert interval["lower"] == pytest.approx(lower, rel=1e-6, abs=1e-3)
        assert interval["upper"] == pytest.approx(upper, rel=1e-6, abs=1e-3)


def test_a_multi_day_answer_holds_the_total_with_its_own_interval(
    calibrated: ForecastHandler, calibrated_dir: Path
) -> None:
    context, [answer] = run_batch(calibrated, calibrated_dir, [{"body": {"sales": WINDOW, "horizon": 4}}])
    assert context.get_response_status(0)[0] == 200
    total = answer["total"]
    assert total["days"] == 4
    assert total["prediction"] == pytest.approx(sum(step["prediction"] for step in answer["forecast"]))
    assert [interval["level"] for interval in total["intervals"]] == [80, 95]
    for interval in total["intervals"]:
        half = interval["level"] / 20 * 4  # scale "none": the total's own quantile
        assert interval["upper"] == pytest.approx(total["prediction"] + half, abs=1e-6)
        assert interval["lower"] == pytest.approx(max(0.0, total["prediction"] - half), abs=1e-6)
        # narrower than adding the days' half-widths (level / 10 × (1 + 2 + 3 + 4))
        assert half < interval["level"] / 10 * 10
    assert_total_matches_reference(total, calibrated_dir, WINDOW)


def test_every_instance_gets_its_total_at_the_asked_levels(
    calibrated: ForecastHandler, calibrated_dir: Path
) -> None:
    rows = [WINDOW, WINDOW[::-1]]
    body = {"instances": rows, "horizon": 3, "levels": [52, 94.6]}
    context, [answer] = run_batch(calibrated, calibrated_dir, [{"body": body}])
    assert context.get_response_status(0)[0] == 200
    assert len(answer["totals"]) == 2
    for row, total, steps in zip(rows, answer["totals"], answer["forecasts"], strict=True):
        assert [interval["level"] for interval in total["intervals"]] == [50, 95]  # the nearest calibrated
        assert total["prediction"] == pytest.approx(sum(step["prediction"] for step in steps))
        assert_total_matches_reference(total, calibrated_dir, row)


def test_one_day_has_no_total(calibrated: ForecastHandler, calibrated_dir: Path) -> None:
    _, [answer] = run_batch(calibrated, calibrated_dir, [{"body": {"sales": WINDOW}}])
    assert "total" not in answer
    _, [answer] = run_batch(calibrated, calibrated_dir, [{"body": {"instances": [WINDOW]}}])
    assert "totals" not in answer


def test_a_volatile_window_widens_the_total_and_its_lower_bound_stops_at_zero(tmp_path: Path) -> None:
    folder = write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, max_horizon=3, intervals=calibration(3, scale="diff")
    )
    wild = [300.0 + (60.0 if i % 2 else -60.0) for i in range(N)]  # mean |day-to-day change| = 120
    with initialized_handler(folder) as handler:
        _, [answer] = run_batch(handler, folder, [{"body": {"sales": wild, "horizon": 3, "levels": [80]}}])
    [interval] = answer["total"]["intervals"]
    assert interval["upper"] - answer["total"]["prediction"] == pytest.approx(80 / 20 * 3 * 120.0, abs=1e-3)
    assert interval["lower"] == 0.0
    assert_total_matches_reference(answer["total"], folder, wild)


@pytest.mark.parametrize("intervals", [calibration(3, totals=False), None], ids=["before-totals", "none"])
def test_a_version_without_total_intervals_answers_the_sum_and_says_why(
    tmp_path: Path, intervals: Any
) -> None:
    folder = write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, max_horizon=3, intervals=intervals, kind="window_level"
    )
    with initialized_handler(folder) as handler:
        context, [answer] = run_batch(handler, folder, [{"body": {"sales": WINDOW, "horizon": 3}}])
    assert context.get_response_status(0)[0] == 200
    total = answer["total"]
    assert "intervals" not in total and total["note"].startswith("no interval for the total")
    assert total["prediction"] == pytest.approx(sum(step["prediction"] for step in answer["forecast"]))
    assert total["prediction"] == pytest.approx(reference_total(folder, WINDOW, 3, [])[0], abs=1e-3)
    if intervals is not None:
        assert "retrain" in total["note"] and answer["forecast"][2]["intervals"]  # the days keep theirs


def test_the_handler_refuses_a_total_table_of_the_wrong_shape(tmp_path: Path) -> None:
    folder = write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, max_horizon=3, intervals=calibration(3)
    )
    stats_file = folder / steps_module.NORM_STATS_FILE
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    stats["intervals"]["total_quantiles"] = [[1.0, 2.0]] * 3
    stats_file.write_text(json.dumps(stats), encoding="utf-8")
    with pytest.raises(ValueError, match="total_quantiles rows must be as long as the quantiles rows"):
        steps_module.load_norm_stats(stats_file)


@pytest.mark.parametrize("exponent", [-0.5, 1.5, "0.5", None])
def test_the_handler_refuses_a_level_exponent_outside_0_to_1(tmp_path: Path, exponent: object) -> None:
    folder = write_scripted_version(
        tmp_path, CATEGORY, VERSION, window_size=N, max_horizon=1, intervals=calibration(1)
    )
    stats_file = folder / steps_module.NORM_STATS_FILE
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    stats["intervals"]["level_exponent"] = exponent
    stats_file.write_text(json.dumps(stats), encoding="utf-8")
    with pytest.raises(ValueError, match="level_exponent must be a number from 0 to 1"):
        steps_module.load_norm_stats(stats_file)


@pytest.mark.slow
def test_a_trained_archive_answers_the_total_the_manifest_gives(
    model_store_archives: dict[str, ArchiveInfo], test_settings: Settings, tmp_path: Path
) -> None:
    """A real `.mar` of the session's training: its manifest holds totals, and the handler's total is
    the one the files alone give."""
    with zipfile.ZipFile(model_store_archives["Beauty"].path) as mar:
        mar.extractall(tmp_path)
    stats = json.loads((tmp_path / steps_module.NORM_STATS_FILE).read_text(encoding="utf-8"))
    assert stats["intervals"]["total_quantiles"] is not None
    horizon = min(7, stats["max_horizon"])
    history = load_daily_sales(test_settings.data)["Beauty"]
    window = [float(value) for value in history.iloc[-stats["window_size"] :]]
    with initialized_handler(tmp_path) as handler:
        _, [answer] = run_batch(handler, tmp_path, [{"body": {"sales": window, "horizon": horizon}}])
    assert answer["total"]["days"] == horizon and len(answer["total"]["intervals"]) == 2
    assert_total_matches_reference(answer["total"], tmp_path, window)
