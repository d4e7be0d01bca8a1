"""The OLA per-ticket view through the HTTP API: per ticket and resolver group, the OLA,
its target, elapsed, remaining, due time, % of the target elapsed and status; filtered,
paged, as JSON and CSV. Calendar Mon-Fri 08:00-18:00, England & Wales; Monday 7 June 2021
is an ordinary working day (BST = UTC+1); the moment asked about is Tuesday 8 June 12:00
BST."""

from __future__ import annotations

import csv
import io
from typing import Any

from services.metrics.sla.service import OLA_TICKET_COLUMNS
from tests.factories import assert_problem
from tests.metrics.test_sla_histories import push, record, setup

H = 3600
AS_OF = "2021-06-08T11:00:00Z"


def _ola(api: Any, org: int, group: str, hours: str, cal: int, **extra: Any) -> None:
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/ola-policies",
        json={"resolver_group": group, "target_hours": hours, "calendar_id": cal,
              "target_share_pct": "90", "effective_from": "2020-01-01", **extra},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert r.status_code == 201, r.text


def _loaded(api: Any) -> tuple[int, int]:
    org, mapping = setup(api)
    cals = api.ingest.get(f"/api/v1/organisations/{org}/calendars", headers=api.auth("admin"))
    cal = cals.json()["items"][0]["id"]
    _ola(api, org, "Network", "2", cal, pause_statuses=["Pending"])
    _ola(api, org, "Desktop", "4", cal)
    export = "\n".join([
        # Network from Monday 17:00 to Tuesday 09:00 (2 working hours), pending inside it
        # from 17:30 to 08:15 (45 working minutes); then Desktop from 09:00, still there.
        record("T1", "P1", "07/06/2021 17:00", None,
               ("assignment", "07/06/2021 17:00", "Network"),
               ("status", "07/06/2021 17:00", "New"),
               ("status", "07/06/2021 17:30", "Pending"),
               ("status", "08/06/2021 08:15", "In progress"),
               ("assignment", "08/06/2021 09:00", "Desktop")),
        # With Network since Monday 09:00: 9 + 4 working hours of 2.
        record("T2", "P1", "07/06/2021 09:00", None,
               ("assignment", "07/06/2021 09:00", " network ")),
        # A group without an OLA gives no row.
        record("T3", "P1", "07/06/2021 09:00", "07/06/2021 12:00",
               ("assignment", "07/06/2021 10:00", "Facilities")),
    ]).encode()  # fmt: skip
    job = push(api, org, mapping, export, "jsonl")
    assert job["progress"]["rows_accepted"] == 3, job
    return org, cal


def _get(api: Any, org: int, **params: Any) -> Any:
    return api.metrics.get(
        "/api/v1/sla/ola-tickets",
        params={"organisation_id": org, "as_of": AS_OF, **params},
        headers=api.auth("reader", [org]),
    )


