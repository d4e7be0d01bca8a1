"""Survey test helpers: a real SMTP server in-process (aiosmtpd) and campaign set-up."""

from __future__ import annotations

import email
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shared.auth import mint_service_token
from shared.testing.browser import free_port as _free_port
from tests.factories import make_org

LINK = re.compile(r"/s/([A-Za-z0-9_-]{43})(?!/opt-out)(?=\s|$|\")")


@dataclass
class Delivered:
    to: list[str]
    message: Message

    @property
    def text(self) -> str:
        for part in self.message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        raise AssertionError("no text part")

    @property
    def token(self) -> str:
        found = LINK.findall(self.text)
        assert len(set(found)) == 1, found
        return found[0]


@dataclass
class Sink:
    messages: list[Delivered] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(
                Delivered(list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Delivered]:
        return [m for m in self.messages if address in m.to]


@pytest.fixture
def smtp(api, monkeypatch):
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(api.settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(api.settings, "smtp_port", port)
    monkeypatch.setattr(api.settings, "smtp_tls", "none")
    yield sink
    controller.stop()


def run_jobs(api, job: str = "all", now: datetime | None = None) -> dict[str, int]:
    token = mint_service_token(api.settings, "worker")
    body: dict[str, Any] = {"now": now.isoformat()} if now else {}
    response = api.survey.post(
        f"/internal/jobs/{job}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return {r["job"]: r["count"] for r in response.json()}


def make_campaign(api, org: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    org = org or make_org(api)
    body = {"organisation_id": org["id"], "kind": "user_satisfaction", "users_in_scope": 313}
    body.update(overrides)
    response = api.survey.post(
        "/api/v1/campaigns", json=body, headers=api.auth("participant", [org["id"]])
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def staff(api, campaign: dict[str, Any]) -> dict[str, str]:
    return api.auth("participant", [campaign["organisation_id"]])


def upload(api, campaign, addresses: list[str], content_type: str = "text/csv"):
    csv_text = "email\n" + "\n".join(addresses) + "\n"
    return api.survey.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients",
        content=csv_text.encode(),
        headers={**staff(api, campaign), "Content-Type": content_type},
    )


def full_answers(seed: int = 0) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for i in range(1, 21):
        answers[f"S{i}.satisfaction"] = 1 + (i + seed) % 7
        answers[f"S{i}.importance"] = 1 + (i * 3 + seed) % 7
    answers["overall"] = 1 + seed % 7
    answers["improvement"] = 1 + (seed + 3) % 7
    answers["nps"] = seed % 11
    return answers


TODAY = date.today
