import base64
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.factories import assert_problem, make_org


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"powerbi:{key}".encode()).decode()}


def test_api_key_works_as_bearer_and_basic_and_is_scoped(api, owner_engine, caplog):
    mine, other = make_org(api, name="Key Org"), make_org(api, name="Other Org")
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Power BI", "role": "reader", "organisations": [mine["id"]]},
        headers=api.auth(),
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("ys_") and len(key) > 40
    with owner_engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_hash FROM api_keys")).scalar_one()
    assert key.split("_", 2)[2] not in stored, "only a hash is stored"

    with caplog.at_level(logging.DEBUG):
        bearer = api.ingest.get(
            f"/api/v1/organisations/{mine['id']}", headers={"Authorization": f"Bearer {key}"}
        )
        basic = api.ingest.get(f"/api/v1/organisations/{mine['id']}", headers=_basic(key))
    assert bearer.status_code == basic.status_code == 200
    assert key not in caplog.text
    denied = api.ingest.get(f"/api/v1/organisations/{other['id']}", headers=_basic(key))
    assert_problem(denied, 403, "organisation_forbidden")
    # the same key works on the other services too (BI tools read from metrics)
    assert api.metrics.get("/api/v1/computation-runs", headers=_basic(key)).status_code == 403


def test_revoked_and_expired_keys_are_401(api, owner_engine):
    org = make_org(api)
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Tableau", "organisations": [org["id"]]},
        headers=api.auth(),
    ).json()
    key, key_id = created["key"], created["id"]
    revoked = api.ingest.delete(f"/api/v1/api-keys/{key_id}", headers=api.auth())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(
        api.ingest.get("/api/v1/organisations", headers={"Authorization": f"Bearer {key}"}),
        401,
        "api_key_revoked",
    )
    second = api.ingest.post(
        "/api/v1/api-keys",
        json={
            "name": "Soon gone",
            "organisations": [org["id"]],
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=api.auth(),
    ).json()
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": second["id"]},
        )
    assert_problem(
        api.ingest.get("/api/v1/organisations", headers=_basic(second["key"])),
        401,
        "api_key_expired",
    )
    assert_problem(
        api.ingest.get("/api/v1/organisations", headers=_basic("ys_nope_nope")),
        401,
        "api_key_invalid",
    )


def test_participant_keys_are_limited_to_own_organisations(api):
    mine, other = make_org(api), make_org(api)
    headers = api.auth("participant", [mine["id"]], subject="manager@mine")
    assert_problem(
        api.ingest.post(
            "/api/v1/api-keys", json={"name": "x", "organisations": [other["id"]]}, headers=headers
        ),
        403,
        "organisation_forbidden",
    )
    assert_problem(
        api.ingest.post(
            "/api/v1/api-keys",
            json={"name": "x", "role": "admin", "organisations": [mine["id"]]},
            headers=headers,
        ),
        403,
        "role_forbidden",
    )
    ok = api.ingest.post(
        "/api/v1/api-keys", json={"name": "mine", "organisations": [mine["id"]]}, headers=headers
    )
    assert ok.status_code == 201
    listing = api.ingest.get("/api/v1/api-keys", headers=headers).json()
    assert [k["name"] for k in listing["items"]] == ["mine"]
    assert "key" not in listing["items"][0] and "secret_hash" not in listing["items"][0]


def test_unknown_organisation_and_past_expiry_are_422(api):
    assert_problem(
        api.ingest.post(
            "/api/v1/api-keys", json={"name": "x", "organisations": [424242]}, headers=api.auth()
        ),
        422,
    )
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert_problem(
        api.ingest.post(
            "/api/v1/api-keys", json={"name": "x", "expires_at": past}, headers=api.auth()
        ),
        422,
    )
