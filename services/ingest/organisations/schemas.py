from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.serialization import UtcDateTime
from shared.types import SingleLine

OrgType = Literal["E", "S", "W", "C", "D", "L", "M", "O"]
Nation = Literal["England", "Scotland", "Wales", "Northern Ireland"]
MAX_POPULATION = 1_000_000_000
POPULATION_DOC = (
    "Resident population (people), where loaded: a nearest-neighbours variable; null when not known"
)


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=2, max_length=200, description="Full name of the council or service"
    )
    type: OrgType = Field(
        description="E English unitary, S Scottish unitary, W Welsh unitary, C English county, "
        "D English district, L London borough, M Metropolitan borough, O other"
    )
    nation: Nation
    partnership: bool = Field(
        default=False, description="Service supplied through a partnership (shared or outsourced)"
    )
    users: int = Field(ge=0, le=10_000_000, description="Number of ICT users")
    population: StrictInt | None = Field(
        default=None, ge=0, le=MAX_POPULATION, description=POPULATION_DOC
    )


class OrganisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine | None = Field(default=None, min_length=2, max_length=200)
    type: OrgType | None = None
    nation: Nation | None = None
    partnership: bool | None = None
    users: int | None = Field(default=None, ge=0, le=10_000_000)
    population: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_POPULATION,
        description=POPULATION_DOC + " (null clears it; left out: unchanged)",
    )


class Organisation(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "name": "London Borough of Camden",
                    "type": "L",
                    "nation": "England",
                    "partnership": False,
                    "users": 4200,
                    "population": 210100,
                    "created_at": "2024-05-01T09:30:00Z",
                    "updated_at": "2024-05-01T09:30:00Z",
                }
            ]
        }
    )

    id: int
    name: str
    type: OrgType
    nation: Nation
    partnership: bool
    users: int
    population: int | None = Field(description=POPULATION_DOC)
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PartnersIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"partner_ids": [12, 14, 15]}]}
    )

    partner_ids: list[Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]] = Field(
        max_length=100,
        description="The partner organisations, in the order reports list them; [] for none",
    )


class Partner(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": 12, "name": "London Borough of Brent", "type": "L", "position": 0}]
        }
    )

    id: int
    name: str
    type: OrgType
    position: int = Field(description="Order in which reports list the partners (0 first)")
