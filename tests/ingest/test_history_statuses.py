"""The statuses a history may carry are the ticket's own SLA policy's, not its
organisation's: each status event is checked against the policy in force for its
ticket's priority (and request type) on its logged date; a policy that lists no known
statuses accepts any. And each policy (SLA or OLA) reports the statuses it names that
no history of its organisation has carried."""

from __future__ import annotations

from typing import Any

from tests.factories import make_org
from tests.ingest.test_tickets import errors
from tests.metrics.test_sla_histories import STATUS_MAP, push, record


def _policy(api: Any, org: int, priority: str, effective: str, **statuses: Any) -> int:
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/sla-policies",
        json={"priority": priority, "target_hours": "8", "target_share_pct": "95",
              "effective_from": effective, **statuses},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (
        r.json()["statuses_never_seen"] == r.json()["pause_statuses"] + r.json()["known_statuses"]
    )  # nothing imported yet
    return int(r.json()["id"])


def test_each_status_is_checked_against_its_tickets_policy(api):
    org = make_org(api)["id"]
    admin = api.auth("admin")
    known = ["New", "In progress", "Solved"]
    june = _policy(api, org, "P1", "2020-01-01", pause_statuses=["Pending"],
                   known_statuses=[*known, "Escalated"])  # fmt: skip
    july = _policy(api, org, "P1", "2021-07-01", pause_statuses=["Pending"],
                   known_statuses=[*known, "Triage"])  # fmt: skip
    p2 = _policy(api, org, "P2", "2020-01-01", pause_statuses=["Pending", "Awaiting supplier"],
                 known_statuses=known)  # fmt: skip
    p3 = _policy(api, org, "P3", "2020-01-01", pause_statuses=["On hold"])  # checks nothing
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/ola-policies",
        json={"resolver_group": "Network", "target_hours": "2", "target_share_pct": "90",
              "effective_from": "2020-01-01", "pause_statuses": ["Waiting on vendor", "Pending"]},
        headers=admin,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    mapping = api.ingest.post(
        f"/api/v1/organisations/{org}/ticket-mappings",
        json={"name": "desk", "base_profile": "yardstick", "columns": {"Ref": "ticket_ref"},
              "status_map": STATUS_MAP},
        headers=admin,
    ).json()["id"]  # fmt: skip
    export = "\n".join([
        record("A1", "P1", "07/06/2021 09:00", None, ("status", "07/06/2021 10:00", "Escalated")),
        # P2's policy does not know Escalated, though P1's does.
        record("A2", "P2", "07/06/2021 09:00", None, ("status", "07/06/2021 10:00", "Escalated")),
        # P3's policy lists no known statuses: anything goes.
        record("A3", "P3", "07/06/2021 09:00", None, ("status", "07/06/2021 10:00", "Whatever")),
        # Logged in July: July's P1 policy knows Triage, not Escalated.
        record("A4", "P1", "07/07/2021 09:00", None, ("status", "07/07/2021 10:00", "Escalated")),
        record("A5", "P1", "07/07/2021 09:00", None, ("status", "07/07/2021 10:00", "Triage")),
        # Logged in June: June's P1 policy does not know Triage.
        record("A6", "P1", "07/06/2021 09:00", None, ("status", "07/06/2021 10:00", "Triage")),
        record("A7", "P2", "07/06/2021 09:00", None),
        # Exported as P2 but raised to P1 by its history: P1's policy knows Escalated.
        record("A8", "P2", "07/06/2021 09:00", None, ("priority", "07/06/2021 09:30", "P1"),
               ("status", "07/06/2021 10:00", "Escalated")),
    ]).encode()  # fmt: skip
    job = push(api, org, mapping, export, "jsonl")
    assert (job["progress"]["rows_accepted"], job["progress"]["rows_rejected"]) == (5, 3), job
    got = [(e["row"], e["code"], e["message"]) for e in errors(api, job["id"])]
    assert got == [
        (2, "unknown_status",
         f"status event at 2021-06-07T09:00:00+00:00: status 'Escalated' is not one the SLA "
         f"policy {p2} (P2, effective 2020-01-01) of organisation {org} knows (its known or "
         "pause statuses); add it to that policy or correct the row; the row was not stored"),
        (4, "unknown_status",
         f"status event at 2021-07-07T09:00:00+00:00: status 'Escalated' is not one the SLA "
         f"policy {july} (P1, effective 2021-07-01) of organisation {org} knows (its known or "
         "pause statuses); add it to that policy or correct the row; the row was not stored"),
        (6, "unknown_status",
         f"status event at 2021-06-07T09:00:00+00:00: status 'Triage' is not one the SLA "
         f"policy {june} (P1, effective 2020-01-01) of organisation {org} knows (its known or "
         "pause statuses); add it to that policy or correct the row; the row was not stored"),
    ]  # fmt: skip
    # A history file is checked the same way, with the tickets as stored: "Awaiting
    # supplier" is P2's pause status, unknown to P1's policy.
    history = (
        b"ticket_ref,kind,at,value\n"
        b"A7,status,07/06/2021 11:00,Awaiting supplier\n"
        b"A1,status,07/06/2021 11:00,awaiting supplier \n"
        b"A3,status,07/06/2021 11:00,Anything\n"
    )
    job = push(api, org, mapping, history, "csv", content="history")
    p = job["progress"]
    assert (p["rows_accepted"], p["rows_rejected"], p["rows_inserted"]) == (2, 1, 2), job
    ((row, code, message),) = [(e["row"], e["code"], e["message"]) for e in errors(api, job["id"])]
    assert (row, code) == (3, "unknown_status")
    assert f"SLA policy {june} (P1, effective 2020-01-01)" in message
    # Per policy, what it names and no history has carried: Escalated (A1), Awaiting
    # supplier (A7) and Triage (A5) were seen; Pending, New, In progress and Solved never.
    listed = api.ingest.get(f"/api/v1/organisations/{org}/sla-policies", headers=admin).json()
    unseen = {x["id"]: x["statuses_never_seen"] for x in listed["items"]}
    assert unseen == {
        june: ["Pending", *known],
        july: ["Pending", *known],
        p2: ["Pending", *known],
        p3: ["On hold"],
    }
    one = api.ingest.get(f"/api/v1/organisations/{org}/sla-policies/{p2}", headers=admin)
    assert one.json()["statuses_never_seen"] == ["Pending", *known]
    olas = api.ingest.get(f"/api/v1/organisations/{org}/ola-policies", headers=admin).json()
    assert [x["statuses_never_seen"] for x in olas["items"]] == [["Waiting on vendor", "Pending"]]
