"""Every way a credential can be wrong gets 401/403 with a problem body, and no log line
carries the token."""

import base64
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from shared.auth import decode_jwt, principal_from_claims, user_token_keys
from shared.errors import Unauthorized
from tests.factories import assert_problem, make_org


def _claims(**overrides):
    now = int(time.time())
    base = {
        "sub": "u1",
        "roles": ["admin"],
        "orgs": [],
        "iss": "yardstick-local",
        "aud": "yardstick",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return base


def _hs(settings, **overrides):
    return jwt.encode(_claims(**overrides), settings.jwt_hs256_secret.get_secret_value(), "HS256")


@pytest.fixture(scope="module")
def rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _get(api, token):
    return api.ingest.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "token_expired"),
        ({"aud": "someone-else"}, "token_audience"),
        ({"iss": "https://evil.example"}, "token_issuer"),
    ],
)
def test_bad_claims_are_401_and_not_logged(api, settings, caplog, overrides, code):
    token = _hs(settings, **overrides)
    with caplog.at_level(logging.DEBUG):
        response = _get(api, token)
    assert_problem(response, 401, code)
    assert token not in caplog.text
    assert token not in response.text


def test_alg_none_is_refused(api, settings):
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    import json

    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    body = assert_problem(_get(api, f"{header}.{payload}."), 401, "token_algorithm")
    assert "'none'" in body["detail"]


def test_hs256_signed_with_the_rs256_public_key_is_refused(settings, rsa_pair):
    private, public = rsa_pair
    rs_settings = settings.model_copy(
        update={"jwt_public_key_pem": public, "jwt_hs256_secret": None}
    )
    keys = user_token_keys(rs_settings)
    good = jwt.encode(_claims(), private, algorithm="RS256")
    assert (
        decode_jwt(good, keys=keys, audience="yardstick", issuer="yardstick-local")["sub"] == "u1"
    )
    # Classic key-confusion forgery: HMAC with the public key as the secret. python-jose
    # refuses to use a PEM as an HMAC secret, so forge it by hand.
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(_claims()).encode())
    sig = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + b64(sig)
    with pytest.raises(Unauthorized) as err:
        decode_jwt(forged, keys=keys, audience="yardstick", issuer="yardstick-local")
    assert err.value.code == "token_algorithm"


def test_rs256_via_jwks(settings, rsa_pair):
    import json

    from jose import jwk

    private, public = rsa_pair
    jwks = {"keys": [{**jwk.construct(public, "RS256").to_dict(), "kid": "k1", "use": "sig"}]}
    rs_settings = settings.model_copy(
        update={"jwt_jwks_json": json.dumps(jwks), "jwt_hs256_secret": None}
    )
    token = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k1"})
    claims = decode_jwt(
        token, keys=user_token_keys(rs_settings), audience="yardstick", issuer="yardstick-local"
    )
    assert principal_from_claims(claims).is_admin
    wrong_kid = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "other"})
    with pytest.raises(Unauthorized):
        decode_jwt(
            wrong_kid,
            keys=user_token_keys(rs_settings),
            audience="yardstick",
            issuer="yardstick-local",
        )


def test_missing_and_garbage_credentials(api):
    assert_problem(api.ingest.get("/api/v1/organisations"), 401, "no_credentials")
    assert_problem(_get(api, "not-a-jwt"), 401, "token_malformed")
    response = api.ingest.get("/api/v1/organisations", headers={"Authorization": "Digest xyz"})
    assert_problem(response, 401, "no_credentials")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_token_without_a_role_is_403(api, settings):
    assert_problem(_get(api, _hs(settings, roles=["superuser"])), 403, "no_role")


def test_participant_asking_for_another_organisation_is_403(api):
    mine, other = make_org(api), make_org(api)
    response = api.ingest.get(
        f"/api/v1/organisations/{other['id']}", headers=api.auth("participant", [mine["id"]])
    )
    assert_problem(response, 403, "organisation_forbidden")


def test_production_refuses_default_secrets():
    from pydantic import ValidationError

    from shared.settings import Settings

    with pytest.raises(ValidationError, match="development default secrets"):
        Settings(environment="production", database_url="postgresql://x/y")


