"""A campaign end to end through a real SMTP server: upload, invitations, reminders,
submissions through the mailed links, close, results; then no address or token anywhere."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.survey.clock import closes_at
from tests.factories import assert_problem
from tests.survey.conftest import full_answers, make_campaign, run_jobs, staff, upload

ADDRESSES = [f"person{i}@council{i % 3}.gov.uk" for i in range(12)]


def test_campaign_through_smtp_leaves_no_address_or_token_anywhere(api, smtp, owner_engine, caplog):
    caplog.set_level(logging.DEBUG)
    campaign = make_campaign(api, reminder_count=2, reminder_interval_days=3)
    cid = campaign["id"]
    r = upload(api, campaign, [a.upper() for a in ADDRESSES[:8]] + [ADDRESSES[0]])
    assert r.status_code == 200, r.text
    assert (r.json()["new"], r.json()["merged"]) == (8, 1)
    r = api.survey.post(
        f"/api/v1/campaigns/{cid}/recipients",
        json=[{"email": a} for a in ADDRESSES[4:]],
        headers=staff(api, campaign),
    )
    assert (r.json()["new"], r.json()["merged"], r.json()["recipients"]) == (4, 4, 12)

    r = api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    assert r.status_code == 202 and r.json()["queued"] == 12
    api.deliver()
    assert sorted(a for m in smtp.messages for a in m.to) == sorted(ADDRESSES)
    tokens = {m.to[0]: m.token for m in smtp.messages}
    assert len(set(tokens.values())) == 12

    # A second send queues nothing; respond with 5 of them (one through the HTML form).
    r = api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    assert r.json()["queued"] == 0
    for i, address in enumerate(ADDRESSES[:5]):
        answers = full_answers(i) | {"comment": f"Comment number {i}"}
        r = api.survey.post(
            f"/api/v1/respond/{tokens[address]}/submission", json={"answers": answers}
        )
        assert r.status_code == 201, r.text
    api.survey.post(f"/s/{tokens[ADDRESSES[5]]}/opt-out")

    # Reminders: only the 6 who neither responded nor opted out, once per interval.
    sent_before = len(smtp.messages)
    now = datetime.now(UTC)
    assert run_jobs(api, "reminders", now)["reminders"] == 0  # interval not yet passed
    later = now + timedelta(days=3, minutes=1)
    assert run_jobs(api, "reminders", later)["reminders"] == 6
    assert run_jobs(api, "reminders", later)["reminders"] == 0  # running twice: nothing extra
    api.deliver()
    reminded = smtp.messages[sent_before:]
    assert sorted(m.to[0] for m in reminded) == sorted(ADDRESSES[6:])
    assert all(m.message["Subject"].startswith("Reminder") for m in reminded)
    # The reminder's link opens the same invitation: used once, the older link is used too.
    new_token = reminded[0].token
    r = api.survey.post(
        f"/api/v1/respond/{new_token}/submission", json={"answers": full_answers(9)}
    )
    assert r.status_code == 201
    old_token = tokens[reminded[0].to[0]]
    assert_problem(
        api.survey.post(
            f"/api/v1/respond/{old_token}/submission", json={"answers": full_answers()}
        ),
        409,
        "already_submitted",
    )
    # Second reminder after another interval; the limit of 2 then stops them.
    assert run_jobs(api, "reminders", later + timedelta(days=3, minutes=1))["reminders"] == 5
    assert run_jobs(api, "reminders", later + timedelta(days=30))["reminders"] == 0

    # Close (at 24:00 London on the closing date), then results through the outbox.
    close_time = closes_at(datetime.fromisoformat(campaign["closes_at"]).date()) + timedelta(days=1)
    assert run_jobs(api, "close", close_time)["close"] == 1
    api.deliver()
    r = api.survey.get(f"/s/{tokens[ADDRESSES[11]]}")
    assert r.status_code == 410 and "closed" in r.text
    results = api.metrics.get(
        f"/api/v1/survey-results/campaigns/{cid}", headers=staff(api, campaign)
    )
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["final"] is True
    assert body["response_rate"]["text"] == "1.9% (6 out of 313)"
    assert len(body["factors"]) == 20

    # Nothing anywhere carries an address or a token.
    all_tokens = set(tokens.values()) | {m.token for m in reminded}
    exports = [results.text]
    for path in ("factors", "breakdowns", "comments"):
        for fmt in ("json", "csv"):
            r = api.metrics.get(
                f"/api/v1/survey-results/campaigns/{cid}/{path}?format={fmt}",
                headers=staff(api, campaign),
            )
            assert r.status_code == 200, r.text
            exports.append(r.text)
    exports.append(api.metrics.get("/api/v1/survey-results/nps", headers=staff(api, campaign)).text)
    with owner_engine.connect() as conn:
        dump = json.dumps(
            [list(map(str, row)) for row in conn.execute(text("SELECT * FROM survey_responses"))]
        )
        outbox = json.dumps(
            [list(map(str, row)) for row in conn.execute(text("SELECT * FROM survey_outbox"))]
        )
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'survey_responses'"
                )
            ).scalars()
        )
    assert columns == {"organisation_id", "id", "campaign_id", "response_date", "answers"}
    access_line = f'127.0.0.1:5000 - "GET /s/{old_token} HTTP/1.1" 200'
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/s/{old_token}", "1.1", 200
    )
    logging.getLogger("services.survey").warning("sending to %s", ADDRESSES[0])
    # "mail.log" is the test's own SMTP server (aiosmtpd): the mail system, not Yardstick.
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert "[token redacted]" in logs and "[email redacted]" in logs
    haystacks = {"exports": "\n".join(exports), "responses": dump, "outbox": outbox, "logs": logs}
    for where, hay in haystacks.items():
        for address in ADDRESSES:
            assert address not in hay.lower(), (where, address)
        for token in all_tokens:
            assert token not in hay, (where, token)
    assert old_token in access_line  # the check above would have caught an unredacted line

    # Erasure after the retention period (30 days by default), time injected.
    assert run_jobs(api, "erasure", close_time + timedelta(days=29))["erasure"] == 0
    assert run_jobs(api, "erasure", close_time + timedelta(days=31))["erasure"] == 12
    assert run_jobs(api, "erasure", close_time + timedelta(days=32))["erasure"] == 0
    with owner_engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT count(*) FROM survey_invitations WHERE address_encrypted IS NOT NULL "
                "OR address_hash IS NOT NULL"
            )
        ).scalar()
        tokens_left = conn.execute(text("SELECT count(*) FROM survey_invitation_tokens")).scalar()
        responses = conn.execute(text("SELECT count(*) FROM survey_responses")).scalar()
    assert (left, tokens_left, responses) == (0, 0, 6)
    assert api.survey.get(f"/s/{old_token}").status_code == 404


def test_fifty_simultaneous_submissions_store_exactly_one(api, smtp, owner_engine):
    campaign = make_campaign(api)
    upload(api, campaign, ["race@example.gov.uk"])
    api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    api.deliver()
    token = smtp.messages[0].token
    answers = {"answers": full_answers(1)}

    def submit(_: int) -> int:
        return api.survey.post(f"/api/v1/respond/{token}/submission", json=answers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(submit, range(50)))
    assert sorted(set(codes)) == [201, 409], codes
    assert codes.count(201) == 1
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 1
    # A retry of the HTML form after a network failure: thank-you page, nothing stored.
    r = api.survey.post(
        f"/s/{token}", data={"page": "4", "action": "submit"}, follow_redirects=True
    )
    assert r.status_code == 200 and "Thank you" in r.text
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 1
