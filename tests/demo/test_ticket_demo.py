"""The ticket demo loader: calendar, policies and tickets through the ingest service layer."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import make_org
from yardstick.demo.tickets import load_ticket_demo


def test_ticket_demo_loads_once_and_feeds_the_sla_reports(api, database_url, owner_engine):
    a, b = make_org(api)["id"], make_org(api)["id"]
    summary = load_ticket_demo(database_url, [a, b])
    assert summary.startswith("ticket demo: 2 organisation(s) loaded with 3250 tickets, 0 already")
    with owner_engine.connect() as conn:
        counts = dict(
            conn.execute(text("SELECT organisation_id, count(*) FROM tickets GROUP BY 1")).all()
        )
        policies = conn.execute(
            text(
                "SELECT priority, request_type FROM sla_policies WHERE organisation_id = :o "
                "ORDER BY 1, 2"
            ),
            {"o": a},
        ).all()
    assert counts == {a: 1500, b: 1750}
    assert [tuple(p) for p in policies] == [
        ("P0", None),
        ("P1", None),
        ("P2", None),
        ("P3", None),
        ("P4", "New starter"),
        ("P4", "Software install"),
    ]
    assert api.deliver() >= 1
    rows = api.metrics.get(
        "/api/v1/sla/monthly", params={"organisation_id": a}, headers=api.auth("admin")
    ).json()["items"]
    assert {r["priority"] for r in rows} == {"P0", "P1", "P2", "P3", "P4"}
    assert 6 <= len({r["month"] for r in rows}) <= 7
    assert sum(r["met"] + r["missed"] for r in rows) > 1300
    again = load_ticket_demo(database_url, [a, b])
    assert again.startswith("ticket demo: 0 organisation(s) loaded with 0 tickets, 2 already")
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar_one() == 3250
