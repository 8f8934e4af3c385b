"""The handler inside a `.mar` runs on the archive's own copy of its steps, not on the repository's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from serving.archive import archive_version
from tests.conftest import make_test_settings
from tests.handlers.scripted_artifacts import write_scripted_version

VERSION = "20250102.030405"

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
from pathlib import Path
import torch
import forecast_handler
from ts.context import Context
handler = forecast_handler.ForecastHandler()
handler.initialize(Context("beauty", ".", {"model": {}}, 1, None, "0.12.0"))
paths = forecast_handler.steps.forecast_paths(handler.model, [[300.0] * 14], handler.stats, 1)
print(json.dumps({"steps": forecast_handler.steps.__file__, "prediction": float(paths[0, 0])}))
"""


def test_an_extracted_archive_imports_its_own_steps(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION)
    info = archive_version(settings, "Beauty", VERSION)
    model_dir = tmp_path / "extracted"
    with zipfile.ZipFile(info.path) as archive:
        archive.extractall(model_dir)
    assert (model_dir / "forecast_steps.py").is_file()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # TorchServe's worker puts the model dir first on sys.path; so does `-c` with cwd = model dir
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=model_dir, env=env, capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(answer["steps"]).resolve() == (model_dir / "forecast_steps.py").resolve()
    assert isinstance(answer["prediction"], float)
