from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.types import IsoDate, SingleLine

Kind = Literal["user_satisfaction", "user_skills", "sdma"]
Attribute = Literal["location", "device_type", "mode_of_working", "role"]
ALL_ATTRIBUTES: list[Attribute] = ["location", "device_type", "mode_of_working", "role"]
OptionList = list[str]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=2_147_483_647)
    kind: Kind
    title: SingleLine | None = Field(default=None, min_length=3, max_length=200)
    cycle_id: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="Benchmark cycle this survey feeds"
    )
    opens_on: IsoDate | None = Field(
        default=None, description="First day (Europe/London); default today"
    )
    closes_on: IsoDate | None = Field(
        default=None, description="Last day (Europe/London), inclusive; default four weeks"
    )
    users_in_scope: int = Field(ge=0, le=10_000_000, description="Response-rate denominator")
    reminder_count: int = Field(default=2, ge=0, le=5)
    reminder_interval_days: int = Field(default=7, ge=1, le=60)
    retention_days: int = Field(
        default=30, ge=0, le=365, description="Days after close before addresses are erased"
    )
    attribute_options: dict[Attribute, list[SingleLine]] = Field(
        default_factory=dict, description="The organisation's own option lists per attribute"
    )
    breakdown_attributes: list[Attribute] | None = Field(
        default=None, description="Attributes asked (user satisfaction); default all four"
    )
    comments_enabled: bool = True
    suppression_threshold: int | None = Field(
        default=None, ge=5, le=1000, description="Breakdown cell minimum; never below the setting"
    )


class CampaignUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: SingleLine | None = Field(default=None, min_length=3, max_length=200)
    opens_on: IsoDate | None = None
    closes_on: IsoDate | None = None
    users_in_scope: int | None = Field(default=None, ge=0, le=10_000_000)
    reminder_count: int | None = Field(default=None, ge=0, le=5)
    reminder_interval_days: int | None = Field(default=None, ge=1, le=60)
    retention_days: int | None = Field(default=None, ge=0, le=365)
    attribute_options: dict[Attribute, list[SingleLine]] | None = None
    breakdown_attributes: list[Attribute] | None = None
    comments_enabled: bool | None = None
    suppression_threshold: int | None = Field(default=None, ge=5, le=1000)


class MailProblem(BaseModel):
    reason: str = Field(description="What stops the mail going out and how to put it right")
    kind: Literal["invitation", "reminder"] = Field(description="The message that failed")
    failed_at: datetime


class Campaign(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "organisation_id": 12,
                    "cycle_id": 3,
                    "kind": "user_satisfaction",
                    "title": "ICT user satisfaction survey 2024",
                    "opens_on": "2024-06-03",
                    "closes_on": "2024-06-28",
                    "opens_at": "2024-06-02T23:00:00Z",
                    "closes_at": "2024-06-28T23:00:00Z",
                    "users_in_scope": 4200,
                    "reminder_count": 2,
                    "reminder_interval_days": 7,
                    "retention_days": 30,
                    "attribute_options": {"location": ["Town Hall", "Crowndale Centre", "Home"]},
                    "breakdown_attributes": ["location", "device_type", "mode_of_working", "role"],
                    "comments_enabled": True,
                    "suppression_threshold": 10,
                    "status": "live",
                    "anonymity_locked": True,
                    "recipients": 4180,
                    "mail_failed_count": 0,
                    "mail_problem": None,
                    "first_sent_at": "2024-06-03T08:00:00Z",
                    "closed_at": None,
                    "addresses_erased_at": None,
                    "created_at": "2024-05-20T10:15:00Z",
                    "updated_at": "2024-06-03T08:00:00Z",
                }
            ]
        }
    )

    id: int
    organisation_id: int
    cycle_id: int | None
    kind: Kind
    title: str
    opens_on: date
    closes_on: date
    opens_at: datetime = Field(description="Opening instant (00:00 Europe/London), UTC")
    closes_at: datetime = Field(description="Closing instant (24:00 Europe/London), UTC")
    users_in_scope: int
    reminder_count: int
    reminder_interval_days: int
    retention_days: int
    attribute_options: dict[str, list[str]]
    breakdown_attributes: list[str]
    comments_enabled: bool
    suppression_threshold: int
    status: Literal["draft", "live", "closed"]
    anonymity_locked: bool = Field(description="True once the first invitation was sent")
    recipients: int = Field(description="Distinct addresses on the list (not who responded)")
    mail_failed_count: int = Field(
        description="Messages (invitations and reminders) that could not be built, so were "
        "never sent; their recipients got nothing"
    )
    mail_problem: MailProblem | None = Field(
        description="The latest message that could not be built, with the reason; null if "
        "every message could be built"
    )
    first_sent_at: datetime | None
    closed_at: datetime | None
    addresses_erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RowProblem(BaseModel):
    row: int = Field(description="CSV line (header = 1) or JSON item number; 0 = the file")
    code: str = Field(description="Stable code, e.g. unknown_columns")
    message: str


class DuplicateRow(BaseModel):
    row: int
    first_row: int


class RecipientUploadResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": 4182,
                    "new": 4180,
                    "merged": 2,
                    "invalid": 1,
                    "duplicates": [{"row": 311, "first_row": 12}],
                    "warnings": [
                        {
                            "row": 1,
                            "code": "unknown_columns",
                            "message": "column(s) name ignored; expected email, location, role",
                        }
                    ],
                    "recipients": 4180,
                }
            ]
        }
    )

    rows: int = Field(description="Recipient rows read (valid ones)")
    new: int = Field(description="Addresses added to the campaign")
    merged: int = Field(description="Rows merged with an address already on the list or file")
    invalid: int
    duplicates: list[DuplicateRow]
    warnings: list[RowProblem]
    recipients: int = Field(description="Distinct addresses on the list after this upload")


class SendResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"queued": 4180, "status": "live"}]})

    queued: int = Field(description="Invitations queued for sending by this request")
    status: Literal["draft", "live", "closed"]


class BounceReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[SingleLine] = Field(min_length=1, max_length=10_000)
    kind: Literal["bounce", "opt_out"] = "bounce"


class BounceResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"matched": 12, "unmatched": 1, "invalid": 0}]}
    )

    matched: int
    unmatched: int
    invalid: int
