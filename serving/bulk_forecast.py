"""Forecast many categories in one batch process, from their served archives, without TorchServe.

`python -m serving.bulk_forecast` reads a `BulkForecastJob` (`core.contracts.bulk_forecast`) on stdin
and writes its `BulkForecastAnswer` on stdout. The gateway starts it for `POST /api/forecast_batch`,
so a forecast of 300 categories neither loads 300 TorchServe workers nor evicts the hot ones.

The numbers come from the one inference path: each archive's model.pt and norm_stats.json are
unpacked into a temporary folder and run through `handlers.forecast_steps` exactly as the handler
runs a TorchServe batch (`parse_batch` → `forecast_paths` → `answer_batch`), so a bulk forecast
equals the served one. Archives are opened one after another and each model is dropped before the
next: memory stays at one model whatever the number of categories. One torch thread, as a worker.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from core.contracts.bulk_forecast import (
    BulkForecastAnswer,
    BulkForecastJob,
    BulkItem,
    BulkOutcome,
    decode_job,
    encode_answer,
)
from core.contracts.files import ContractError
from handlers import forecast_steps as steps
from handlers import request_parsing

log = logging.getLogger(__name__)
UNPROCESSABLE = 422
UNAVAILABLE = 503
_MEMBERS = (steps.MODEL_FILE, steps.NORM_STATS_FILE)


class ArchiveUnreadableError(Exception):
    """An archive is missing, not a zip, lacks model.pt or norm_stats.json, or they do not load."""


def run_job(job: BulkForecastJob) -> BulkForecastAnswer:
    """Every item's outcome, in the job's order; one item's failure never stops the others."""
    started = time.perf_counter()
    outcomes: list[BulkOutcome | None] = [None] * len(job.items)
    by_archive: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(job.items):
        by_archive[item.archive].append(index)
    for archive, indexes in by_archive.items():
        items = [job.items[index] for index in indexes]
        for index, outcome in zip(indexes, forecast_archive(Path(archive), items, job), strict=True):
            outcomes[index] = outcome
    done = [outcome for outcome in outcomes if outcome is not None]
    return BulkForecastAnswer(outcomes=done, seconds=round(time.perf_counter() - started, 4))


def forecast_archive(archive: Path, items: Sequence[BulkItem], job: BulkForecastJob) -> list[BulkOutcome]:
    """The outcomes of `items`, all served by `archive`: loaded once, forecast as one handler batch,
    dropped on return."""
    try:
        with tempfile.TemporaryDirectory(prefix="salescast-bulk-") as folder:
            model, stats = load_archive(archive, Path(folder))
    except ArchiveUnreadableError as exc:
        return [BulkOutcome(category=item.category, status=UNAVAILABLE, error=str(exc)) for item in items]
    window = int(stats["window_size"])
    outcomes: list[BulkOutcome | None] = [None] * len(items)
    requests: list[dict[str, Any]] = []
    asked: list[int] = []
    launched = stats.get("fallback") is not None  # a classical-only version: see below
    for index, item in enumerate(items):
        if len(item.sales) < window and not (launched and item.sales):
            message = (
                f"{item.category} has {len(item.sales)} days of history; the served model needs {window}"
            )
            outcomes[index] = BulkOutcome(category=item.category, status=UNPROCESSABLE, error=message)
            continue
        # A category launched less than a window ago reads its window from the first sale on: the
        # days before its history go in as the zeros they were (as GET /api/forecast does).
        sales = [0.0] * (window - len(item.sales)) + list(item.sales[-window:])
        body: dict[str, Any] = {"sales": sales, "horizon": job.horizon}
        if job.levels is not None:
            body["levels"] = job.levels
        if item.last_date is not None:
            body["last_date"] = item.last_date
        requests.append({"body": body})
        asked.append(index)
    if requests:
        batch = request_parsing.parse_batch(requests, stats)
        paths = steps.forecast_paths(model, batch.windows, stats, batch.horizon, batch.weekdays)
        for index, (status, answer) in zip(asked, steps.answer_batch(batch, paths, stats), strict=True):
            outcomes[index] = outcome_of(items[index].category, status, answer, stats)
    del model
    return [outcome for outcome in outcomes if outcome is not None]


def load_archive(archive: Path, folder: Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """model.pt and norm_stats.json of a `.mar`, unpacked into `folder` and loaded by the handler's steps."""
    try:
        with zipfile.ZipFile(archive) as mar:
            for member in _MEMBERS:
                mar.extract(member, folder)
        stats = steps.load_norm_stats(folder / steps.NORM_STATS_FILE)
        model = steps.load_model(folder / steps.MODEL_FILE)
    except FileNotFoundError:
        raise ArchiveUnreadableError(
            f"archive {archive.name} is not in the model store {archive.parent}"
        ) from None
    except KeyError as exc:
        raise ArchiveUnreadableError(f"archive {archive.name} lacks {exc.args[0]}") from None
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError) as exc:
        raise ArchiveUnreadableError(f"archive {archive.name} cannot be read: {exc}") from None
    return model, stats


def outcome_of(category: str, status: int, answer: dict[str, Any], stats: dict[str, Any]) -> BulkOutcome:
    """The handler's (status, answer) as an outcome; its 400 for a request the version refuses (a
    horizon beyond its reach) is a 422 here, as the gateway answers it."""
    if status != 200:
        error = f"{category} model {stats['version']}: {answer['error']}"
        return BulkOutcome(category=category, status=UNPROCESSABLE, error=error)
    return BulkOutcome.model_validate(
        {
            "category": category,
            "status": 200,
            "model_version": answer["model_version"],
            "window_size": answer["window_size"],
            "forecast": answer["forecast"],
            "total": answer.get("total"),
            "calendar": answer.get("calendar"),
        }
    )


def main() -> int:
    """Read the job on stdin, write the answer on stdout; exit 2 when stdin holds no job."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    torch.set_num_threads(1)
    try:
        job = decode_job(sys.stdin.buffer.read())
    except ContractError as exc:
        print(f"bulk forecast: {exc}", file=sys.stderr)
        return 2
    answer = run_job(job)
    sys.stdout.buffer.write(encode_answer(answer))
    sys.stdout.buffer.flush()
    failed = sum(outcome.status != 200 for outcome in answer.outcomes)
    log.info("bulk forecast items=%d failed=%d seconds=%.3f", len(answer.outcomes), failed, answer.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
