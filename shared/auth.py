"""Authentication and authorisation for every service.

- JWTs are decoded in exactly one function, :func:`decode_jwt`, with the algorithm pinned
  per key (RS256 for a configured PEM/JWKS, e.g. Microsoft Entra ID; HS256 for the local
  development secret), and issuer and audience pinned. The token header only selects
  which configured key to try; it never chooses the algorithm a key is verified with.
- API keys (``ys_<prefix>_<secret>``) are random, stored as an HMAC of the secret, scoped
  to organisations and one role, expire and can be revoked. They are accepted as
  ``Authorization: Bearer`` and as the password of HTTP Basic auth (Power BI, Tableau).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from jose import jwk, jws, jwt
from jose.exceptions import JOSEError, JWTError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import AUTH_CHALLENGE, Forbidden, ProblemError, Unauthorized
from shared.observability import note_principal
from shared.settings import Settings

ROLES = ("admin", "participant", "partner", "reader")
SERVICE_AUDIENCE = "yardstick-internal"
SERVICE_ISSUER = "yardstick-services"
API_KEY_PREFIX = "ys_"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    organisations: frozenset[int] = field(default_factory=frozenset)
    via: str = "jwt"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))

    def can_see_organisation(self, organisation_id: int) -> bool:
        return self.is_admin or organisation_id in self.organisations

    def require_organisation(self, organisation_id: int) -> None:
        if not self.can_see_organisation(organisation_id):
            raise Forbidden(
                f"Your credentials are not scoped to organisation {organisation_id}; "
                "ask an administrator to add it to your account or API key.",
                code="organisation_forbidden",
            )


# --------------------------------------------------------------------------- JWT


@dataclass(frozen=True)
class VerificationKey:
    algorithm: str  # pinned: the only algorithm this key verifies
    key: Any
    kid: str | None = None


def _jwks_keys(settings: Settings) -> list[dict[str, Any]]:
    """The JWKS's keys; fetched afresh each call (the caller caches the parsed keys)."""
    if settings.jwt_jwks_json:
        keys: list[dict[str, Any]] = json.loads(settings.jwt_jwks_json)["keys"]
        return keys
    if not settings.jwt_jwks_url:
        return []
    try:
        response = httpx.get(settings.jwt_jwks_url, timeout=5.0)
        response.raise_for_status()
        fetched: list[dict[str, Any]] = response.json()["keys"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ProblemError(
            "The identity provider's signing keys could not be fetched; try again shortly.",
            status=503,
            code="jwks_unavailable",
            title="Service unavailable",
        ) from exc
    return fetched


# Verification keys per Settings object, parsed once (a PEM or JWK parsed per request
# costs more than the signature check). Entry: (settings, expires at, keys); holding the
# settings object keeps its id from being reused. Keys from a JWKS URL are refetched
# after five minutes, so a key rotation at the identity provider is picked up.
_keys_cache: dict[int, tuple[Settings, float, list[VerificationKey]]] = {}
_KEYS_CACHE_SIZE = 16


def cached_user_token_keys(settings: Settings) -> list[VerificationKey] | None:
    """The parsed keys for ``settings`` if cached and current, else None (no I/O)."""
    cached = _keys_cache.get(id(settings))
    if cached is not None and cached[0] is settings and cached[1] > time.monotonic():
        return cached[2]
    return None


def user_token_keys(settings: Settings) -> list[VerificationKey]:
    """The keys user tokens may be signed with, each pinned to its algorithm, as parsed
    key objects (cached per settings object; JWKS URL keys refetched every 5 minutes)."""
    cached = cached_user_token_keys(settings)
    if cached is not None:
        return cached
    now = time.monotonic()
    keys: list[VerificationKey] = []
    if settings.jwt_public_key_pem:
        keys.append(VerificationKey("RS256", jwk.construct(settings.jwt_public_key_pem, "RS256")))
    for entry in _jwks_keys(settings):
        if entry.get("kty") == "RSA" and entry.get("use", "sig") == "sig":
            keys.append(VerificationKey("RS256", jwk.construct(entry, "RS256"), entry.get("kid")))
    if settings.jwt_hs256_secret is not None:
        secret = settings.jwt_hs256_secret.get_secret_value()
        keys.append(VerificationKey("HS256", jwk.construct(secret, "HS256")))
    expires = now + 300 if settings.jwt_jwks_url else float("inf")
    if len(_keys_cache) >= _KEYS_CACHE_SIZE:
        _keys_cache.clear()
    _keys_cache[id(settings)] = (settings, expires, keys)
    return keys


# Claims every token must carry (user and service tokens alike), in the order they are
# checked, with what each one is for: the 401 for a missing one names it.
REQUIRED_CLAIMS = {
    "iss": "who issued it",
    "aud": "who it is for",
    "sub": "who it is about",
    "exp": "when it expires",
}
DEFAULT_LEEWAY_SECONDS = 30


def decode_jwt(
    token: str,
    *,
    keys: list[VerificationKey],
    audience: str,
    issuer: str,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify ``token`` and return its claims, or raise :class:`Unauthorized`.

    The only place in Yardstick where a JWT is decoded, for user tokens (from the identity
    provider or ``yardstick token``) and for service-to-service tokens alike:

    - the signature is checked with a configured key, with the algorithm pinned per key;
    - ``iss``, ``aud``, ``sub`` and ``exp`` must all be present (a missing one is a 401
      ``token_claim_missing`` that names it); ``iss`` must equal ``issuer``; ``aud`` must
      be ``audience`` or a list that contains it; ``sub`` must be a non-empty string;
    - time claims are NumericDates (seconds since 1970) checked against the clock with
      ``leeway`` seconds allowed for clock skew (the ``YARDSTICK_JWT_LEEWAY_SECONDS``
      setting, 30 s by default): ``exp`` more than the leeway in the past is
      ``token_expired``; ``nbf`` or ``iat`` more than the leeway in the future is
      ``token_not_yet_valid`` (a token from the future is refused, not trusted).

    Claims are validated here rather than by python-jose, which accepts a token without
    ``aud`` and never checks that ``iat`` is in the past.
    """
    try:
        header = jwt.get_unverified_header(token)
    except JWTError:
        raise Unauthorized(
            "The bearer token is not a well-formed JWT.", code="token_malformed"
        ) from None
    alg, kid = header.get("alg"), header.get("kid")
    candidates = [k for k in keys if k.algorithm == alg and (kid is None or k.kid in (None, kid))]
    if not candidates:
        accepted = sorted({k.algorithm for k in keys}) or ["none configured"]
        raise Unauthorized(
            f"Tokens signed with {alg!r} are not accepted here; accepted: {', '.join(accepted)}.",
            code="token_algorithm",
        )
    last_error = "signature verification failed"
    for candidate in candidates:
        try:
            payload = jws.verify(token, candidate.key, algorithms=[candidate.algorithm])
        except JOSEError as exc:
            last_error = str(exc) or last_error
            continue
        try:
            claims = json.loads(payload)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise Unauthorized(
                "The token's payload is not a JSON object of claims.", code="token_malformed"
            )
        _check_claims(
            claims,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            now=time.time() if now is None else now,
        )
        return claims
    raise Unauthorized(f"The token could not be verified ({last_error}).", code="token_invalid")


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(
            f"The token's {name!r} claim must be a number of seconds since 1970 (NumericDate).",
            code="token_claims",
            claim=name,
        )
    return float(value)


def _check_claims(
    claims: dict[str, Any], *, audience: str, issuer: str, leeway: int, now: float
) -> None:
    for name, meaning in REQUIRED_CLAIMS.items():
        if claims.get(name) in (None, "", []):
            raise Unauthorized(
                f"The token has no {name!r} claim ({meaning}); every token must carry "
                f"{', '.join(repr(c) for c in REQUIRED_CLAIMS)}.",
                code="token_claim_missing",
                claim=name,
            )
    exp = _numeric_date(claims, "exp")
    nbf = _numeric_date(claims, "nbf")
    iat = _numeric_date(claims, "iat")
    if claims["iss"] != issuer:
        raise Unauthorized(
            f"The token's issuer is wrong; it must be {issuer!r}.", code="token_issuer"
        )
    aud = claims["aud"]
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise Unauthorized(
            f"The token's audience is wrong; it must be {audience!r}.", code="token_audience"
        )
    if not isinstance(claims["sub"], str):
        raise Unauthorized(
            "The token's 'sub' claim must be a string.", code="token_claims", claim="sub"
        )
    if exp is not None and exp < now - leeway:
        raise Unauthorized("The token has expired; get a new one.", code="token_expired")
    for name, value in (("nbf", nbf), ("iat", iat)):
        if value is not None and value > now + leeway:
            raise Unauthorized(
                f"The token's {name!r} claim is {int(value - now)} s in the future (more than "
                f"the {leeway} s allowed for clock skew); check the issuer's clock.",
                code="token_not_yet_valid",
                claim=name,
            )


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    roles_claim = claims.get("roles", [])
    if isinstance(roles_claim, str):
        roles_claim = [roles_claim]
    roles = frozenset(r for r in roles_claim if r in ROLES)
    if not roles:
        raise Forbidden(
            "The token carries no Yardstick role (admin, participant, partner or reader).",
            code="no_role",
        )
    orgs_claim = claims.get("orgs", claims.get("org", []))
    if not isinstance(orgs_claim, list):
        orgs_claim = [orgs_claim]
    try:
        orgs = frozenset(int(o) for o in orgs_claim)
    except (TypeError, ValueError):
        raise Unauthorized(
            "The token's 'orgs' claim must list organisation ids.", code="token_claims"
        ) from None
    return Principal(subject=str(claims["sub"]), roles=roles, organisations=orgs, via="jwt")


def mint_token(
    settings: Settings,
    *,
    subject: str,
    roles: list[str],
    organisations: list[int],
    ttl: timedelta = timedelta(hours=8),
) -> str:
    """A development HS256 token (``yardstick token``)."""
    if settings.jwt_hs256_secret is None:
        raise RuntimeError("no HS256 secret configured; tokens come from your identity provider")
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": roles,
        "orgs": organisations,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return str(jwt.encode(claims, settings.jwt_hs256_secret.get_secret_value(), algorithm="HS256"))


def mint_service_token(
    settings: Settings, service: str, ttl: timedelta = timedelta(minutes=5)
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": f"service:{service}",
        "roles": ["service"],
        "iss": SERVICE_ISSUER,
        "aud": SERVICE_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return str(
        jwt.encode(claims, settings.service_token_secret.get_secret_value(), algorithm="HS256")
    )


# ----------------------------------------------------------------------- API keys


@dataclass(frozen=True)
class NewApiKey:
    id: uuid.UUID
    prefix: str
    secret_hash: str
    plaintext: str


def hash_api_secret(settings: Settings, secret: str) -> str:
    pepper = settings.api_key_pepper.get_secret_value().encode()
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def generate_api_key(settings: Settings) -> NewApiKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(
        id=uuid.uuid4(),
        prefix=prefix,
        secret_hash=hash_api_secret(settings, secret),
        plaintext=f"{API_KEY_PREFIX}{prefix}_{secret}",
    )


def verify_api_key(settings: Settings, session: Session, presented: str) -> Principal:
    from shared.db.tables.ingest import api_keys

    shape = _API_KEY_SHAPE.fullmatch(presented)
    if shape is None:
        raise Unauthorized(
            "The API key is malformed; it looks like 'ys_<prefix>_<secret>'.",
            code="api_key_invalid",
        )
    prefix, secret = shape.groups()
    row = session.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
    if row is None or not hmac.compare_digest(
        row["secret_hash"], hash_api_secret(settings, secret)
    ):
        raise Unauthorized("The API key is not valid.", code="api_key_invalid")
    if row["revoked_at"] is not None:
        raise Unauthorized(
            "The API key has been revoked; create a new one.", code="api_key_revoked"
        )
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        raise Unauthorized("The API key has expired; create a new one.", code="api_key_expired")
    return Principal(
        subject=f"apikey:{prefix}",
        roles=frozenset([row["role"]]),
        organisations=frozenset(row["organisations"]),
        via="api_key",
    )


# ------------------------------------------------------------------ dependencies


# The shape of a key ``generate_api_key`` makes: ``ys_<hex prefix>_<url-safe secret>``.
# Anything else is refused before it reaches the database, so odd bytes (a NUL, non-ASCII)
# in a presented key are a 401, never a driver error.
_API_KEY_SHAPE = re.compile(r"ys_([0-9a-f]{1,64})_([A-Za-z0-9_-]{1,256})", re.ASCII)
_BASIC_CHALLENGE = AUTH_CHALLENGE  # every 401 offers Basic now (shared.errors)


def _basic_unauthorized(detail: str, code: str) -> Unauthorized:
    return Unauthorized(detail, code=code, headers={"WWW-Authenticate": _BASIC_CHALLENGE})


def _basic_password(value: str) -> str:
    """The password of HTTP Basic credentials, or :class:`Unauthorized` (never a 500):
    the header may carry any bytes (Starlette decodes it as Latin-1)."""
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        raise _basic_unauthorized(
            "The Basic credentials are not valid base64 of UTF-8 'user:password'.",
            "no_credentials",
        ) from None
    _user, colon, password = decoded.partition(":")
    if not colon:
        raise _basic_unauthorized(
            "The Basic credentials have no ':'; send 'any-user-name:<API key>' in base64.",
            "no_credentials",
        )
    return password


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(
            "Send a bearer token or API key in the Authorization header.", code="no_credentials"
        )
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return ("api_key" if value.startswith(API_KEY_PREFIX) else "jwt"), value
    if scheme.lower() == "basic" and value:
        password = _basic_password(value)
        if password.startswith(API_KEY_PREFIX):
            return "api_key", password
        raise _basic_unauthorized(
            "With HTTP Basic auth, send an API key as the password (any user name).",
            "api_key_invalid",
        )
    raise Unauthorized(
        "Use 'Authorization: Bearer <token or API key>' or Basic auth with an API key.",
        code="no_credentials",
    )


async def get_principal(request: Request) -> Principal:
    """The caller. Async so that the common case (a JWT verified with cached keys, pure
    CPU) runs on the event loop; the API-key lookup and a JWKS fetch, which do I/O, go to
    the thread pool."""
    settings: Settings = request.app.state.settings
    kind, value = _credentials(request)
    if kind == "api_key":
        try:
            return _noted(await run_in_threadpool(_api_key_principal, request, settings, value))
        except Unauthorized as exc:
            # Sent as Basic auth (a BI tool): answer with the challenge it understands.
            scheme = request.headers.get("authorization", "").partition(" ")[0]
            if scheme.lower() == "basic":
                exc.headers = {"WWW-Authenticate": _BASIC_CHALLENGE}
            raise
    keys = cached_user_token_keys(settings)
    if keys is None:
        keys = await run_in_threadpool(user_token_keys, settings)
    claims = decode_jwt(
        value,
        keys=keys,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        leeway=settings.jwt_leeway_seconds,
    )
    return _noted(principal_from_claims(claims))


def _noted(principal: Principal) -> Principal:
    """The caller, recorded for the request's log line (its organisations, never more)."""
    note_principal(principal.organisations, principal.via)
    return principal


def _api_key_principal(request: Request, settings: Settings, presented: str) -> Principal:
    with request.app.state.sessionmaker() as session:
        return verify_api_key(settings, session, presented)


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has_any_role(roles):
            raise Forbidden(
                f"This needs one of the roles: {', '.join(roles)}; you have "
                f"{', '.join(sorted(principal.roles))}.",
                code="role_forbidden",
            )
        return principal

    return dependency


async def require_service(request: Request) -> Principal:
    """Internal endpoints (outbox deliveries) accept only service tokens."""
    settings: Settings = request.app.state.settings
    kind, value = _credentials(request)
    if kind != "jwt":
        raise Unauthorized("Internal endpoints need a service token.", code="service_only")
    claims = decode_jwt(
        value,
        keys=[VerificationKey("HS256", settings.service_token_secret.get_secret_value())],
        audience=SERVICE_AUDIENCE,
        issuer=SERVICE_ISSUER,
    )
    return _noted(
        Principal(subject=str(claims["sub"]), roles=frozenset(["service"]), via="service")
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
ServicePrincipal = Annotated[Principal, Depends(require_service)]
