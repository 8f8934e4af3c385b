"""Body of `GET /api/health`: the gateway, TorchServe and every served category's workers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelHealth(BaseModel):
    category: str
    model_name: str
    version: str | None
    ready_workers: int
    loaded: bool = Field(description="Holds a worker now; false: archived, loads on its first request.")


class TorchServeHealth(BaseModel):
    status: Literal["ready", "unavailable", "not_ready"]
    detail: str | None = None
    loaded: int = Field(default=0, ge=0, description="Categories whose served version holds a worker.")
    archived: int = Field(default=0, ge=0, description="Categories registered without one (load on demand).")
    max_loaded_models: int | None = Field(default=None, description="The memory budget in versions.")
    models: list[ModelHealth] = []


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    gateway: Literal["ok"] = "ok"
    torchserve: TorchServeHealth

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "gateway": "ok",
                    "torchserve": {
                        "status": "ready",
                        "detail": None,
                        "loaded": 1,
                        "archived": 0,
                        "max_loaded_models": None,
                        "models": [
                            {
                                "category": "Beauty",
                                "model_name": "beauty",
                                "version": "20261126.101500",
                                "ready_workers": 1,
                                "loaded": True,
                            }
                        ],
                    },
                }
            ]
        }
    )
