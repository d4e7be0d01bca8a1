"""A ticket, declared once: its canonical fields, their types and what each one means.

Ingest reads a service desk's ticket export into rows of these fields, stores them in the
``tickets`` table and metrics reads them back to compute SLA figures. Everything that lists
the fields is derived from ``TICKET_FIELDS`` below, so nothing can drift:

* the ``tickets`` table's canonical columns (``table_columns``, used by
  ``shared/db/tables/ingest_tickets.py``; the migrations must agree with it, and a test
  compares them);
* the frame the ingest parser yields (``parsed_schema``) and the fields a profile or a
  custom mapping may map a file column to (``MAPPED_FIELDS``, also the mapping API's enum);
* the columns a batch is staged and upserted with (``STORED_COLUMNS``, ``TICKET_KEY``);
* the ticket frame metrics reads for the SLA engine (``FACT_FIELDS`` plus the key).

The fields
----------
Each ``TicketField`` below says what it means. Three of them identify a ticket (the primary
key of ``tickets``): ``organisation_id``, ``source_system`` and ``ticket_ref``.
``ticket_ref`` is the ticket's reference in its source system, as the export shows it, and
nothing else: it is stored in the column ``reference`` (as in ``ticket_intervals`` and
``sla_outcomes``), and the one key metrics builds from source system and reference is
called ``ticket_key``. The ``fact`` fields are what a ticket says about itself and what
metrics reads; ``source_row`` and the ``flag_*`` fields are the parser's bookkeeping.

Types
-----
Each field has a ``kind``; a kind names one SQL type and one Polars dtype (``_SQL`` and
``_polars_dtype``). Polars is imported only when a frame's dtype is asked for, so the table
definitions (which every service and Alembic load) do not pull it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Boolean, Column, DateTime, Integer, SmallInteger, Text
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    import polars as pl

Kind = Literal["text", "integer", "rating", "boolean", "instant", "row_number"]
Role = Literal["key", "fact", "flag", "row"]

_SQL: dict[Kind, Callable[[], TypeEngine[Any]] | None] = {
    "text": Text,
    "integer": Integer,
    "rating": SmallInteger,
    "boolean": Boolean,
    "instant": lambda: DateTime(timezone=True),
    "row_number": None,  # never stored
}


def _polars_dtype(kind: Kind) -> pl.DataType:
    import polars as pl

    dtypes: dict[Kind, pl.DataType] = {
        "text": pl.Utf8(),
        "integer": pl.Int32(),
        "rating": pl.Int8(),
        "boolean": pl.Boolean(),
        "instant": pl.Datetime("us", "UTC"),
        "row_number": pl.Int64(),
    }
    return dtypes[kind]


@dataclass(frozen=True)
class TicketField:
    """One canonical field of a ticket."""

    name: str
    """Its name in every frame of tickets (parser output, SLA engine input)."""
    kind: Kind
    role: Role
    nullable: bool
    """Whether a stored ticket may lack it (an accepted row never lacks a non-null field)."""
    meaning: str
    stored: bool = True
    """Whether ``tickets`` keeps it."""
    column_name: str | None = None
    """The stored column when it is not called ``name``."""
    mapped_as: str | None = None
    """The canonical name a profile or custom mapping maps a file column to; None when the
    field does not come from a file column."""
    parsed_kind: Kind | None = None
    """The parser's kind when it differs from the stored one."""
    server_default: str | None = None

    @property
    def column(self) -> str:
        return self.column_name or self.name

    @property
    def dtype(self) -> pl.DataType:
        """The Polars dtype of the stored value (and of the field in metrics' frames)."""
        return _polars_dtype(self.kind)

    @property
    def parsed_dtype(self) -> pl.DataType:
        """The Polars dtype of the field in the parser's output."""
        return _polars_dtype(self.parsed_kind or self.kind)

    @property
    def sql_type(self) -> TypeEngine[Any]:
        make = _SQL[self.kind]
        if make is None:
            raise ValueError(f"{self.name} is not stored")
        return make()