def test_unreachable_jwks_is_a_503_problem(settings, database_url):
    from fastapi.testclient import TestClient

    from services.ingest.main import build
    from shared import auth

    down = settings.model_copy(update={"jwt_jwks_url": "http://127.0.0.1:9/jwks.json"})
    token = jwt.encode(_claims(), "x" * 32, algorithm="HS256")
    with TestClient(build(settings=down, database_url=database_url)) as client:
        response = client.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 503, "jwks_unavailable")
    assert auth._keys_cache.get(id(down)) is None  # nothing half-cached


# ------------------------------------------------- required claims, time claims (#9 item 2)

# One authenticated read per service, and one internal (service-token) endpoint per service.
_READS = {
    "ingest": "/api/v1/organisations",
    "metrics": "/api/v1/sla/monthly",
    "survey": "/api/v1/campaigns",
}
_INTERNAL = {
    "ingest": "/internal/ticket-imports/1/process",
    "metrics": "/internal/events",
    "survey": "/internal/jobs/all",
}


def _without(claims: dict, name: str) -> dict:
    return {k: v for k, v in claims.items() if k != name}


def _service_claims(**overrides):
    from shared.auth import SERVICE_AUDIENCE, SERVICE_ISSUER

    now = int(time.time())
    base = {
        "sub": "service:worker",
        "roles": ["service"],
        "iss": SERVICE_ISSUER,
        "aud": SERVICE_AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return base


def _service_token(settings, claims: dict) -> str:
    return jwt.encode(claims, settings.service_token_secret.get_secret_value(), "HS256")


@pytest.mark.parametrize("service", sorted(_READS))
@pytest.mark.parametrize("claim", ["aud", "iss", "exp", "sub"])
def test_a_user_token_missing_a_required_claim_is_401_naming_it(api, settings, service, claim):
    secret = settings.jwt_hs256_secret.get_secret_value()
    token = jwt.encode(_without(_claims(), claim), secret, "HS256")
    response = getattr(api, service).get(
        _READS[service], headers={"Authorization": f"Bearer {token}"}
    )
    body = assert_problem(response, 401, "token_claim_missing")
    assert body["claim"] == claim and repr(claim) in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("service", sorted(_INTERNAL))
@pytest.mark.parametrize("claim", ["aud", "iss", "exp", "sub"])
def test_a_service_token_missing_a_required_claim_is_401_naming_it(api, settings, service, claim):
    token = _service_token(settings, _without(_service_claims(), claim))
    response = getattr(api, service).post(
        _INTERNAL[service], json={}, headers={"Authorization": f"Bearer {token}"}
    )
    body = assert_problem(response, 401, "token_claim_missing")
    assert body["claim"] == claim


@pytest.mark.parametrize("service", sorted(_READS))
@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_from_the_future_is_401_beyond_the_leeway_only(api, settings, service, claim):
    client = getattr(api, service)
    leeway = settings.jwt_leeway_seconds
    late = _hs(settings, **{claim: int(time.time()) + 86_400})  # a day ahead
    body = assert_problem(
        client.get(_READS[service], headers={"Authorization": f"Bearer {late}"}),
        401,
        "token_not_yet_valid",
    )
    assert body["claim"] == claim and f"{leeway} s" in body["detail"]
    skewed = _hs(settings, **{claim: int(time.time()) + leeway // 2})  # clock skew: accepted
    assert (
        client.get(_READS[service], headers={"Authorization": f"Bearer {skewed}"}).status_code
        == 200
    )


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_service_token_from_the_future_is_401(api, settings, claim):
    token = _service_token(settings, _service_claims(**{claim: int(time.time()) + 3600}))
    response = api.metrics.post(
        "/internal/events", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 401, "token_not_yet_valid")


def test_the_leeway_is_applied_exactly():
    from shared.auth import VerificationKey

    keys = [VerificationKey("HS256", "s" * 32)]
    now = 1_800_000_000
    kw = {"keys": keys, "audience": "yardstick", "issuer": "yardstick-local", "leeway": 60}

    def decode(**overrides):
        claims = {**_claims(iat=now, exp=now + 600), **overrides}
        return decode_jwt(jwt.encode(claims, "s" * 32, "HS256"), now=now, **kw)

    assert decode(iat=now + 60)["sub"] == "u1"
    assert decode(nbf=now + 60)["sub"] == "u1"
    assert decode(exp=now - 60)["sub"] == "u1"
    for overrides, code in [
        ({"iat": now + 61}, "token_not_yet_valid"),
        ({"nbf": now + 61}, "token_not_yet_valid"),
        ({"exp": now - 61}, "token_expired"),
    ]:
        with pytest.raises(Unauthorized) as err:
            decode(**overrides)
        assert err.value.code == code, overrides


@pytest.mark.parametrize(
    "overrides",
    [
        {"iat": [1]},  # python-jose raised TypeError on this: a 500
        {"iat": "yesterday"},
        {"exp": "never"},
        {"exp": True},
        {"nbf": {"a": 1}},
        {"sub": 42},
        {"aud": ["other", "another"]},
    ],
)
def test_malformed_claims_are_401(api, settings, overrides):
    response = _get(api, _hs(settings, **overrides))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_audience_list_that_contains_ours_is_accepted(api, settings):
    assert _get(api, _hs(settings, aud=["other", "yardstick"])).status_code == 200


# ----------------------------------------------- odd bytes in credentials (#9 item 3, first half)

_ODD_AUTHORIZATION = {
    "basic non-ASCII bytes": b"Basic \xff\xfe\xc3\xa9",
    "basic non-ASCII inside base64": b"Basic eXM6\xe9\xe9",
    "basic bad base64": b"Basic !!!not-base64!!!",
    "basic bad padding": b"Basic eXM",
    "basic decodes to non-UTF-8": b"Basic " + base64.b64encode(b"u:\xff\xfe"),
    "basic no colon": b"Basic " + base64.b64encode(b"ys_abcdef012345_secret"),
    "basic NUL in key prefix": b"Basic " + base64.b64encode(b"u:ys_ab\x00cd_secretsecret"),
    "basic NUL in key secret": b"Basic " + base64.b64encode(b"u:ys_abcdef012345_sec\x00ret"),
    "basic non-ASCII in key": b"Basic " + base64.b64encode("u:ys_abé_secret".encode()),
    "basic password not a key": b"Basic " + base64.b64encode(b"u:hunter2"),
    "bearer key with NUL": b"Bearer ys_ab\x00cd_secretsecret",
    "bearer key non-ASCII": b"Bearer ys_ab\xe9cd_secret\xff",
    "bearer key with control char": b"Bearer ys_abcdef012345_se\x01cret",
    "bearer key without a secret": b"Bearer ys_abcdef012345",
    "bearer JWT non-ASCII": b"Bearer \xe9yJ.\xff.\xfe",
}


@pytest.mark.parametrize("service", sorted(_READS))
@pytest.mark.parametrize("label", sorted(_ODD_AUTHORIZATION))
def test_odd_bytes_in_credentials_are_401_with_a_challenge(api, service, label):
    response = getattr(api, service).get(
        _READS[service], headers=[(b"Authorization", _ODD_AUTHORIZATION[label])]
    )
    body = assert_problem(response, 401)
    assert body["code"] in {"no_credentials", "api_key_invalid", "token_malformed"}, body
    assert "www-authenticate" in response.headers
    if label.startswith("basic"):
        assert "Basic" in response.headers["www-authenticate"]


def test_a_real_api_key_still_works_as_basic_password_and_bearer(api):
    org = make_org(api)
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "bi", "role": "reader", "organisations": [org["id"]]},
        headers=api.auth("admin"),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    basic = base64.b64encode(f"powerbi:{key}".encode()).decode()
    for header in (f"Basic {basic}", f"Bearer {key}"):
        response = api.ingest.get(
            f"/api/v1/organisations/{org['id']}", headers={"Authorization": header}
        )
        assert response.status_code == 200, response.text
