"""GET /api/models/{category}/versions/{version}/plots/{name}: the PNGs saved with a trained version.

Training saves `loss.png` (train/validation loss per epoch) and `forecast.png` (the test segment:
actual vs the model and seasonal naive) beside every version's model; the Train tab shows them when a
job ends, whether or not the version was deployed. Only those two names and well-formed versions are
served, from `paths.artifacts`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

from core.artifacts import FORECAST_PLOT_FILE, LOSS_PLOT_FILE, is_version, version_dir
from core.slugs import SlugError
from gateway.deps import ApiKeyDep, SettingsDep
from gateway.errors import NotFoundError
from gateway.routes.responses import errors

router = APIRouter(tags=["models"], dependencies=[ApiKeyDep])
_FILES = {"loss": LOSS_PLOT_FILE, "forecast": FORECAST_PLOT_FILE}


@router.get(
    "/models/{category}/versions/{version}/plots/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "The PNG"}, **errors(401, 403, 404, 422)},
)
async def version_plot(
    category: str, version: str, name: Literal["loss", "forecast"], settings: SettingsDep
) -> FileResponse:
    """`loss` or `forecast` plot of one trained version (deployed or not)."""
    if not is_version(version):
        raise NotFoundError(f"{version!r} is not a version (expected YYYYMMDD.HHMMSS)")
    try:
        path = version_dir(settings, category, version) / _FILES[name]
    except SlugError as exc:
        raise NotFoundError(str(exc)) from None
    if not path.is_file():
        raise NotFoundError(f"{category} has no trained version {version} with a {name} plot")
    return FileResponse(path, media_type="image/png")
