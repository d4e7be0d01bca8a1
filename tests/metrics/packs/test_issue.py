"""Review and issue through HTTP: a frozen version never changes under its readers, late
data is checked beside it, a re-issue is a new version that lists what changed, and the
KPIs and risk trends of the next pack are measured against the last issued one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.factories import assert_problem
from tests.metrics.packs import seed_governance as seed

PACKS = "/api/v1/committee-packs"
PERIOD_END = datetime.fromisoformat("2024-06-30T23:00:00+00:00")  # 1 July 00:00 BST


def _create(api: Any, svc: int, who: dict[str, str], period: int = 3, **headers: str) -> Any:
    return api.metrics.post(
        PACKS,
        json={"service_id": svc, "financial_year": 2024, "period": period},
        headers={**who, **headers},
    )


def _issue(api: Any, pack_id: int, who: dict[str, str]) -> dict[str, Any]:
    issued = api.metrics.post(f"{PACKS}/{pack_id}/issue", headers=who)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def _replace_sick_pay_actuals(engine: Any, svc: int) -> None:
    """The finance system re-exports the report with the sick-pay sign error fixed."""
    seed.as_ingest(
        engine,
        "DELETE FROM finance_reports WHERE service_id = :s AND financial_year = 2024 "
        "AND period = 3",
        {"s": svc},
    )
    report = seed.worked_outturn(engine, svc)
    seed.as_ingest(
        engine,
        "UPDATE finance_lines SET actuals_pence = -25000 WHERE report_id = :r "
        "AND line = 'STATUTORY SICK PAY'",
        {"r": report},
    )


def test_issue_freezes_late_data_is_checked_and_reissue_lists_changes(api, owner_engine):
    sc = seed.pack_scenario(api, owner_engine)
    svc, brent = sc["service"]["id"], sc["by_name"]["Brent"]
    staff = api.auth("participant", [svc], subject="head.of.service")
    draft = api.metrics.get(
        f"{PACKS}/draft",
        params={"service_id": svc, "financial_year": 2024, "period": 3},
        headers=staff,
    ).json()

    created = _create(api, svc, staff, **{"Idempotency-Key": "q1-review"})
    assert created.status_code == 201, created.text
    v1 = created.json()
    assert created.headers["location"] == f"{PACKS}/{v1['id']}"
    assert (v1["version"], v1["status"], v1["changes"]) == (1, "in_review", 0)
    assert v1["data_version"] == draft["header"]["data_version"]
    assert v1["period_end"] == "2024-06-30"
    # Asked again with nothing changed: the same version, said to be a replay
    again = _create(api, svc, staff, **{"Idempotency-Key": "q1-review"})
    assert again.status_code == 201 and again.json()["id"] == v1["id"]
    assert again.headers["idempotent-replayed"] == "true"
    in_review = api.metrics.get(f"{PACKS}/{v1['id']}", headers=staff).json()
    assert (in_review["header"]["status"], in_review["header"]["version"]) == ("in_review", 1)
    assert in_review["kpi"] == draft["kpi"] and in_review["outturn"] == draft["outturn"]

    # A partner reads it but cannot issue it
    partner = api.auth("participant", [brent])
    assert api.metrics.get(f"{PACKS}/{v1['id']}", headers=partner).status_code == 200
    refused = api.metrics.post(f"{PACKS}/{v1['id']}/issue", headers=partner)
    assert_problem(refused, 403, "committee_pack_write_forbidden")

    issued = _issue(api, v1["id"], staff)
    assert (issued["status"], issued["issued_by"]) == ("issued", "head.of.service")
    issued_at = datetime.fromisoformat(issued["issued_at"].replace("Z", "+00:00"))
    assert issued["seconds_to_issue"] in {
        int((issued_at - PERIOD_END).total_seconds()) + d for d in (0, 1)
    }
    assert_problem(
        api.metrics.post(f"{PACKS}/{v1['id']}/issue", headers=staff),
        409,
        "committee_pack_not_in_review",
    )

    def read_all(pack_id: int) -> tuple[bytes, bytes, bytes]:
        got = [
            api.metrics.get(f"{PACKS}/{pack_id}", params={"format": f}, headers=partner)
            for f in ("json", "html", "pdf")
        ]
        assert [g.status_code for g in got] == [200, 200, 200]
        return got[0].content, got[1].content, got[2].content

    before = read_all(v1["id"])
    assert b"Issued" in before[1] or b"issued" in before[1]
    assert before[2].startswith(b"%PDF-")
    named = api.metrics.get(f"{PACKS}/{v1['id']}", params={"format": "pdf"}, headers=staff)
    assert named.headers["content-disposition"] == (
        f'inline; filename="committee-pack-{svc}-2024-25-P3-v1.pdf"'
    )
    frozen = api.metrics.get(f"{PACKS}/{v1['id']}", headers=staff).json()
    assert frozen["header"]["status"] == "issued"
    assert frozen["header"]["seconds_to_issue"] == issued["seconds_to_issue"]
    assert [c["kind"] for c in frozen["checks"]].count("line_remaining") == 1

    # Data of the period changes after the issue: a late P2 ticket, a corrected outturn
    seed.push_tickets(
        api, brent, ["A7,incident,P2,,Desk,Fixed,11/06/2024 09:00,11/06/2024 10:00,resolved,0,"]
    )
    api.deliver()
    _replace_sick_pay_actuals(owner_engine, svc)

    assert read_all(v1["id"]) == before  # byte for byte
    checks = api.metrics.get(f"{PACKS}/{v1['id']}/checks", headers=partner).json()["items"]
    frozen_checks = [c for c in checks if c["origin"] == "frozen"]
    live = [(c["kind"], c["section"], c["row"]) for c in checks if c["origin"] == "live"]
    assert len(frozen_checks) == 7
    assert live == [
        ("late_data", "finance", "finance report 2024 P3"),
        ("late_data", "sla", "tickets of Brent"),
    ]
    late = next(c for c in checks if c["row"] == "tickets of Brent")
    assert int(late["difference"]) < 0 and late["unit"] == "timestamp"
    assert "not in the pack" in late["message"]
    # The draft shows the new data and the same late-data checks
    now = api.metrics.get(
        f"{PACKS}/draft/checks",
        params={"service_id": svc, "financial_year": 2024, "period": 3},
        headers=staff,
    ).json()["items"]
    assert [(c["kind"], c["row"]) for c in now if c["kind"] != "group_total"] == [
        ("cost_total", "Covid-19 costs / Brent / total"),
        ("cost_total", "Covid-19 costs / Southwark / total"),
        ("risk_priority", "R2 Risk R2"),
        ("late_data", "finance report 2024 P3"),
        ("late_data", "tickets of Brent"),
    ]

    # Re-issue: version 2, with what changed
    created2 = _create(api, svc, staff)
    assert created2.status_code == 201, created2.text
    v2 = created2.json()
    assert (v2["version"], v2["status"]) == (2, "in_review")
    assert v2["data_version"] != v1["data_version"]
    issued2 = _issue(api, v2["id"], staff)
    changes = {
        c["path"]: (c["before"], c["after"])
        for c in api.metrics.get(f"{PACKS}/{v2['id']}/changes", headers=staff).json()["items"]
    }
    assert issued2["changes"] == len(changes)
    assert changes["sla[P2].months[2024-06-01].met"] == (1, 2)
    assert changes["kpi.measures[sla.P2].value"] == (66.67, 75.0)
    assert changes["outturn.groups[staffing].lines[STATUTORY SICK PAY].actuals_pence"] == (
        25_000,
        -25_000,
    )
    assert changes["outturn.total.actuals_pence"] == (51_208_600, 51_158_600)
    assert not [p for p in changes if p.startswith(("header.", "checks", "charts"))]
    # v1 is superseded, still byte for byte, and points at v2
    assert read_all(v1["id"]) == before
    old = api.metrics.get(f"{PACKS}/{v1['id']}", headers=staff)
    assert old.headers["link"] == f'<{PACKS}/{v2["id"]}>; rel="successor-version"'
    listed = api.metrics.get(PACKS, params={"service_id": svc}, headers=partner).json()
    assert [(p["version"], p["status"]) for p in listed["items"]] == [
        (2, "issued"),
        (1, "superseded"),
    ]
    v2_checks = api.metrics.get(f"{PACKS}/{v2['id']}/checks", headers=staff).json()["items"]
    assert [c["kind"] for c in v2_checks].count("late_data") == 0
    assert [c["kind"] for c in v2_checks].count("line_remaining") == 0  # the sign is fixed


def test_next_pack_measures_change_and_trends_against_the_last_issued(api, owner_engine):
    sc = seed.pack_scenario(api, owner_engine)
    svc, brent = sc["service"]["id"], sc["by_name"]["Brent"]
    staff = api.auth("admin")
    q1 = _create(api, svc, staff).json()
    _issue(api, q1["id"], staff)
    # Q2: a met P2 ticket in August; R1 reassessed at P6 (2 × 3 = 6, was 12 at P3)
    seed.push_tickets(
        api, brent, ["A8,incident,P2,,Desk,Fixed,06/08/2024 09:00,06/08/2024 10:00,resolved,0,9"]
    )
    api.deliver()
    seed.as_ingest(
        owner_engine,
        "INSERT INTO risk_assessments (risk_id, financial_year, period, impact, probability) "
        "SELECT id, 2024, 6, 2, 3 FROM risks WHERE reference = 'R1'",
        {},
    )
    q2 = api.metrics.get(
        f"{PACKS}/draft",
        params={"service_id": svc, "financial_year": 2024, "period": 6},
        headers=staff,
    ).json()
    assert q2["header"]["period_label"] == "Q2 2024/25 (P4–P6, July–September 2024)"
    measures = {m["key"]: (m["value"], m["previous"], m["change"]) for m in q2["kpi"]["measures"]}
    assert measures["sla.P2"] == (100.0, 66.67, 33.33)
    assert measures["sla.P1"] == (0.0, 66.67, -66.67)  # A5: resolved 2 July, 30 h
    assert measures["nps"] == (100.0, 16.7, 83.3)
    trends = {
        r["reference"]: (r["priority"], r["previous_priority"], r["trend"])
        for s in q2["risks"]
        for r in s["risks"]
    }
    assert trends == {"R1": (6, 12, "down"), "R2": (20, 20, "same"), "R3": (4, 4, "same")}
    assert q2["outturn"]["period"] == 3  # the latest report of the year to P6


def test_an_idempotency_key_gets_the_first_answer_and_another_body_is_refused(api, owner_engine):
    s = seed.shared_service(api, owner_engine, partners=("Brent",))
    svc = s["service"]["id"]
    seed.worked_outturn(owner_engine, svc)
    staff = api.auth("participant", [svc], subject="head.of.service")
    key = {"Idempotency-Key": "freeze-q1"}

    first = _create(api, svc, staff, **key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    v1 = first.json()
    assert (v1["version"], v1["status"]) == (1, "in_review")

    # The data changes; a retry with the same key and body still gets the first answer,
    # stored, not recomputed (a new freeze would withdraw v1 and make v2).
    _replace_sick_pay_actuals(owner_engine, svc)
    retry = _create(api, svc, staff, **key)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["location"] == f"{PACKS}/{v1['id']}"
    assert retry.json() == v1
    listed = api.metrics.get(PACKS, params={"service_id": svc}, headers=staff).json()["items"]
    assert [(p["version"], p["status"]) for p in listed] == [(1, "in_review")]

    # The same key with another body: refused, and nothing stored changes
    other = _create(api, svc, staff, period=2, **key)
    body = assert_problem(other, 422, "idempotency_key_reused")
    assert "different request" in body["detail"]
    too_long = _create(api, svc, staff, **{"Idempotency-Key": "k" * 201})
    assert "header.Idempotency-Key" in str(assert_problem(too_long, 422)["errors"])
    listed = api.metrics.get(PACKS, params={"service_id": svc}, headers=staff).json()["items"]
    assert [(p["version"], p["status"]) for p in listed] == [(1, "in_review")]

    # Without the key the changed data makes a new version, which withdraws v1
    fresh = _create(api, svc, staff)
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    assert (fresh.json()["version"], fresh.json()["data_version"] != v1["data_version"]) == (
        2,
        True,
    )
    listed = api.metrics.get(PACKS, params={"service_id": svc}, headers=staff).json()["items"]
    assert [(p["version"], p["status"]) for p in listed] == [(2, "in_review"), (1, "withdrawn")]
