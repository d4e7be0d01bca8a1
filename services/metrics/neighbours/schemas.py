"""Nearest neighbours and saved peer groups as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime
from shared.types import SingleLine

_PAGE: dict[str, Any] = {"total": 1, "limit": 500, "offset": 0, "next": None}

ROW_EXAMPLE: dict[str, Any] = {
    "organisation_code": "L2031",
    "cycle_year": 2021,
    "position": 1,
    "peer_code": "L2047",
    "distance": 0.3780,
    "contributions": {"users": 0.0, "revenue_spend": 0.0, "type": 0.3780, "nation": 0.0},
}


class NeighbourRow(BaseModel):
    """One suggested peer: its code, its distance (rebased: the farthest organisation of
    the cycle is 1) and each variable's contribution (they add up to the distance)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ROW_EXAMPLE]})

    organisation_code: str | None = Field(description="Your anonymous code in this cycle")
    cycle_year: int
    position: int = Field(description="1 = nearest")
    peer_code: str
    distance: float = Field(description="0 = identical; 1 = the farthest organisation")
    contributions: dict[str, float] = Field(description="Variable key → its part of the distance")


class NeighbourVariable(BaseModel):
    key: str
    label: str
    source: Literal["question", "attribute"]
    name: str
    weight: float
    compare: Literal["value", "same"]
    where_loaded: bool = Field(
        description="A value not every organisation has: left out when one compared lacks it"
    )
    used: bool = Field(description="Used in this suggestion (see notes when not)")


class Neighbours(Page[NeighbourRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": 12,
                    "organisation_code": "L2031",
                    "cycle_year": 2021,
                    "count": 15,
                    "candidates": 40,
                    "excluded": 2,
                    "variables": [
                        {
                            "key": "type",
                            "label": "Same organisation type",
                            "source": "attribute",
                            "name": "type",
                            "weight": 1.0,
                            "compare": "same",
                            "where_loaded": False,
                            "used": True,
                        }
                    ],
                    "notes": [],
                    "method": "z-scores over the cycle's organisations; distance √Σ w(z − z′)²",
                    "items": [ROW_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    organisation_id: int
    organisation_code: str | None
    cycle_year: int
    count: int = Field(description="Neighbours asked for")
    candidates: int = Field(description="Organisations compared")
    excluded: int = Field(description="Organisations left out for a missing value")
    variables: list[NeighbourVariable]
    notes: list[str] = Field(description="Variables left out of this suggestion, and why")
    method: str


class SavePeerGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=2_147_483_647)
    cycle: int = Field(ge=2000, le=2100, description="Cycle (collection year)")
    name: SingleLine = Field(min_length=1, max_length=200)
    count: int = Field(default=15, ge=1, le=100, description="Neighbours to keep")


SAVED_EXAMPLE: dict[str, Any] = {
    "id": 4,
    "organisation_id": 12,
    "cycle_year": 2021,
    "name": "Nearest 15, 2021",
    "method": "nearest_neighbours",
    "peer_group_key": "saved:4",
    "member_codes": ["L2031", "L2047", "M2012"],
    "distances": {"L2047": 0.378, "M2012": 0.5345},
    "created_by": "participant@camden.gov.uk",
    "created_at": "2024-05-02T14:05:00Z",
}


class SavedPeerGroup(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SAVED_EXAMPLE]})

    id: int
    organisation_id: int
    cycle_year: int
    name: str
    method: str
    peer_group_key: str = Field(description="Use as peer_group in results")
    member_codes: list[str] = Field(description="The organisation first, then its neighbours")
    distances: dict[str, float] = Field(description="Each neighbour's distance, by code")
    created_by: str
    created_at: UtcDateTime
