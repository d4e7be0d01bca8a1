from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.ingest.tickets.profiles import PROFILES
from shared.tickets import MAPPED_FIELDS
from shared.types import SingleLine

ImportStatus = Literal["queued", "processing", "done", "failed"]
FileFormat = Literal["csv", "jsonl"]
# PostgreSQL text cannot hold NUL, so it is refused here (422) rather than by the driver.
NO_NUL = r"^[^\x00]*$"
Key = Annotated[SingleLine, Field(max_length=200, pattern=NO_NUL)]

if TYPE_CHECKING:
    CanonicalField = str
else:
    # The fields a file column may map to, from the ticket declaration (shared/tickets.py):
    # the enum of the mapping API.
    CanonicalField = Literal[MAPPED_FIELDS]


class ImportProgress(BaseModel):
    rows_read: int = Field(description="Data rows read so far (header excluded)")
    rows_accepted: int = Field(description="Rows that passed validation")
    rows_rejected: int = Field(description="Rows rejected; each is listed under errors")
    rows_inserted: int = Field(description="Accepted rows that created a ticket")
    rows_updated: int = Field(description="Accepted rows that changed a stored ticket")
    rows_unchanged: int = Field(description="Accepted rows identical to the stored ticket")
    warnings: int = Field(description="Row warnings (kept rows), listed under errors")
    duplicates_merged: int = Field(description="Identical repeated rows merged silently")
    replaced_characters: int = Field(
        description="Undecodable bytes replaced by U+FFFD (mixed encodings)"
    )


class TicketImport(BaseModel):
    id: int
    status: ImportStatus
    organisation_id: int | None
    source_system: str
    profile: str
    mapping_id: int | None
    file_format: FileFormat
    bytes_received: int = Field(description="Bytes of the uploaded file")
    encoding: str | None = Field(
        description="Detected: utf-8, utf-8-sig, cp1252, utf-16-le or utf-16-be"
    )
    progress: ImportProgress
    failure: str | None = Field(
        description="Why the whole file failed, when it did, and what to do about it"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    errors_url: str


class RowError(BaseModel):
    row: int = Field(description="Row as a spreadsheet shows it (CSV header = row 1)")
    column: str | None
    code: str
    message: str
    severity: Literal["error", "warning"]
    related_row: int | None


class ProfileInfo(BaseModel):
    name: str
    columns: dict[str, list[str]] = Field(description="Canonical field → accepted headers")
    default_type: str | None


class MappingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(min_length=1, max_length=100, pattern=NO_NUL)
    base_profile: str | None = Field(
        default=None,
        max_length=50,
        description="A ready profile this mapping extends",
        json_schema_extra={"enum": ["yardstick", *PROFILES, None]},
    )
    columns: dict[Key, CanonicalField] = Field(
        description="Source column header → canonical field", min_length=1
    )
    priority_map: dict[Key, Literal["P0", "P1", "P2", "P3", "P4"]] = {}
    type_map: dict[Key, Literal["incident", "request"]] = {}
    status_map: dict[Key, Literal["new", "open", "on_hold", "resolved", "closed", "cancelled"]] = {}
    default_type: Literal["incident", "request"] | None = None


class Mapping(MappingCreate):
    model_config = ConfigDict(extra="ignore")

    # Output: stored values are read back as they are (input checks apply to MappingCreate).
    name: str
    columns: dict[str, CanonicalField] = Field(description="Source column header → canonical field")
    priority_map: dict[str, Literal["P0", "P1", "P2", "P3", "P4"]] = {}
    type_map: dict[str, Literal["incident", "request"]] = {}
    status_map: dict[str, Literal["new", "open", "on_hold", "resolved", "closed", "cancelled"]] = {}

    id: int
    organisation_id: int
    created_at: datetime


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: SingleLine = Field(min_length=1, max_length=200, pattern=NO_NUL)
    kind: Literal["hold", "reopen"] = Field(
        description="hold: the ticket was on hold; reopen: from a resolution to the reopening"
    )
    start: AwareDatetime = Field(description="ISO 8601 with offset")
    end: AwareDatetime | None = Field(default=None, description="null: still on hold")


class IntervalsReplace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=2_147_483_647)
    source_system: SingleLine = Field(min_length=1, max_length=100, pattern=NO_NUL)
    intervals: list[Interval] = Field(
        max_length=50_000,
        description="Replaces every interval of the tickets named here",
    )


class IntervalsResult(BaseModel):
    tickets: int
    intervals: int
