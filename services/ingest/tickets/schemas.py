from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.ingest.tickets.profiles import PROFILES
from shared.serialization import UtcDateTime
from shared.tickets import MAPPED_FIELDS
from shared.types import IsoAwareDateTime, SingleLine

ImportStatus = Literal["queued", "processing", "done", "failed"]
FileFormat = Literal["csv", "jsonl", "json"]
ImportContent = Literal["tickets", "history"]
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 15,
                    "status": "done",
                    "organisation_id": 12,
                    "source_system": "servicenow-prod",
                    "profile": "servicenow",
                    "mapping_id": None,
                    "file_format": "csv",
                    "bytes_received": 3481920,
                    "encoding": "utf-8",
                    "progress": {
                        "rows_read": 14941,
                        "rows_accepted": 14930,
                        "rows_rejected": 11,
                        "rows_inserted": 14800,
                        "rows_updated": 120,
                        "rows_unchanged": 10,
                        "warnings": 3,
                        "duplicates_merged": 2,
                        "replaced_characters": 0,
                    },
                    "failure": None,
                    "created_at": "2024-05-01T09:30:00Z",
                    "started_at": "2024-05-01T09:30:01Z",
                    "finished_at": "2024-05-01T09:30:09Z",
                    "errors_url": "https://yardstick.example.gov.uk/api/v1/ticket-imports/15/errors",
                    "content": "tickets",
                    "touched_months": {"12": ["2024-03", "2024-04"]},
                    "computation_run_id": 88,
                    "figures_ready_at": "2024-05-01T09:30:12Z",
                }
            ]
        }
    )

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
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    errors_url: str
    content: ImportContent = Field(
        default="tickets",
        description="tickets (histories embedded in JSON records included), or history: the "
        "events of tickets already stored (a second file of the export)",
    )
    touched_months: dict[str, list[str]] | None = Field(
        default=None,
        description="Organisation id → local months (YYYY-MM) of the tickets the import "
        "inserted or changed: what its recompute covers (once done)",
    )
    computation_run_id: int | None = Field(
        default=None, description="The SLA computation run that first included the import"
    )
    figures_ready_at: UtcDateTime | None = Field(
        default=None,
        description="When the SLA figures include the import: that run's end, or the "
        "import's end when it changed nothing to recompute; null until then",
    )


class RowError(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "row": 18,
                    "column": "priority",
                    "code": "unknown_priority",
                    "message": "Priority '6 - Planning' is not one of the profile's "
                    "priorities; map it with a ticket mapping.",
                    "severity": "error",
                    "related_row": None,
                }
            ]
        }
    )

    row: int = Field(description="Row as a spreadsheet shows it (CSV header = row 1)")
    column: str | None
    code: str
    message: str
    severity: Literal["error", "warning"]
    related_row: int | None


class ProfileInfo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "servicenow",
                    "columns": {
                        "organisation": ["company", "company.display_value"],
                        "ticket_ref": ["number"],
                        "priority": ["priority"],
                        "logged_at": ["opened_at", "sys_created_on"],
                    },
                    "default_type": "incident",
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "name": "Hornbill export",
                    "base_profile": "hornbill",
                    "columns": {
                        "Reference": "ticket_ref",
                        "Priority": "priority",
                        "Logged": "logged_at",
                    },
                    "priority_map": {"Critical": "P1", "High": "P2"},
                    "type_map": {},
                    "status_map": {},
                    "default_type": "incident",
                    "id": 2,
                    "organisation_id": 12,
                    "created_at": "2024-05-01T09:30:00Z",
                }
            ]
        },
    )

    # Output: stored values are read back as they are (input checks apply to MappingCreate).
    name: str
    columns: dict[str, CanonicalField] = Field(description="Source column header → canonical field")
    priority_map: dict[str, Literal["P0", "P1", "P2", "P3", "P4"]] = {}
    type_map: dict[str, Literal["incident", "request"]] = {}
    status_map: dict[str, Literal["new", "open", "on_hold", "resolved", "closed", "cancelled"]] = {}

    id: int
    organisation_id: int
    created_at: UtcDateTime


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: SingleLine = Field(min_length=1, max_length=200, pattern=NO_NUL)
    kind: Literal["hold", "reopen"] = Field(
        description="hold: the ticket was on hold; reopen: from a resolution to the reopening"
    )
    start: IsoAwareDateTime = Field(description="ISO 8601 with offset")
    end: IsoAwareDateTime | None = Field(default=None, description="null: still on hold")


class IntervalsReplace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=2_147_483_647)
    source_system: SingleLine = Field(min_length=1, max_length=100, pattern=NO_NUL)
    intervals: list[Interval] = Field(
        max_length=50_000,
        description="Replaces every interval of the tickets named here",
    )


class IntervalsResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tickets": 3, "intervals": 5}]})

    tickets: int
    intervals: int
