from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import SingleLine

Role = Literal["admin", "participant", "partner", "reader"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1, max_length=200, description="What the key is for, e.g. 'Power BI'"
    )
    role: Role = "reader"
    organisations: list[int] = Field(
        default_factory=list, max_length=1000, description="Organisation ids the key may see"
    )
    expires_at: datetime | None = Field(default=None, description="When the key stops working")


class ApiKey(BaseModel):
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
    key: str = Field(description="The key itself; shown once, store it now")
