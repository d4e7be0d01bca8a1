"""Settings for every Yardstick process, read from the environment (prefix ``YARDSTICK_``).

``DATABASE_URL`` is read without a prefix because every tool in the ecosystem uses that name.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "yardstick-dev-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_SERVICE_SECRET = "yardstick-dev-service-secret-0123456789abcdef"  # noqa: S105
DEV_API_KEY_PEPPER = "yardstick-dev-api-key-pepper"
DEV_SURVEY_ENCRYPTION_KEY = "yardstick-dev-survey-address-encryption-key-0123456789"
DEV_SURVEY_HASH_KEY = "yardstick-dev-survey-address-hash-key-0123456789abcdef"

ServiceName = Literal["ingest", "metrics", "survey"]
SERVICES: tuple[ServiceName, ...] = ("ingest", "metrics", "survey")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YARDSTICK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "YARDSTICK_DATABASE_URL")
    )
    data_dir: Path = PROJECT_ROOT / ".yardstick"
    # Each service connects and then SET ROLE to its own database role, so the database
    # enforces table ownership. Turn off when each service logs in as its own role.
    db_set_role: bool = True
    db_pool_size: int = 10
    # DATABASE_URL goes through a pooler in transaction mode (PgBouncer pool_mode =
    # transaction): no prepared statements, and the role is set per transaction (SET
    # LOCAL ROLE) instead of per connection. See shared.db.engine.make_engine.
    db_transaction_pooling: bool = False
    # A streaming replica for read-only requests (the metrics service's reports): see
    # shared.db.engine.ReadRouter. Unset: every read goes to DATABASE_URL.
    database_read_url: str | None = None
    # Answer X-Data-Version (the primary's WAL position after the request's commit) on
    # every request with a transaction, so a caller can ask a later read to see its write
    # (X-Min-Data-Version). On in every service when any service reads from a replica.
    data_version_header: bool = False
    # After the replica failed to answer, reads go to the primary for this long.
    read_replica_retry_seconds: float = Field(default=10.0, ge=0)

    # Observability (shared/observability.py). Logs: JSON lines on standard error.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # /metrics on each service and the worker's port: with a token, readable by whoever
    # sends it (Authorization: Bearer); without one, by loopback clients only.
    metrics_token: SecretStr | None = None
    # The worker's /metrics and /healthz; port 0 turns them off.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=8004, ge=0, le=65535)

    host: str = "127.0.0.1"
    ingest_url: str = "http://127.0.0.1:8001"
    metrics_url: str = "http://127.0.0.1:8002"
    survey_url: str = "http://127.0.0.1:8003"
    public_survey_url: str | None = None
    # Absolute links in responses (errors_url, Location, a page's next) are built on the
    # service's public URL (scheme and host; default its *_url), never on the request's
    # Host header, which a client chooses. The survey's is public_survey_url.
    ingest_public_url: str | None = None
    metrics_public_url: str | None = None
    # Origins of browser frontends allowed to call the API: a comma-separated list
    # ("https://a.example, https://b.example"), one origin, "*", or a JSON list.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Request bodies: the limit of every endpoint that declares none of its own (FastAPI's
    # max_body_size on the route); larger bodies get 413 before they are read.
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # The survey's public endpoints (/s/{token}, /api/v1/respond/{token}): token buckets
    # per client address (a whole office may share one) and per survey link.
    public_rate_client_per_minute: float = Field(default=600.0, gt=0)
    public_rate_client_burst: int = Field(default=300, ge=1)
    public_rate_token_per_minute: float = Field(default=60.0, gt=0)
    public_rate_token_burst: int = Field(default=60, ge=1)

    jwt_issuer: str = "yardstick-local"
    jwt_audience: str = "yardstick"
    jwt_hs256_secret: SecretStr | None = SecretStr(DEV_JWT_SECRET)
    jwt_public_key_pem: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_json: str | None = None
    jwt_leeway_seconds: int = 30
    service_token_secret: SecretStr = SecretStr(DEV_SERVICE_SECRET)
    api_key_pepper: SecretStr = SecretStr(DEV_API_KEY_PEPPER)

    outbox_max_attempts: int = 12
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 300.0
    outbox_poll_seconds: float = 0.5
    # Receivers answer an event at once (long work becomes a job on their side), so a
    # delivery that takes longer than this is a hung receiver: retry later.
    outbox_delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    # Events whose receiver works inside the request get the long timeout; they hold only
    # a lane of their own target. None by default: ticket-import processing is answered
    # 202 and runs in the ingest service's background executor.
    outbox_long_event_types: tuple[str, ...] = ()
    outbox_long_delivery_timeout_seconds: float = Field(default=900.0, gt=0)
    # A claim's lease is 3 timeouts (connect, write, read) plus this; a row whose lease
    # has passed is claimed again (its worker died or hung).
    outbox_lease_grace_seconds: float = Field(default=30.0, ge=0)
    # Delivery threads per target service (see shared.outbox, "Lanes").
    outbox_lanes_per_target: int = Field(default=2, ge=1, le=16)

    # Metrics jobs (long work an event asks for, run in the metrics process).
    metrics_jobs_in_background: bool = True
    metrics_job_poll_seconds: float = Field(default=0.5, gt=0)
    # A running job's row stays locked while it runs; the lease only decides how soon a
    # job whose process died is taken up again.
    metrics_job_lease_seconds: float = Field(default=60.0, gt=0)
    metrics_job_max_attempts: int = Field(default=5, ge=1)
    metrics_job_backoff_seconds: float = Field(default=5.0, ge=0)

    # Ticket-import watchdog (run by the worker's periodic jobs): an import with no progress
    # for this long and no process on it is queued again, and failed once it has been
    # started this many times (its upload's own start included).
    ticket_import_stale_minutes: float = Field(default=15.0, gt=0)
    ticket_import_max_attempts: int = Field(default=3, ge=1)
    # Threads of the ingest service's background executor that processes imports.
    ticket_import_workers: int = Field(default=2, ge=1, le=8)
    # Retention (shared/db/retention.py, run by ``yardstick retention``): tickets and their
    # SLA outcomes finished before the first day of the month this many months before the
    # current one are removed. None: kept for ever.
    ticket_retention_months: int | None = Field(default=None, ge=1)

    disclosure_min_n: int = Field(default=5, ge=3)

    # Survey mail (SMTP). tls: "none" (local catcher), "starttls" (port 587) or "tls" (465).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Yardstick surveys <surveys@yardstick.local>"
    smtp_timeout_seconds: float = 30.0
    # Where a notice goes when a campaign's mail cannot be built (e.g. a title with a line
    # break stored before input validation): once per campaign and kind of problem. Unset:
    # the problem is only shown on the campaign (mail_problem, mail_failed_count).
    survey_mail_problems_to: str | None = None
    # Keys held by the survey service only: AES-256 key for addresses (derived with SHA-256
    # from the secret, so any long random string works) and the HMAC key for dedup hashes.
    survey_address_encryption_key: SecretStr = SecretStr(DEV_SURVEY_ENCRYPTION_KEY)
    survey_address_hash_key: SecretStr = SecretStr(DEV_SURVEY_HASH_KEY)
    # Breakdown cells with fewer responses are suppressed; the domain forbids going below 5.
    survey_breakdown_threshold: int = Field(default=10, ge=5)
    # How often the worker runs the survey jobs (close, reminders, erasure).
    survey_jobs_interval_seconds: float = Field(default=60.0, gt=0)
    access_months: int = 12
    # Seconds `yardstick up` waits for every service to answer /readyz
    # (YARDSTICK_READY_TIMEOUT): a cold start imports Polars and WeasyPrint, which took
    # over 60 s on a loaded two-core machine.
    ready_timeout: float = Field(default=180.0, gt=0)
    # Rendered results responses kept per metrics process (LRU; 0 turns the cache off).
    # An entry is one response body: measured by bench/ops_results.py on the demo data,
    # mean 20 kB, median 4 kB, max 66 kB, so 2048 entries are ~40 MB per process (at
    # most ~135 MB), and hold every distinct URL the bench's mix asks for (1,232) with
    # room to spare. Size it to the distinct results URLs in use (docs/operations.md).
    results_cache_size: int = Field(default=2048, ge=0)
    # Surveys: the publication threshold (anything other organisations, exports and BI see),
    # beside each campaign's internal one (suppression_threshold, never below 5): a figure
    # is published when its n reaches this (and the internal threshold) and the
    # organisation's response rate reaches this percentage (DOMAIN.md, "Survey confidence").
    survey_publication_min_responses: int = Field(default=10, ge=5)
    survey_publication_min_response_rate: float = Field(default=30.0, ge=0, le=100)
    # Committee packs (DOMAIN.md): an SLA measure is amber within this many percentage
    # points below its target (green at or above it, red further below).
    pack_amber_margin_points: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    # Risk bands by priority (impact × probability, 1-25): low below medium_from, medium
    # below high_from, high below very_high_from, very high from there.
    pack_risk_medium_from: int = Field(default=5, ge=2, le=25)
    pack_risk_high_from: int = Field(default=10, ge=2, le=25)
    pack_risk_very_high_from: int = Field(default=20, ge=2, le=25)
    # Validation monitoring (issue #14): how often the worker asks ingest to re-run the
    # cycles' checks (a cycle is re-run only when what it is checked against changed), and
    # where the reviewers' notice of new violations is mailed (unset: the outbox event and
    # the violations list only).
    validation_monitoring_interval_seconds: float = Field(default=300.0, gt=0)
    reviewer_notice_to: str | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: Any) -> Any:
        # NoDecode: pydantic-settings would otherwise parse the variable as JSON, and a
        # plain "https://a.example" stopped the service at start-up.
        if not isinstance(value, str):
            return value
        text = value.strip()
        parts: Any = text.split(",")
        if text.startswith("["):
            try:
                parts = json.loads(text)
            except ValueError:
                raise ValueError(
                    "not a JSON list; write the origins comma-separated instead, "
                    "e.g. https://a.example,https://b.example"
                ) from None
            if not isinstance(parts, list):
                return parts
        # A browser's Origin header never ends in "/", so a trailing one would never match.
        return [str(p).strip().rstrip("/") for p in parts if str(p).strip()]

    @model_validator(mode="after")
    def _risk_bands_in_order(self) -> Settings:
        if not (
            self.pack_risk_medium_from < self.pack_risk_high_from < self.pack_risk_very_high_from
        ):
            raise ValueError(
                "risk bands must start in order: YARDSTICK_PACK_RISK_MEDIUM_FROM < "
                "YARDSTICK_PACK_RISK_HIGH_FROM < YARDSTICK_PACK_RISK_VERY_HIGH_FROM"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            defaults = {
                "YARDSTICK_JWT_HS256_SECRET": (self.jwt_hs256_secret, DEV_JWT_SECRET),
                "YARDSTICK_SERVICE_TOKEN_SECRET": (self.service_token_secret, DEV_SERVICE_SECRET),
                "YARDSTICK_API_KEY_PEPPER": (self.api_key_pepper, DEV_API_KEY_PEPPER),
                "YARDSTICK_SURVEY_ADDRESS_ENCRYPTION_KEY": (
                    self.survey_address_encryption_key,
                    DEV_SURVEY_ENCRYPTION_KEY,
                ),
                "YARDSTICK_SURVEY_ADDRESS_HASH_KEY": (
                    self.survey_address_hash_key,
                    DEV_SURVEY_HASH_KEY,
                ),
            }
            bad = [
                name
                for name, (value, default) in defaults.items()
                if value is not None and value.get_secret_value() == default
            ]
            if bad:
                raise ValueError(
                    "refusing to start in production with development default secrets: "
                    + ", ".join(bad)
                )
            if self.database_url is None:
                raise ValueError("DATABASE_URL must be set in production")
        return self

    def survey_encryption_key_bytes(self) -> bytes:
        import hashlib

        secret = self.survey_address_encryption_key.get_secret_value().encode()
        return hashlib.sha256(b"yardstick-survey-address-aes:" + secret).digest()

    def survey_hash_key_bytes(self) -> bytes:
        import hashlib

        secret = self.survey_address_hash_key.get_secret_value().encode()
        return hashlib.sha256(b"yardstick-survey-address-hmac:" + secret).digest()

    def public_survey_base(self) -> str:
        return (self.public_survey_url or self.survey_url).rstrip("/")

    def public_base(self, service: ServiceName) -> str:
        """Scheme and host that absolute links in this service's responses start with."""
        if service == "survey":
            return self.public_survey_base()
        configured = self.ingest_public_url if service == "ingest" else self.metrics_public_url
        return (configured or self.service_url(service)).rstrip("/")

    def service_url(self, service: ServiceName) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
