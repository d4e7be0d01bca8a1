"""A mail that cannot be built (issue 9, item 7): data that got past input validation (a
title with CR/LF written before validation existed, an address the mail library refuses)
must not leave the mail step answering 500 while the campaign shows ``live``. The mail step
records the failure per message, the campaign shows it, its contact is told once."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from services.survey.mail import smtp
from services.survey.privacy import encrypt_address
from shared.auth import mint_service_token
from shared.settings import Settings
from tests.survey.conftest import Sink, _free_port, make_campaign, staff, upload

ADDRESSES = [f"person{i}@council.gov.uk" for i in range(3)]
CONTACT = "survey-owner@council.gov.uk"


def _mail_events(owner_engine, campaign_id: int) -> list[dict[str, Any]]:
    with owner_engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT o.event_type, o.status, o.attempts, o.last_error, o.payload "
                    "FROM survey_outbox o WHERE o.event_type LIKE 'survey.mail.%' AND "
                    "((o.payload->>'campaign_id')::int = :cid OR (o.payload->>'invitation_id')"
                    "::bigint IN (SELECT id FROM survey_invitations WHERE campaign_id = :cid)) "
                    "ORDER BY o.id"
                ),
                {"cid": campaign_id},
            ).mappings()
        ]


def _invitations(owner_engine, campaign_id: int) -> list[dict[str, Any]]:
    with owner_engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT i.id, i.invitation_queued, i.mails_sent, i.bounced, "
                    "(SELECT count(*) FROM survey_invitation_tokens t "
                    " WHERE t.invitation_id = i.id) AS tokens "
                    "FROM survey_invitations i WHERE i.campaign_id = :cid ORDER BY i.id"
                ),
                {"cid": campaign_id},
            ).mappings()
        ]


def test_a_title_with_a_line_break_marks_the_campaign_and_tells_its_contact_once(
    api, smtp, owner_engine, monkeypatch
):
    monkeypatch.setattr(api.settings, "survey_mail_problems_to", CONTACT)
    campaign = make_campaign(api)
    cid = campaign["id"]
    assert upload(api, campaign, ADDRESSES).status_code == 200
    # Stored as it was before input validation refused control characters.
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE survey_campaigns SET title = :t WHERE id = :id"),
            {"t": "Staff survey\r\nBcc: someone@elsewhere.example", "id": cid},
        )

    r = api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    assert r.status_code == 202 and r.json() == {"queued": 3, "status": "live"}
    api.deliver()

    # Every mail event was handled (no 500, no retries, nothing dead or still pending).
    events = _mail_events(owner_engine, cid)
    assert [(e["event_type"], e["status"], e["attempts"]) for e in events] == [
        ("survey.mail.invitation", "delivered", 1)
    ] * 3 + [("survey.mail.failed", "delivered", 1)] * 3
    assert {e["payload"]["reason_code"] for e in events[3:]} == {"title"}
    # Nothing went to a recipient; the contact got exactly one notice.
    assert [m.to for m in smtp.messages] == [[CONTACT]]
    notice = smtp.messages[0]
    assert str(cid) in notice.message["Subject"] and "\n" not in notice.message["Subject"]
    assert "title" in notice.text and "PATCH" in notice.text
    assert notice.message["Bcc"] is None
    # Each message is marked failed: no token left behind, not counted as sent, and the
    # invitation is no longer queued, so a send after the fix queues it again.
    assert [
        (i["invitation_queued"], i["mails_sent"], i["bounced"], i["tokens"])
        for i in _invitations(owner_engine, cid)
    ] == [(False, 0, False, 0)] * 3

    shown = api.survey.get(f"/api/v1/campaigns/{cid}", headers=staff(api, campaign)).json()
    assert shown["status"] == "live"
    assert shown["mail_failed_count"] == 3
    assert shown["mail_problem"]["kind"] == "invitation"
    assert "title contains a line break" in shown["mail_problem"]["reason"]
    listed = api.survey.get("/api/v1/campaigns", headers=staff(api, campaign)).json()
    assert [(c["id"], c["mail_failed_count"]) for c in listed["items"]] == [(cid, 3)]

    # The owner corrects the title and sends again: the three invitations go out, and no
    # second notice is sent for the same problem.
    r = api.survey.patch(
        f"/api/v1/campaigns/{cid}", json={"title": "Staff survey"}, headers=staff(api, campaign)
    )
    assert r.status_code == 200, r.text
    r = api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    assert r.json()["queued"] == 3
    api.deliver()
    assert sorted(a for m in smtp.messages[1:] for a in m.to) == ADDRESSES
    assert [i["mails_sent"] for i in _invitations(owner_engine, cid)] == [1, 1, 1]


def test_addresses_the_mail_library_refuses_are_marked_and_the_rest_are_sent(
    api, smtp, owner_engine
):
    campaign = make_campaign(api)
    cid = campaign["id"]
    assert upload(api, campaign, ADDRESSES).status_code == 200
    enc = api.settings.survey_encryption_key_bytes()
    # Written directly (the upload refuses them), as old data would be: a header injection
    # and an address without a local part.
    bad = ["a@council.gov.uk\r\nBcc: x@elsewhere.example", "@elsewhere.example"]
    with owner_engine.begin() as conn:
        for address in bad:
            conn.execute(
                text(
                    "INSERT INTO survey_invitations (campaign_id, address_encrypted, "
                    "address_hash) VALUES (:cid, :enc, :hash)"
                ),
                {
                    "cid": cid,
                    "enc": encrypt_address(address, enc, context=f"campaign:{cid}".encode()),
                    "hash": hashlib.sha256(address.encode()).hexdigest(),
                },
            )

    r = api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    assert r.json()["queued"] == 5
    api.deliver()

    assert sorted(a for m in smtp.messages for a in m.to) == ADDRESSES  # no contact set
    events = _mail_events(owner_engine, cid)
    assert all(e["status"] == "delivered" and e["attempts"] == 1 for e in events), events
    failed = [e["payload"] for e in events if e["event_type"] == "survey.mail.failed"]
    assert sorted(p["reason_code"] for p in failed) == ["address", "address"]
    # Neither the reason nor the logs carry the address.
    assert not any("elsewhere" in p["reason"] for p in failed)
    assert [(i["mails_sent"], i["bounced"]) for i in _invitations(owner_engine, cid)] == [
        (1, False)
    ] * 3 + [(0, True)] * 2
    shown = api.survey.get(f"/api/v1/campaigns/{cid}", headers=staff(api, campaign)).json()
    assert shown["mail_failed_count"] == 2
    assert "address cannot be used" in shown["mail_problem"]["reason"]
    # A second send does not try the unusable addresses again.
    assert (
        api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign)).json()[
            "queued"
        ]
        == 0
    )


def test_the_mail_step_answers_200_failed_for_a_message_it_cannot_build(api, smtp, owner_engine):
    campaign = make_campaign(api)
    cid = campaign["id"]
    assert upload(api, campaign, ADDRESSES[:1]).status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE survey_campaigns SET title = 'A\nB', status = 'live' WHERE id = :id"),
            {"id": cid},
        )
        (invitation_id,) = conn.execute(
            text("SELECT id FROM survey_invitations WHERE campaign_id = :id"), {"id": cid}
        ).one()
    token = mint_service_token(api.settings, "worker")
    r = api.survey.post(
        "/internal/mail",
        json={
            "event_type": "survey.mail.invitation",
            "payload": {"kind": "invitation", "invitation_id": invitation_id},
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "test:1"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"outcome": "failed"}
    assert smtp.messages == []


def test_a_server_without_smtputf8_refusing_an_address_is_unbuildable_not_a_retry():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port(), enable_SMTPUTF8=False)
    controller.start()
    try:
        settings = Settings(
            smtp_host="127.0.0.1", smtp_port=controller.port, smtp_timeout_seconds=10
        )
        message = smtp.build_message(settings, "jöhn@council.gov.uk", "Survey", "text", "<p>h</p>")
        with pytest.raises(smtp.Unbuildable) as caught:
            smtp.send(settings, message)
        assert caught.value.part == "to" and "jöhn" not in str(caught.value)
        assert sink.messages == []
    finally:
        controller.stop()
