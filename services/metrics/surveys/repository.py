from __future__ import annotations

from collections.abc import Collection
from typing import Any

import polars as pl
from sqlalchemy import Integer, column, func, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.metrics.surveys.engine import ATTRIBUTES, FACTOR_KEYS
from shared.db.tables.ingest import cycles, organisation_codes
from shared.db.tables.metrics_surveys import survey_results
from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_headcount_cells as hc_cells
from shared.db.tables.survey_campaigns import survey_headcounts as hc
from shared.db.tables.survey_campaigns import survey_responses as r

INT_KEYS = [
    *(f"{f}.{m}" for f in FACTOR_KEYS for m in ("satisfaction", "importance")),
    "overall",
    "improvement",
    "nps",
    *(f"L{i}" for i in range(1, 21)),
    *(f"P{i}" for i in range(1, 21)),
    *(f"M{i}" for i in range(1, 10)),
]
SCHEMA: dict[str, pl.DataType] = {
    "organisation_id": pl.Int64(),
    "campaign_id": pl.Int64(),
    "response_date": pl.Date(),
    **{k: pl.Int64() for k in INT_KEYS},
    **{a: pl.String() for a in ATTRIBUTES},
    "comment": pl.String(),
}


def get_campaign(session: Session, campaign_id: int) -> dict[str, Any] | None:
    row = session.execute(select(c).where(c.c.id == campaign_id)).mappings().first()
    return dict(row) if row else None


def responses_frame(
    session: Session, campaign_ids: Collection[int], *, organisations: Collection[int] | None = None
) -> pl.DataFrame:
    """One query; one row per response, one column per answer key (explicit dtypes)."""
    query = select(r.c.organisation_id, r.c.campaign_id, r.c.response_date, r.c.answers)
    if campaign_ids:
        query = query.where(r.c.campaign_id.in_(list(campaign_ids)))
    if organisations is not None:
        query = query.where(r.c.organisation_id.in_(list(organisations)))
    rows = [
        {
            **{k: v for k, v in answers.items() if k in SCHEMA},
            "organisation_id": org,
            "campaign_id": cid,
            "response_date": day,
        }
        for org, cid, day, answers in session.execute(query)
    ]
    return pl.from_dicts(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)


def store(
    session: Session, campaign: dict[str, Any], trigger: str, results: dict[str, Any]
) -> None:
    stmt = pg_insert(survey_results).values(
        campaign_id=campaign["id"],
        organisation_id=campaign["organisation_id"],
        kind=campaign["kind"],
        trigger=trigger,
        results=results,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[survey_results.c.campaign_id],
            set_={
                "results": stmt.excluded.results,
                "trigger": stmt.excluded.trigger,
                "computed_at": func.now(),
            },
        )
    )


def stored(session: Session, campaign_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(survey_results.c.results).where(survey_results.c.campaign_id == campaign_id)
    ).scalar()
    return dict(row) if row else None


def benchmark_campaigns(session: Session, cycle_id: int) -> list[dict[str, Any]]:
    """The latest closed user-satisfaction campaign of each organisation in the cycle."""
    rows = session.execute(
        select(c.c.id, c.c.organisation_id, c.c.users_in_scope)
        .where(c.c.cycle_id == cycle_id, c.c.kind == "user_satisfaction", c.c.status == "closed")
        .distinct(c.c.organisation_id)
        .order_by(c.c.organisation_id, c.c.closes_on.desc(), c.c.id.desc())
    ).mappings()
    return [dict(x) for x in rows]


def cycle_id(session: Session, year: int) -> int | None:
    found = session.execute(select(cycles.c.id).where(cycles.c.year == year)).scalar()
    return None if found is None else int(found)


def codes(session: Session, cycle_id: int) -> dict[int, str]:
    rows = session.execute(
        select(organisation_codes.c.organisation_id, organisation_codes.c.code).where(
            organisation_codes.c.cycle_id == cycle_id
        )
    ).all()
    return {int(o): str(code) for o, code in rows}


