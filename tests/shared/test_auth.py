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
