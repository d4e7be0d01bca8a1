from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared.serialization import UtcDateTime
from shared.types import IsoDate

CycleStatus = Literal["open", "closed", "published"]

CODE_EXAMPLE: dict[str, Any] = {"cycle_id": 3, "organisation_id": 12, "code": "L21a7"}


class CycleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(
        ge=2000, le=2100, description="Collection year; data describe the year before"
    )
    status: CycleStatus = "open"
    results_release_date: IsoDate | None = Field(
        default=None, description="When results are released; participants' access lasts 12 months"
    )
    submission_deadline: IsoDate | None = Field(
        default=None, description="Submissions are due by the end of this day (data quality)"
    )


class CycleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CycleStatus | None = None
    results_release_date: IsoDate | None = None
    submission_deadline: IsoDate | None = None


class Cycle(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "year": 2021,
                    "status": "open",
                    "results_release_date": "2021-11-01",
                    "submission_deadline": "2021-06-30",
                    "created_at": "2024-05-01T09:30:00Z",
                    "updated_at": "2024-05-01T09:30:00Z",
                    "data_year": "2020/21",
                }
            ]
        }
    )

    id: int
    year: int
    status: CycleStatus
    results_release_date: date | None
    submission_deadline: date | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def data_year(self) -> str:
        """The financial year the cost, estate and performance data describe, e.g. 2019/20."""
        return f"{self.year - 1}/{self.year % 100:02d}"


class OrganisationCode(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CODE_EXAMPLE]})

    cycle_id: int
    organisation_id: int
    code: str = Field(description="Anonymous code TYYxx, with ' (P)' for a partnership")


class OrganisationCodeAdmin(OrganisationCode):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**CODE_EXAMPLE, "organisation_name": "London Borough of Camden"}]
        }
    )

    organisation_name: str
