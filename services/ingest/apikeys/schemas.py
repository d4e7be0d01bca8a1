from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import IsoDateTime, SingleLine

Role = Literal["admin", "participant", "partner", "reader"]

KEY_EXAMPLE: dict[str, Any] = {
    "id": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
    "prefix": "k7Qm2x",
    "name": "Power BI",
    "role": "reader",
    "organisations": [12],
    "created_by": "admin@example.gov.uk",
    "created_at": "2024-05-01T09:30:00Z",
    "expires_at": "2025-05-01T00:00:00Z",
    "revoked_at": None,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1, max_length=200, description="What the key is for, e.g. 'Power BI'"
    )
    role: Role = "reader"
    organisations: list[int] = Field(
        default_factory=list, max_length=1000, description="Organisation ids the key may see"
    )
    expires_at: IsoDateTime | None = Field(default=None, description="When the key stops working")


class ApiKey(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [KEY_EXAMPLE]})

    id: uuid.UUID
    prefix: str
    name: str
    role: Role
    organisations: list[int]
    created_by: str
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class ApiKeyCreated(ApiKey):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**KEY_EXAMPLE, "key": "ys_k7Qm2x_Zp4rW9tVb3nQ8sLd2fXc6hJ1"}]
        }
    )

    key: str = Field(description="The key itself; shown once, store it now")
