"""Body of `GET /api/health`: the gateway, TorchServe and every served category's workers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ModelHealth(BaseModel):
    category: str
    model_name: str
    version: str | None
    ready_workers: int


class TorchServeHealth(BaseModel):
    status: Literal["ready", "unavailable", "not_ready"]
    detail: str | None = None
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
                        "models": [
                            {
                                "category": "Beauty",
                                "model_name": "beauty",
                                "version": "20261126.101500",
                                "ready_workers": 1,
                            }
                        ],
                    },
                }
            ]
        }
    )