def comments(session: Session, campaign_id: int) -> list[tuple[Any, str]]:
    rows = session.execute(
        select(r.c.response_date, r.c.answers["comment"].astext)
        .where(r.c.campaign_id == campaign_id, r.c.answers.has_key("comment"))
        .order_by(r.c.response_date, r.c.id)
    ).all()
    return [(d, str(t)) for d, t in rows]


# Owned by the survey service (migration 0010): per campaign, invitations and how many of
# them could not be delivered. A view, so metrics reads two counts, never an invitation.
delivery_view = table(
    "survey_campaign_delivery",
    column("campaign_id", Integer),
    column("invitations", Integer),
    column("undeliverable", Integer),
)


def delivery(session: Session, campaign_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """Campaign id → (invitations, undeliverable); campaigns without invitations are absent."""
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(
            delivery_view.c.campaign_id,
            delivery_view.c.invitations,
            delivery_view.c.undeliverable,
        ).where(delivery_view.c.campaign_id.in_(list(campaign_ids)))
    ).all()
    return {int(cid): (int(i), int(u)) for cid, i, u in rows}


def headcounts(
    session: Session, campaign_ids: Collection[int]
) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """(campaign id → {kind, attributes, total}, rows {campaign_id, cell, headcount})."""
    if not campaign_ids:
        return {}, []
    heads = {
        int(r["campaign_id"]): dict(r)
        for r in session.execute(
            select(hc.c.campaign_id, hc.c.kind, hc.c.attributes, hc.c.total).where(
                hc.c.campaign_id.in_(list(campaign_ids))
            )
        ).mappings()
    }
    rows = [
        dict(r)
        for r in session.execute(
            select(hc_cells.c.campaign_id, hc_cells.c.cell, hc_cells.c.headcount)
            .where(hc_cells.c.campaign_id.in_(list(campaign_ids)))
            .order_by(hc_cells.c.campaign_id, hc_cells.c.position)
        ).mappings()
    ]
    return heads, rows


def cycles_up_to(session: Session, year: int) -> list[tuple[int, int]]:
    """(cycle id, year) of every cycle up to ``year``, oldest first."""
    rows = session.execute(
        select(cycles.c.id, cycles.c.year).where(cycles.c.year <= year).order_by(cycles.c.year)
    ).all()
    return [(int(i), int(y)) for i, y in rows]


def latest_closed_campaigns(
    session: Session, cycle_ids: Collection[int], kind: str
) -> list[dict[str, Any]]:
    """The latest closed campaign of ``kind`` of each organisation in each cycle."""
    if not cycle_ids:
        return []
    rows = session.execute(
        select(
            c.c.id,
            c.c.organisation_id,
            c.c.cycle_id,
            c.c.users_in_scope,
            c.c.suppression_threshold,
        )
        .where(c.c.cycle_id.in_(list(cycle_ids)), c.c.kind == kind, c.c.status == "closed")
        .distinct(c.c.cycle_id, c.c.organisation_id)
        .order_by(c.c.cycle_id, c.c.organisation_id, c.c.closes_on.desc(), c.c.id.desc())
    ).mappings()
    return [dict(x) for x in rows]


def codes_for(session: Session, cycle_ids: Collection[int]) -> dict[tuple[int, int], str]:
    """(cycle id, organisation id) → the organisation's anonymous code in that cycle."""
    if not cycle_ids:
        return {}
    rows = session.execute(
        select(
            organisation_codes.c.cycle_id,
            organisation_codes.c.organisation_id,
            organisation_codes.c.code,
        ).where(organisation_codes.c.cycle_id.in_(list(cycle_ids)))
    ).all()
    return {(int(cy), int(o)): str(code) for cy, o, code in rows}


def response_counts(session: Session, campaign_ids: Collection[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(r.c.campaign_id, func.count())
        .where(r.c.campaign_id.in_(list(campaign_ids)))
        .group_by(r.c.campaign_id)
    ).all()
    return {int(cid): int(n) for cid, n in rows}
