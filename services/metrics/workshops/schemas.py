from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime

_VIEW: dict[str, Any] = {
    "id": 31,
    "workshop_id": 4,
    "subject": "j.smith@camden.gov.uk",
    "organisation_id": 12,
    "resource": "/api/v1/results/distribution?organisation_id=12&cycle=2026"
    "&metric=users_per_ict_fte",
    "named_organisations": [12, 15, 19],
    "viewed_at": "2026-06-10T09:14:03Z",
}


class NamedViewRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_VIEW]})

    id: int
    workshop_id: int
    subject: str = Field(description="Who: the principal's subject (user or API key)")
    organisation_id: int = Field(description="The consenting member they viewed as")
    resource: str = Field(description="What: the request's path and query")
    named_organisations: list[int] = Field(description="Whose names the response showed")
    viewed_at: UtcDateTime = Field(description="When")


class NamedViews(Page[NamedViewRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_VIEW], "total": 1, "limit": 500, "offset": 0, "next": None}]
        }
    )
