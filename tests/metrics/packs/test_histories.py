"""The pack's open-at-period-end figures are the SLA engine's with the tickets' histories:
a status the policy pauses on stops the clock in the pack as it does in the SLA reports.
Calendar Mon-Fri 08:00-18:00 (England & Wales); the period ends Sunday 30 June 2024."""

from __future__ import annotations

from tests.factories import make_org
from tests.metrics.packs import seed_governance as seed
from tests.metrics.packs.test_api import draft
from tests.metrics.test_sla_histories import push, record, setup, tickets


def test_a_ticket_paused_by_its_status_is_within_target_and_on_hold_at_the_period_end(
    api, owner_engine
):
    partner, mapping = setup(api)  # P1 4 h, pauses on "Pending"
    service = make_org(api, name="Shared ICT Service", partnership=True)["id"]
    seed.as_ingest(
        owner_engine,
        "INSERT INTO organisation_partners (shared_service_id, partner_id, position) "
        "VALUES (:s, :p, 0)",
        {"s": service, "p": partner},
    )
    export = "\n".join(
        [
            # Pending from Monday 24 June 10:00 to the period end: 1 working hour used of 4.
            record("PAUSED", "P1", "24/06/2024 09:00", None,
                   ("status", "24/06/2024 09:00", "New"),
                   ("status", "24/06/2024 10:00", "Pending")),
            # In progress throughout: 49 working hours (Mon 09:00 to Fri 18:00) of 4.
            record("RUNNING", "P1", "24/06/2024 09:00", None,
                   ("status", "24/06/2024 09:00", "New"),
                   ("status", "24/06/2024 10:00", "In progress")),
        ]
    ).encode()  # fmt: skip
    job = push(api, partner, mapping, export, "jsonl")
    assert job["status"] == "done" and job["progress"]["rows_accepted"] == 2, job

    # The SLA report as of the period end (Sunday 30 June 23:00 UTC = midnight BST)
    rows = tickets(api, partner, as_of="2024-06-30T23:00:00Z")
    assert {ref: (r["status"], r["elapsed_seconds"], r["on_hold"]) for ref, r in rows.items()} == {
        "PAUSED": ("open_within", 3600, True),
        "RUNNING": ("open_breached", 49 * 3600, False),
    }

    got = draft(api, service)
    assert got.status_code == 200, got.text
    (p1,) = [t for t in got.json()["sla"] if t["priority"] == "P1"]
    # Without the histories both tickets would be breached (49 h each) and none on hold.
    assert (p1["open"], p1["open_within"], p1["open_breached"], p1["on_hold"]) == (2, 1, 1, 1)

    # Frozen and issued; then a history file moves PAUSED back to work on the Wednesday.
    # It changes no ticket row, and is still late data beside the issued version.
    admin = api.auth("admin")
    frozen = api.metrics.post(
        "/api/v1/committee-packs",
        json={"service_id": service, "financial_year": 2024, "period": 3},
        headers=admin,
    )
    assert frozen.status_code == 201, frozen.text
    pack_id = frozen.json()["id"]
    issued = api.metrics.post(f"/api/v1/committee-packs/{pack_id}/issue", headers=admin)
    assert issued.status_code == 200, issued.text
    history = (
        b"ticket_ref,kind,at,value\n"
        b"PAUSED,status,24/06/2024 09:00,New\n"
        b"PAUSED,status,24/06/2024 10:00,Pending\n"
        b"PAUSED,status,26/06/2024 10:00,In progress\n"
    )
    job = push(api, partner, mapping, history, "csv", content="history")
    assert job["progress"]["rows_inserted"] == 3, job
    checks = api.metrics.get(f"/api/v1/committee-packs/{pack_id}/checks", headers=admin)
    late = [(c["section"], c["row"]) for c in checks.json()["items"] if c["origin"] == "live"]
    name = api.ingest.get(f"/api/v1/organisations/{partner}", headers=admin).json()["name"]
    assert late == [("sla", f"ticket histories of {name}")]
    # The draft has it: 1 h before the pause, then Wednesday 10:00 to Friday 18:00 (26 h)
    (p1,) = [t for t in draft(api, service).json()["sla"] if t["priority"] == "P1"]
    assert (p1["open"], p1["open_within"], p1["open_breached"], p1["on_hold"]) == (2, 0, 2, 0)