TICKET_FIELDS: tuple[TicketField, ...] = (
    TicketField(
        "organisation_id",
        "integer",
        "key",
        nullable=False,
        mapped_as="organisation",
        # The parser keeps the file's text; the ingest service checks it against the
        # organisations the upload may write and only then makes it an integer.
        parsed_kind="text",
        meaning="The organisation the ticket belongs to (organisations.id): the file's "
        "organisation column, else the organisation the upload is for.",
    ),
    TicketField(
        "source_system",
        "text",
        "key",
        nullable=False,
        meaning="The service-desk tool or instance the export came from, as named by the "
        "push (its source_system parameter). References are unique only within one.",
    ),
    TicketField(
        "ticket_ref",
        "text",
        "key",
        nullable=False,
        column_name="reference",
        mapped_as="ticket_ref",
        meaning="The ticket's reference in its source system, as the export shows it "
        "(INC0012345, a Jira issue key). Stored as tickets.reference.",
    ),
    TicketField(
        "type",
        "text",
        "fact",
        nullable=False,
        mapped_as="type",
        meaning="incident or request (each tool's labels mapped by the profile; a file with "
        "no type column takes the profile's default type).",
    ),
    TicketField(
        "priority",
        "text",
        "fact",
        nullable=True,
        mapped_as="priority",
        meaning="P0 (highest) to P4; null when the file gives none (the SLA engine lists the "
        "ticket under data quality). Picks the SLA policy.",
    ),
    TicketField(
        "request_type",
        "text",
        "fact",
        nullable=True,
        mapped_as="request_type",
        meaning="What was asked for (a catalogue item or category). An SLA policy may name "
        "one request type; it then wins over the priority's generic policy.",
    ),
    TicketField(
        "team",
        "text",
        "fact",
        nullable=True,
        mapped_as="team",
        meaning="The team (assignment or resolver group) that held the ticket.",
    ),
    TicketField(
        "closure_category",
        "text",
        "fact",
        nullable=True,
        mapped_as="closure_category",
        meaning="How the ticket was closed (the tool's close or resolution code).",
    ),
    TicketField(
        "logged_at",
        "instant",
        "fact",
        nullable=False,
        mapped_as="logged_at",
        meaning="When the ticket was logged: the SLA clock starts here. UTC; a time without "
        "an offset in the file is Europe/London local time.",
    ),
    TicketField(
        "resolved_at",
        "instant",
        "fact",
        nullable=True,
        mapped_as="resolved_at",
        meaning="When the ticket was resolved; null while it is not. The SLA clock stops "
        "here (at closed_at when this is null).",
    ),
    TicketField(
        "closed_at",
        "instant",
        "fact",
        nullable=True,
        mapped_as="closed_at",
        meaning="When the ticket was closed; null while it is not.",
    ),
    TicketField(
        "status",
        "text",
        "fact",
        nullable=True,
        mapped_as="status",
        meaning="new, open, on_hold, resolved, closed or cancelled (each tool's labels mapped "
        "by the profile); null when the file gives none.",
    ),
    TicketField(
        "reopen_count",
        "integer",
        "fact",
        nullable=True,
        mapped_as="reopen_count",
        meaning="How many times the ticket was reopened, as the tool counts; null = unknown.",
    ),
    TicketField(
        "resolved_first_contact",
        "boolean",
        "fact",
        nullable=True,
        mapped_as="resolved_first_contact",
        meaning="Whether it was resolved at the first contact; null = unknown.",
    ),
    TicketField(
        "nps_rating",
        "rating",
        "fact",
        nullable=True,
        mapped_as="nps_rating",
        meaning="A 0-10 'would you recommend' rating given with the ticket; null = none "
        "(a value outside 0-10 is kept as null with a warning).",
    ),
    TicketField(
        "first_response_at",
        "instant",
        "fact",
        nullable=True,
        mapped_as="first_response_at",
        meaning="When the service desk first responded to the ticket (an export column, or "
        "the earliest response event of its history); null = none recorded. Stops the "
        "first-response clock, which runs from logged_at.",
    ),
    TicketField(
        "source_row",
        "row_number",
        "row",
        nullable=False,
        stored=False,
        meaning="Where the row was in the file: the row a spreadsheet shows (CSV header = "
        "row 1) or the JSON line. Names the row in import errors; not stored.",
    ),
    TicketField(
        "flag_dst_gap",
        "boolean",
        "flag",
        nullable=False,
        server_default="false",
        meaning="A local time fell in the spring-forward gap and was moved on by the gap.",
    ),
    TicketField(
        "flag_dst_ambiguous",
        "boolean",
        "flag",
        nullable=False,
        server_default="false",
        meaning="A local time fell in the autumn overlap; the first (BST) one was taken.",
    ),
    TicketField(
        "flag_resolved_before_logged",
        "boolean",
        "flag",
        nullable=False,
        stored=False,
        meaning="resolved_at is before logged_at. Kept (with a warning) so the SLA engine, "
        "which finds it again, lists the ticket under data quality; not stored.",
    ),
)

FIELDS: dict[str, TicketField] = {f.name: f for f in TICKET_FIELDS}
STORED_FIELDS: tuple[TicketField, ...] = tuple(f for f in TICKET_FIELDS if f.stored)
# The stored columns, in table order: what a parsed batch is staged and upserted with.
STORED_COLUMNS: tuple[str, ...] = tuple(f.column for f in STORED_FIELDS)
# A ticket's identity: the primary key of ``tickets``.
TICKET_KEY: tuple[str, ...] = tuple(f.column for f in TICKET_FIELDS if f.role == "key")
# What a ticket says about itself: what metrics reads besides the key.
FACT_FIELDS: tuple[TicketField, ...] = tuple(f for f in TICKET_FIELDS if f.role == "fact")
# Frame name → stored column, where the two differ (ticket_ref → reference).
COLUMN_NAMES: dict[str, str] = {f.name: f.column for f in STORED_FIELDS if f.column != f.name}
# The fields a profile or custom mapping maps a file column to.
MAPPED_FIELDS: tuple[str, ...] = tuple(f.mapped_as for f in TICKET_FIELDS if f.mapped_as)


def parsed_schema() -> dict[str, pl.DataType]:
    """The schema of the rows the ingest parser yields, in order."""
    return {f.name: f.parsed_dtype for f in TICKET_FIELDS}


def table_columns() -> list[Column[Any]]:
    """The canonical columns of ``tickets``, in order (constraints are the table's)."""
    return [
        Column(
            f.column,
            f.sql_type,
            nullable=f.nullable,
            server_default=f.server_default,
            doc=f.meaning,
        )
        for f in STORED_FIELDS
    ]
