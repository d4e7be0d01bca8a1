"""Clients that send credentials only after a challenge (Power BI, Excel, curl --anyauth,
httpx and requests with auth flows) are offered HTTP Basic beside Bearer."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from tests.factories import make_org


class ChallengeBasicAuth(httpx.Auth):
    """HTTP Basic sent only when the server asks for it, as BI tools do."""

    def __init__(self, username: str, password: str) -> None:
        self.basic = httpx.BasicAuth(username, password)
        self.statuses: list[int] = []
        self.challenges: list[str] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        self.statuses.append(response.status_code)
        challenge = response.headers.get("www-authenticate", "")
        self.challenges.append(challenge)
        if response.status_code == 401 and "basic" in challenge.lower():
            for with_credentials in self.basic.auth_flow(request):
                response = yield with_credentials
                self.statuses.append(response.status_code)


def test_unauthenticated_401_offers_basic_and_bearer(api):
    r = api.metrics.get("/api/v1/sla/monthly")
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="yardstick"')
    assert 'Basic realm="yardstick", charset="UTF-8"' in challenge


def test_a_client_that_waits_for_the_challenge_gets_in_with_basic(api):
    org = make_org(api)["id"]
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Excel", "role": "reader", "organisations": [org]},
        headers=api.auth(),
    )
    assert created.status_code == 201, created.text
    auth = ChallengeBasicAuth("excel", created.json()["key"])
    got = api.metrics.get(
        "/api/v1/sla/monthly", params={"organisation_id": org, "format": "csv"}, auth=auth
    )
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    # first unauthenticated, challenged with Basic among the schemes, then let in
    assert auth.statuses == [401, 200]
    assert 'Basic realm="yardstick"' in auth.challenges[0]
    # httpx's own BasicAuth (sent up front) works as before
    plain = api.metrics.get(
        "/api/v1/sla/monthly",
        params={"organisation_id": org},
        auth=httpx.BasicAuth("excel", created.json()["key"]),
    )
    assert plain.status_code == 200, plain.text
