"""Validation monitoring and follow-up (issue #14 item 2): the worker's scheduled pass
re-runs a cycle's rules and outlier checks when what it is checked against changed,
records the violations, notifies the reviewers through the outbox (a mail here), and
reviewers keep a follow-up list."""

from __future__ import annotations

import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from shared.http import ServiceClient
from shared.validation_jobs import run_validation_monitoring
from tests.factories import assert_problem, make_cycle, make_org, make_submission
from tests.ingest.test_outliers import _published_peers


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def mailbox(api, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(api.settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(api.settings, "smtp_port", port)
    monkeypatch.setattr(api.settings, "smtp_tls", "none")
    monkeypatch.setattr(api.settings, "reviewer_notice_to", "reviewers@yardstick.example")
    yield sink
    controller.stop()


def _monitor(api) -> None:
    client = ServiceClient(api.settings, "worker", transports=api.transports)
    assert run_validation_monitoring(client) is True


def _runs(api):
    got = api.ingest.get("/api/v1/validation-runs", headers=api.auth("admin"))
    assert got.status_code == 200, got.text
    return got.json()


def _submitted_outlier(api):
    _published_peers(api)
    cycle = make_cycle(api, 2021)
    org = make_org(api, type="L")
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 700, "ict_fte": 10})
    ok = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/submit",
        json={"warning_comments": {"outlier.users_per_ict_fte": "Councillors count as users"}},
        headers=api.auth("participant", [org["id"]]),
    )
    assert ok.status_code == 200, ok.text
    return org, sub


def test_monitoring_records_notifies_reruns_only_on_change_and_resolves(api, mailbox, owner_engine):
    _org, sub = _submitted_outlier(api)
    _monitor(api)
    runs = _runs(api)["items"]
    assert [(r["cycle_year"], r["violations"], r["new_violations"]) for r in runs] == [
        (2021, 2, 2),
        (2020, 0, 0),
    ]
    found = api.ingest.get(
        "/api/v1/validation-violations", params={"cycle": 2021}, headers=api.auth("admin")
    ).json()["items"]
    assert [(v["submission_id"], v["kind"], v["key"]) for v in found] == [
        (sub["id"], "outlier", "users_per_ict_fte:iqr_fence"),
        (sub["id"], "outlier", "users_per_ict_fte:modified_z"),
    ]
    # the notice: an outbox event, delivered by the worker as a mail to the reviewers
    with owner_engine.connect() as conn:
        queued = (
            conn.execute(
                text(
                    "SELECT payload FROM ingest_outbox "
                    "WHERE event_type = 'validation.violations_found'"
                )
            )
            .scalars()
            .all()
        )
    assert queued == [{"run_id": runs[0]["id"], "cycle_year": 2021, "new_violations": 2}]
    api.deliver()
    [(to, raw)] = mailbox.messages
    mail = message_from_bytes(raw)
    assert to == ["reviewers@yardstick.example"]
    assert mail["Subject"] == "Yardstick: 2 new validation finding(s) in cycle 2021"
    assert "users_per_ict_fte:modified_z" in mail.get_payload()
    assert _runs(api)["items"][0]["notified_to"] == "reviewers@yardstick.example"
    api.deliver()
    assert len(mailbox.messages) == 1  # delivered once

    # nothing changed: the next pass re-runs nothing
    _monitor(api)
    assert _runs(api)["total"] == 2
    # the peer data changed (metrics recomputed): the cycles re-run, nothing new
    api.metrics.post("/api/v1/benchmarks/recompute", json={}, headers=api.auth("admin"))
    _monitor(api)
    latest = _runs(api)["items"][0]
    assert (latest["cycle_year"], latest["violations"], latest["new_violations"]) == (2021, 2, 0)
    # the submission was returned (no longer under review): its findings are resolved
    returned = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/return",
        json={"reasons": {"users": "Count staff only"}},
        headers=api.auth("admin"),
    )
    assert returned.status_code == 200, returned.text
    _monitor(api)
    latest = _runs(api)["items"][0]
    assert (latest["violations"], latest["resolved"]) == (0, 2)
    still_open = api.ingest.get(
        "/api/v1/validation-violations", params={"cycle": 2021}, headers=api.auth("admin")
    ).json()
    assert still_open["items"] == []
    every = api.ingest.get(
        "/api/v1/validation-violations",
        params={"cycle": 2021, "open": "false"},
        headers=api.auth("admin"),
    ).json()["items"]
    assert all(v["resolved_at"] is not None for v in every) and len(every) == 2


def test_follow_up_list_with_its_states_and_who_may_mark_a_value(api):
    org, sub = _submitted_outlier(api)
    _monitor(api)
    admin = api.auth("admin")
    [violation, _] = api.ingest.get("/api/v1/validation-violations", headers=admin).json()["items"]
    created = api.ingest.post(
        "/api/v1/follow-ups",
        json={
            "submission_id": sub["id"],
            "metric_key": "users_per_ict_fte",
            "question_key": "users",
            "violation_id": violation["id"],
            "note": "Ask whether councillors are in the user count.",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    follow = created.json()
    assert created.headers["location"] == f"/api/v1/follow-ups/{follow['id']}"
    assert (follow["state"], follow["organisation_id"], follow["cycle_year"]) == (
        "open",
        org["id"],
        2021,
    )
    moved = api.ingest.patch(
        f"/api/v1/follow-ups/{follow['id']}", json={"state": "contacted"}, headers=admin
    )
    assert moved.json()["state"] == "contacted"
    assert_problem(
        api.ingest.patch(
            f"/api/v1/follow-ups/{follow['id']}", json={"state": "resolved"}, headers=admin
        ),
        422,
        "resolution_required",
    )
    done = api.ingest.patch(
        f"/api/v1/follow-ups/{follow['id']}",
        json={"state": "resolved", "resolution": "Confirmed: 700 users incl. councillors."},
        headers=admin,
    ).json()
    assert done["state"] == "resolved"
    listed = api.ingest.get("/api/v1/follow-ups", params={"state": "resolved"}, headers=admin)
    assert [f["id"] for f in listed.json()["items"]] == [follow["id"]]
    csv = api.ingest.get("/api/v1/follow-ups", params={"format": "csv"}, headers=admin)
    assert csv.text.splitlines()[0].startswith("id,submission_id,organisation_id,cycle_year")

    body = {"submission_id": sub["id"], "metric_key": "users_per_ict_fte", "note": "x"}
    # a value the caller may not see: 403, naming why
    outsider = api.auth("participant", [org["id"] + 1])
    problem = assert_problem(
        api.ingest.post("/api/v1/follow-ups", json=body, headers=outsider), 403, "value_forbidden"
    )
    assert f"Submission {sub['id']}" in problem["detail"]
    assert_problem(
        api.ingest.post(
            "/api/v1/follow-ups", json=body, headers=api.auth("participant", [org["id"]])
        ),
        403,
        "role_forbidden",
    )
    bad = assert_problem(
        api.ingest.post(
            "/api/v1/follow-ups",
            json={**body, "metric_key": "ict_spend_per_user", "question_key": "nope"},
            headers=admin,
        ),
        422,
        "invalid_follow_up",
    )
    assert [e["field"] for e in bad["errors"]] == ["question_key", "metric_key"]
    assert_problem(api.ingest.get("/api/v1/follow-ups", headers=outsider), 403)
