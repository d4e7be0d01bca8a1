"""Load the demo data set into the database (idempotent: a second run changes nothing)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.ingest.cycles.service import assign_codes
from shared.db.tables.ingest import cycles, organisations
from yardstick.dbsession import admin_session

DEMO_ORGS = [
    ("Ashdown Borough Council", "D", "England", False, 620),
    ("Brackenshire County Council", "C", "England", False, 6400),
    ("Camden Vale London Borough", "L", "England", True, 3100),
    ("Dunmore Council", "S", "Scotland", False, 4200),
    ("Glan Tywi County Borough", "W", "Wales", False, 2900),
    ("Hallam Metropolitan Borough", "M", "England", False, 5200),
]


def load_demo(database_url: str) -> str:
    with admin_session(database_url) as session:
        for name, org_type, nation, partnership, users in DEMO_ORGS:
            session.execute(
                insert(organisations)
                .values(
                    name=name, type=org_type, nation=nation, partnership=partnership, users=users
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
        session.execute(
            insert(cycles)
            .values(year=2020, status="published", results_release_date=date(2020, 11, 1))
            .on_conflict_do_nothing(index_elements=["year"])
        )
        cycle_id = session.execute(select(cycles.c.id).where(cycles.c.year == 2020)).scalar_one()
        codes = assign_codes(session, cycle_id)
    return f"demo data loaded: {len(DEMO_ORGS)} organisations, cycle 2020 with {len(codes)} codes"