def _rows(api: Any, org: int, **params: Any) -> list[dict[str, Any]]:
    r = _get(api, org, **params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


PICK = ("reference", "resolver_group", "elapsed_seconds", "paused_seconds", "remaining_seconds",
        "pct_target_elapsed", "status", "due_at", "released_at")  # fmt: skip


def test_an_assignment_to_a_then_b_with_a_pause_inside_as_window(api):
    org, cal = _loaded(api)
    r = _get(api, org)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == list(OLA_TICKET_COLUMNS)
    assert body["total"] == 3 and body["notes"]["as_of"] == AS_OF
    got = [tuple(x[c] for c in PICK) for x in body["items"]]
    assert got == [
        # 2 working hours with Network less 45 paused minutes: 1.25 h of 2 h.
        ("T1", "Network", 4500, 2700, 2700, 62.5, "met", None, "2021-06-08T08:00:00Z"),
        # 3 working hours with Desktop of 4: 75 % (the default warning), due at 13:00 BST.
        ("T1", "Desktop", 3 * H, 0, 1 * H, 75.0, "open_warning", "2021-06-08T12:00:00Z", None),
        # 13 working hours of 2: due Monday 11:00 BST.
        ("T2", "Network", 13 * H, 0, -11 * H, 650.0, "open_breached", "2021-06-07T10:00:00Z",
         None),
    ]  # fmt: skip
    first = body["items"][0]
    assert first["policy"] == (
        f"Network within 2 h on the business calendar {cal} clock, from 2020-01-01"
    )
    assert (first["target_seconds"], first["assignments"], first["assigned_at"]) == (
        2 * H,
        1,
        "2021-06-07T16:00:00Z",
    )
    assert (first["calendar_id"], first["priority"], first["resolution_at"]) == (
        str(cal),
        "P1",
        None,
    )
    # The OLA report counts the same assignments.
    summary = api.metrics.get(
        "/api/v1/sla/olas",
        params={"organisation_id": org, "as_of": AS_OF},
        headers=api.auth("reader", [org]),
    ).json()["items"]
    assert [(x["resolver_group"], x["met"], x["open_within"], x["open_breached"])
            for x in summary] == [("Desktop", 0, 1, 0), ("Network", 1, 0, 1)]  # fmt: skip


def test_filters_paging_and_the_warning_threshold(api):
    org, _cal = _loaded(api)

    def refs(**params: Any) -> list[tuple[str, str, str]]:
        rows = _rows(api, org, **params)
        return [(x["reference"], x["resolver_group"], x["status"]) for x in rows]

    assert refs(resolver_group="NETWORK") == [
        ("T1", "Network", "met"),
        ("T2", "Network", "open_breached"),
    ]
    assert refs(status="open_warning") == [("T1", "Desktop", "open_warning")]
    assert refs(status=["met", "open_breached"]) == [
        ("T1", "Network", "met"),
        ("T2", "Network", "open_breached"),
    ]
    # 75 % elapsed is short of an 80 % threshold.
    assert refs(warning_pct="80", resolver_group="Desktop") == [("T1", "Desktop", "open_within")]
    # First assigned on Tuesday (local date): Desktop only.
    assert refs(assigned_from="2021-06-08") == [("T1", "Desktop", "open_warning")]
    assert refs(assigned_to="2021-06-07") == [
        ("T1", "Network", "met"),
        ("T2", "Network", "open_breached"),
    ]
    # The ticket filters apply too: every ticket was logged on the Monday.
    assert refs(logged_from="2021-06-08") == []
    assert len(refs(logged_to="2021-06-07", priority="P1")) == 3
    page = _get(api, org, limit=1, offset=1).json()
    assert (page["total"], len(page["items"]), page["items"][0]["resolver_group"]) == (
        3,
        1,
        "Desktop",
    )
    assert page["next"] is not None and "offset=2" in page["next"]
    # Before Desktop took it: Network still running for T1 (1 h, 30 min paused).
    early = _rows(api, org, as_of="2021-06-07T17:00:00Z", resolver_group="Network")
    assert [(x["reference"], x["elapsed_seconds"], x["paused_seconds"], x["status"])
            for x in early] == [("T1", 1800, 1800, "open_within"),
                                ("T2", 9 * H, 0, "open_breached")]  # fmt: skip


def test_the_view_as_csv_and_bad_queries(api):
    org, _cal = _loaded(api)
    r = _get(api, org, format="csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-total-count"] == "3"
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert list(table[0]) == list(OLA_TICKET_COLUMNS)
    assert [(x["reference"], x["resolver_group"], x["remaining_seconds"], x["status"])
            for x in table] == [("T1", "Network", "2700", "met"),
                                ("T1", "Desktop", "3600", "open_warning"),
                                ("T2", "Network", "-39600", "open_breached")]  # fmt: skip
    page = _get(api, org, format="csv", limit=2)
    assert page.headers["x-total-count"] == "3" and 'rel="next"' in page.headers["link"]
    assert len(list(csv.DictReader(io.StringIO(page.text)))) == 2
    bad = _get(api, org, assigned_from="2021-06-08", assigned_to="2021-06-07")
    assert_problem(bad, 422)
    assert "assigned_to is before assigned_from" in bad.json()["detail"]
    assert_problem(_get(api, org, status="late"), 422)
    assert_problem(_get(api, org, warning_pct="0"), 422)
    assert_problem(_get(api, org, as_of="2021-06-08T11:00:00"), 422)
    # Another organisation's reader may not list them.
    other = api.metrics.get(
        "/api/v1/sla/ola-tickets",
        params={"organisation_id": org},
        headers=api.auth("reader", [org + 1000]),
    )
    assert_problem(other, 403)
