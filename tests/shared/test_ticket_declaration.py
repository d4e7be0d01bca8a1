"""The ticket is declared once (shared/tickets.py) and everything that lists its fields
agrees with that declaration: the parser's rows, the tickets table in the model and in the
migrated database, the staging columns, the mapping API's enum and the frame metrics reads.
One ticket goes the whole way (parse → stage → upsert → metrics reader) to prove it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.ingest.tickets import repository as ingest_repo
from services.ingest.tickets.parsing import CANONICAL_SCHEMA, parse_tickets
from services.ingest.tickets.profiles import CANONICAL_FIELDS
from services.ingest.tickets.schemas import MappingCreate
from services.ingest.tickets.service import YARDSTICK_PROFILE, _check_organisations
from services.metrics.sla import engine as sla_engine
from services.metrics.sla import repository as sla_repo
from shared.db.engine import make_engine
from shared.db.tables.ingest_tickets import tickets
from shared.tickets import (
    FACT_FIELDS,
    FIELDS,
    MAPPED_FIELDS,
    STORED_COLUMNS,
    STORED_FIELDS,
    TICKET_FIELDS,
    TICKET_KEY,
    parsed_schema,
)
from tests.factories import make_org

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "organisation,ticket_ref,type,priority,request_type,team,closure_category,logged_at,"
    "resolved_at,closed_at,status,reopen_count,resolved_first_contact,nps_rating\n"
)


def _parse(body: str, organisation_id: str = "1") -> pl.DataFrame:
    batches, _ = parse_tickets(
        io.BytesIO(body.encode()),
        YARDSTICK_PROFILE,
        source_system="sn",
        organisation_id=organisation_id,
    )
    return pl.concat([b.rows for b in batches])


def test_every_field_says_what_it_means_and_names_are_unique():
    assert len(FIELDS) == len(TICKET_FIELDS)
    assert len(set(STORED_COLUMNS)) == len(STORED_COLUMNS)
    for f in TICKET_FIELDS:
        assert len(f.meaning) > 20, f.name
    assert TICKET_KEY == ("organisation_id", "source_system", "reference")


def test_the_parser_yields_the_declared_rows():
    rows = _parse(
        HEADER + "1,INC1,incident,P1,Laptop,Desk,Fixed,01/03/2021 09:00,"
        "01/03/2021 10:00,,resolved,0,true,9\n"
        "1,INC2,request,,,,,28/03/2021 01:30,01/03/2021 09:00,,,,,\n"
    )
    assert parsed_schema() == CANONICAL_SCHEMA
    assert list(rows.schema.items()) == list(parsed_schema().items())
    empty = _parse(HEADER + "1,,incident,P1,,,,01/03/2021 09:00,,,,,,\n")  # rejected
    assert empty.height == 0
    assert list(empty.schema.items()) == list(parsed_schema().items())
    required = [f.name for f in TICKET_FIELDS if not f.nullable]
    assert rows.select(required).null_count().row(0) == (0,) * len(required)
    # The bookkeeping fields are set by the parser, from the rows above.
    assert rows["flag_dst_gap"].to_list() == [False, True]
    assert rows["flag_resolved_before_logged"].to_list() == [False, True]


def test_mapped_fields_are_the_profiles_and_the_mapping_apis():
    assert CANONICAL_FIELDS == MAPPED_FIELDS
    columns = MappingCreate.model_json_schema()["properties"]["columns"]
    assert [v["enum"] for v in columns["patternProperties"].values()] == [list(MAPPED_FIELDS)]
    # Every mapped field lands in a declared field of the same name, bar the organisation
    # column, which names the organisation_id.
    assert {f.mapped_as for f in TICKET_FIELDS if f.mapped_as and f.mapped_as != f.name} == {
        "organisation"
    }


def test_the_table_model_and_the_migrated_table_are_the_declaration(owner_engine):
    assert [c.name for c in tickets.columns][: len(STORED_COLUMNS)] == list(STORED_COLUMNS)
    assert tuple(c.name for c in tickets.primary_key.columns) == TICKET_KEY
    dialect = postgresql.dialect()
    with owner_engine.connect() as conn:
        live = {
            name: (sql_type, not_null)
            for name, sql_type, not_null in conn.execute(
                text(
                    "SELECT attname, format_type(atttypid, atttypmod), attnotnull "
                    "FROM pg_attribute WHERE attrelid = 'tickets'::regclass "
                    "AND attnum > 0 AND NOT attisdropped"
                )
            )
        }
    for f in STORED_FIELDS:
        model = tickets.c[f.column]
        declared = f.sql_type.compile(dialect=dialect).lower()
        assert model.type.compile(dialect=dialect).lower() == declared, f.name
        assert model.nullable == f.nullable, f.name
        assert live[f.column] == (declared, not f.nullable), f.name


def test_the_stage_takes_the_stored_columns():
    assert ingest_repo.STAGE_COLUMNS == STORED_COLUMNS
    rows, _ = _check_organisations(
        _parse(HEADER + "1,INC1,incident,P1,,,,01/03/2021 09:00,,,,,,\n"), {1}
    )
    payload = ingest_repo.copy_payload(rows).decode()
    assert payload.count(",") == len(STORED_COLUMNS) - 1


def test_metrics_reads_the_declared_facts_and_ticket_ref_means_the_reference():
    assert list(sla_engine.TICKET_COLUMNS) == list(sla_repo.TICKET_SCHEMA)
    assert list(sla_repo.TICKET_SCHEMA)[2:] == [f.name for f in FACT_FIELDS]
    assert sla_engine.KEY == ["organisation_id", "ticket_key"]
    for f in FACT_FIELDS:
        assert sla_engine.TICKET_COLUMNS[f.name] == f.dtype, f.name
    # Metrics' own key is ticket_key; ticket_ref is the reference alone, and metrics never
    # uses the name for anything else.
    for path in (ROOT / "services" / "metrics").rglob("*.py"):
        lines = [
            line for line in path.read_text().splitlines() if re.search(r"\bticket_ref\b", line)
        ]
        assert all("ticket_ref is the reference alone" in line for line in lines), path


def test_one_ticket_from_parser_to_metrics_reader(api, database_url):
    org = make_org(api)["id"]
    parsed = _parse(
        HEADER + f"{org},INC1,incident,P2,Laptop,Desk,Fixed,01/03/2021 09:00,"
        "01/03/2021 10:30,02/03/2021 08:00,closed,1,false,7\n",
        organisation_id=str(org),
    )
    rows, issues = _check_organisations(parsed, {org})
    assert not issues and rows.height == 1
    ingest = make_engine(database_url, role="ingest")
    metrics = make_engine(database_url, role="metrics")
    try:
        with Session(ingest) as session:
            assert ingest_repo.upsert_batch(session, rows, import_id=1)[:2] == (1, 0)
            session.commit()
        with Session(metrics) as session:
            read = sla_repo.load_tickets(session, [org])
    finally:
        ingest.dispose()
        metrics.dispose()
    assert read.columns == list(sla_engine.TICKET_COLUMNS)
    assert read["ticket_key"].to_list() == ["sn\x1fINC1"]
    assert read["organisation_id"].to_list() == [org]
    for f in FACT_FIELDS:
        assert read.schema[f.name] == f.dtype, f.name
        assert read[f.name].to_list() == parsed[f.name].to_list(), f.name
