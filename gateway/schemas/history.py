"""Body of `GET /api/history/{category}`: the daily series the models learn from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class History(BaseModel):
    category: str
    start: str | None = Field(description="First day returned (YYYY-MM-DD); null when empty.")
    end: str | None
    days: int
    dates: list[str]
    sales: list[float]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "Beauty",
                    "start": "2024-12-29",
                    "end": "2024-12-31",
                    "days": 3,
                    "dates": ["2024-12-29", "2024-12-30", "2024-12-31"],
                    "sales": [1200.0, 0.0, 845.0],
                }
            ]
        }
    )
