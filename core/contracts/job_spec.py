"""A training job's spec, `salescast train --job-spec FILE`: everything one job runs with.

Written by the gateway's job runner (or built from `salescast train`'s flags), read by the training
process; the spec replaces the command line and settings dump the two used to share. `settings` is
the whole configuration the job runs with, as the writer resolved it (file and environment), so the
training process reads no configuration of its own. A spec of another `format_version` is refused
before any other field is looked at: a newer writer's fields are not guessed at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.contracts.dataset import SHA256_PATTERN, DatasetColumns
from core.contracts.files import ContractError, describe_errors, write_contract
from core.settings import DeployPolicy, Settings

JOB_SPEC_FORMAT: Final = 1
"""The format this salescast writes and reads; raise it when a field changes meaning or is removed."""
SHARED_NETWORK_PATTERN: Final = r"^(latest|[0-9a-f]{16})$"
"""`latest`, or the 16 hex digits naming shared networks a run saved (`training.shared.shared_id`)."""


class JobDataset(BaseModel):
    """The sales file a job learns from and how to read it; its path and columns replace `data`'s.

    `dataset_id` (an upload's id, or `default` for the configured file) is recorded with each version;
    `sha256`, when given, is the file's hash when the job was queued: a file that changed since fails
    the job instead of training on other data than the job names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    dataset_id: str | None = Field(default=None, min_length=1)
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    columns: DatasetColumns


class JobSpec(BaseModel):
    """One training job: which categories (`all`: every category of the data, as `--all`), the MLflow
    experiment, the dataset (None: `settings.data`, the bundled sample written if the file is missing),
    what to do with each new version (`archive`; `deploy`: archive and hot-swap by that policy), the
    served versions to score on the new test days, the settings, and where progress and results go.
    `only_changed` trains only the categories that are new or whose data changed since their latest
    version (the others are reported `unchanged`); `shared_network` (`latest` or an id) refits each
    category's own part against shared networks a run saved, instead of training new ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = JOB_SPEC_FORMAT
    job_id: str | None = Field(default=None, min_length=1, description="the gateway's job id, if any")
    categories: list[str] | Literal["all"]
    experiment: str = Field(min_length=1)
    dataset: JobDataset | None = None
    archive: bool = True
    deploy: DeployPolicy | None = None
    compare_versions: dict[str, str] = Field(default_factory=dict)
    only_changed: bool = False
    shared_network: str | None = Field(default=None, pattern=SHARED_NETWORK_PATTERN)
    settings: Settings
    progress_path: Path | None = None
    result_path: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        if isinstance(self.categories, list):
            if not self.categories or not all(self.categories):
                raise ValueError("categories must be `all` or a non-empty list of category names")
            stray = sorted(set(self.compare_versions) - set(self.categories))
            if stray:
                raise ValueError(f"compare_versions names categories that are not being trained: {stray}")
        if self.deploy is not None and not self.archive:
            raise ValueError("deploy needs the archive that `archive: false` skips")
        return self


class JobSpecFormat(BaseModel):
    """Only the format version: read first, so a spec of another format is named as such."""

    model_config = ConfigDict(extra="ignore")

    format_version: int


def write_job_spec(path: Path, spec: JobSpec) -> Path:
    """Write the spec atomically (the training process never reads half a file)."""
    return write_contract(path, spec)


def read_job_spec(path: Path) -> JobSpec:
    """The spec at `path`; `ContractError` naming the file and the field when it is missing, not JSON,
    of another format version, or breaks the schema."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        found = JobSpecFormat.model_validate_json(text).format_version
    except ValidationError as exc:
        raise ContractError(f"{path}: not a valid JobSpec: {describe_errors(exc)}") from None
    if found != JOB_SPEC_FORMAT:
        age = "an older" if found < JOB_SPEC_FORMAT else "a newer"
        raise ContractError(
            f"{path}: format_version: {found} is {age} job spec format than this salescast reads "
            f"({JOB_SPEC_FORMAT}); write the spec with the salescast that runs it"
        )
    try:
        return JobSpec.model_validate_json(text)
    except ValidationError as exc:
        raise ContractError(f"{path}: not a valid JobSpec: {describe_errors(exc)}") from None
