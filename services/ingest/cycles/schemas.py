from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared.serialization import UtcDateTime
from shared.types import IsoDate

CycleStatus = Literal["open", "closed", "published"]


class CycleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(
        ge=2000, le=2100, description="Collection year; data describe the year before"
    )
    status: CycleStatus = "open"
    results_release_date: IsoDate | None = Field(
        default=None, description="When results are released; participants' access lasts 12 months"
    )


class CycleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CycleStatus | None = None
    results_release_date: IsoDate | None = None


class Cycle(BaseModel):
    id: int
    year: int
    status: CycleStatus
    results_release_date: date | None
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def data_year(self) -> str:
        """The financial year the cost, estate and performance data describe, e.g. 2019/20."""
        return f"{self.year - 1}/{self.year % 100:02d}"


class OrganisationCode(BaseModel):
    cycle_id: int
    organisation_id: int
    code: str = Field(description="Anonymous code TYYxx, with ' (P)' for a partnership")


class OrganisationCodeAdmin(OrganisationCode):
    organisation_name: str
