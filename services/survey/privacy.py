"""Handling of respondents' addresses and link tokens (DOMAIN.md, "Anonymity").

An address is used only to deduplicate and to send invitations and reminders. It is kept
encrypted (AES-256-GCM) beside a keyed hash (HMAC-SHA256) used for deduplication, and never
written to a log. A respondent reaches the form through a single-use link token; only the
token's SHA-256 hash is stored, so a database dump does not open anyone's form.

Keys are passed in as bytes (the service reads them from settings); nothing here reads
configuration or the environment.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MIN_KEY_BYTES = 32
TOKEN_BYTES = 32  # 256 bits of randomness; token_urlsafe(32) gives 43 characters
MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL_LENGTH = 64

_ENCRYPTION_VERSION = b"\x01"
_NONCE_BYTES = 12

# --------------------------------------------------------------------------- addresses


class InvalidAddressError(ValueError):
    """An address that cannot be used; ``reason`` says why in words a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_LOCAL_CHARS = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def normalise_address(raw: str) -> str:
    """Trim and lower-case an email address and check that its syntax is sane.

    Deliberately stricter than RFC 5322 (no quoted local parts, comments or IP literals):
    these are work addresses that a council's mail system will deliver to. Lower-casing the
    local part is a choice: no UK public-sector mail system treats case as significant, and
    without it ``Alice@x`` and ``alice@x`` would be invited twice.

    Raises :class:`InvalidAddressError` with a reason.
    """
    address = raw.strip().lower()
    if not address:
        raise InvalidAddressError("the address is empty")
    if any(c.isspace() for c in address):
        raise InvalidAddressError("the address contains a space")
    if not address.isascii():
        raise InvalidAddressError(
            "the address contains characters other than letters, digits and . _ - + @"
        )
    if address.count("@") != 1:
        raise InvalidAddressError(
            "the address must contain exactly one @"
            if "@" in address
            else "the address has no @ (expected name@example.gov.uk)"
        )
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddressError(f"the address is longer than {MAX_ADDRESS_LENGTH} characters")
    local, domain = address.split("@")
    if not local:
        raise InvalidAddressError("nothing before the @")
    if len(local) > MAX_LOCAL_LENGTH:
        raise InvalidAddressError(
            f"the part before the @ is longer than {MAX_LOCAL_LENGTH} characters"
        )
    if not _LOCAL_CHARS.match(local):
        raise InvalidAddressError("the part before the @ contains a character that is not allowed")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidAddressError(
            "the part before the @ cannot start or end with a dot or have two dots in a row"
        )
    if not domain:
        raise InvalidAddressError("nothing after the @")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidAddressError(
            "the part after the @ must be a full domain, such as example.gov.uk"
        )
    if not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise InvalidAddressError("the part after the @ is not a valid domain name")
    if not _TLD.match(labels[-1]):
        raise InvalidAddressError("the domain does not end in a valid top-level domain")
    return address


def _check_key(key: bytes, what: str) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the {what} key must be at least {MIN_KEY_BYTES} bytes")


def address_hash(address: str, key: bytes) -> str:
    """Keyed hash of a normalised address, for deduplication (hex HMAC-SHA256).

    Keyed so that someone holding the table cannot confirm a guessed address by hashing it.
    The address is normalised first, so callers cannot get two hashes for one person.
    """
    _check_key(key, "hash")
    normalised = normalise_address(address)
    return hmac.new(key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


def encrypt_address(address: str, key: bytes, *, context: bytes = b"") -> bytes:
    """Encrypt an address with AES-256-GCM (random 96-bit nonce).

    ``context`` is bound as associated data (e.g. the campaign id), so a ciphertext copied to
    another campaign's row does not decrypt. Layout: version byte, nonce, ciphertext + tag.
    """
    if len(key) != 32:
        raise ValueError("the encryption key must be exactly 32 bytes (AES-256)")
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, address.encode("utf-8"), _ENCRYPTION_VERSION + context)
    return _ENCRYPTION_VERSION + nonce + sealed


def decrypt_address(blob: bytes, key: bytes, *, context: bytes = b"") -> str:
    """Inverse of :func:`encrypt_address`; raises ``ValueError`` if the data were altered."""
    if len(key) != 32:
        raise ValueError("the encryption key must be exactly 32 bytes (AES-256)")
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _ENCRYPTION_VERSION:
        raise ValueError("not an encrypted address in a known format")
    nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, _ENCRYPTION_VERSION + context)
    except InvalidTag:
        raise ValueError("the encrypted address failed authentication") from None
    return plain.decode("utf-8")


# ------------------------------------------------------------------------------ tokens


@dataclass(frozen=True, slots=True)
class LinkToken:
    token: str  # goes in the link, never stored
    token_hash: str  # stored, to find the invitation when the link is used


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a link token. Unkeyed is enough: the token has 256 bits of entropy."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_link_token() -> LinkToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return LinkToken(token=token, token_hash=token_hash(token))


_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def looks_like_token(value: str) -> bool:
    """Cheap shape check before touching the database with a token from a URL."""
    return bool(_TOKEN_SHAPE.match(value))


# -------------------------------------------------------------------- recipient lists

RECIPIENT_COLUMNS = ("email", "location", "role")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str  # normalised
    location: str | None = None
    role: str | None = None
    rows: tuple[int, ...] = ()  # every row the address appeared on


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with an upload. ``severity`` decides: any error and nothing is stored; a
    warning (e.g. an ignored column) is reported and the upload goes ahead."""

    row: int  # CSV: line in the spreadsheet (header = 1); JSON: 1-based item number; 0 = file
    message: str
    code: str  # stable, for programs: "invalid_email", "unknown_columns", …
    severity: Severity = "error"


@dataclass(frozen=True, slots=True)
class Duplicate:
    row: int
    first_row: int
    message: str


@dataclass(frozen=True, slots=True)
class RecipientList:
    recipients: tuple[Recipient, ...]
    errors: tuple[RowError, ...]
    duplicates: tuple[Duplicate, ...]
    warnings: tuple[RowError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Merge:
    by_email: dict[str, Recipient] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


def parse_recipients(
    data: bytes,
    *,
    format: Literal["csv", "json"] | None = None,
    attribute_options: Mapping[str, Sequence[str]] | None = None,
    max_rows: int = 100_000,
) -> RecipientList:
    """Parse an uploaded recipient list into normalised, de-duplicated recipients.

    CSV: UTF-8 (a BOM is allowed), a header row with ``email`` and optionally ``location`` and
    ``role`` (any case, any order). JSON: a list of objects with the same keys. ``format``
    None guesses from the first non-blank byte.

    Rows with a problem are reported (row number, message) and left out; the rest are kept,
    so the caller decides whether to accept a partly bad upload. An address that appears
    more than once is kept once (first location/role given wins) and each repeat is listed
    in ``duplicates``. If ``attribute_options`` is given (``{"location": [...], "role":
    [...]}``) a location or role must be one of them (matched ignoring case).
    """
    merge = _Merge()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return RecipientList((), (RowError(0, "the file is not UTF-8 text", "not_utf8"),), ())
    if format is None:
        format = "json" if text.lstrip()[:1] in ("[", "{") else "csv"
    rows = _json_rows(text, merge) if format == "json" else _csv_rows(text, merge)
    allowed = {
        name: {v.strip().casefold(): v.strip() for v in values}
        for name, values in (attribute_options or {}).items()
    }
    for count, (row_number, record) in enumerate(rows, start=1):
        if count > max_rows:
            merge.errors.append(
                RowError(row_number, f"more than {max_rows:,} recipients", "too_many_rows")
            )
            break
        _add_row(row_number, record, merge, allowed)
    return RecipientList(
        tuple(merge.by_email.values()),
        tuple(merge.errors),
        tuple(merge.duplicates),
        tuple(merge.warnings),
    )


def _csv_rows(text: str, merge: _Merge) -> Iterable[tuple[int, Mapping[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        merge.errors.append(RowError(0, "the file is empty", "empty_file"))
        return
    except csv.Error as exc:
        merge.errors.append(
            RowError(1, f"the header row cannot be read: {exc}", "unreadable_header")
        )
        return
    names = [h.strip().lower() for h in header]
    if "email" not in names:
        merge.errors.append(RowError(1, "the header row has no 'email' column", "no_email_column"))
        return
    unknown = [h for h in names if h and h not in RECIPIENT_COLUMNS]
    if unknown:
        # Not fatal, but never carried forward: a stray "name" column is personal data we
        # have no reason to hold.
        merge.warnings.append(
            RowError(
                1,
                f"column(s) {', '.join(unknown)} ignored; expected email, location, role",
                "unknown_columns",
                "warning",
            )
        )
    if len(set(names) - {""}) != len([n for n in names if n]):
        merge.errors.append(RowError(1, "the header row repeats a column name", "repeated_column"))
        return
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            merge.errors.append(
                RowError(reader.line_num, f"the row cannot be read: {exc}", "unreadable_row")
            )
            return
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names):
            merge.errors.append(
                RowError(
                    reader.line_num,
                    f"{len(cells)} cells but {len(names)} columns",
                    "too_many_cells",
                )
            )
            continue
        record = {n: c for n, c in zip(names, cells, strict=False) if n in RECIPIENT_COLUMNS}
        yield reader.line_num, record


def _json_rows(text: str, merge: _Merge) -> Iterable[tuple[int, Mapping[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        merge.errors.append(
            RowError(
                0, f"the file is not valid JSON ({exc.msg}, line {exc.lineno})", "invalid_json"
            )
        )
        return
    if not isinstance(data, list):
        merge.errors.append(RowError(0, "expected a JSON list of objects", "not_a_list"))
        return
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            merge.errors.append(
                RowError(number, "expected an object with an 'email' field", "not_an_object")
            )
            continue
        unknown = sorted(set(item) - set(RECIPIENT_COLUMNS))
        if unknown:
            merge.warnings.append(
                RowError(
                    number,
                    f"field(s) {', '.join(unknown)} ignored; expected email, location, role",
                    "unknown_columns",
                    "warning",
                )
            )
        yield number, item


def _add_row(
    row: int,
    record: Mapping[str, Any],
    merge: _Merge,
    allowed: Mapping[str, Mapping[str, str]],
) -> None:
    raw = record.get("email")
    if not isinstance(raw, str) or not raw.strip():
        merge.errors.append(RowError(row, "no email address", "missing_email"))
        return
    try:
        email = normalise_address(raw)
    except InvalidAddressError as exc:
        # The reason, not the address: these messages may end up in logs or job records.
        merge.errors.append(RowError(row, f"invalid email address: {exc.reason}", "invalid_email"))
        return
    values: dict[str, str | None] = {}
    for name in ("location", "role"):
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            values[name] = None
            continue
        if not isinstance(value, str):
            merge.errors.append(RowError(row, f"{name} must be text", "attribute_not_text"))
            return
        value = " ".join(value.split())
        if name in allowed:
            canonical = allowed[name].get(value.casefold())
            if canonical is None:
                merge.errors.append(
                    RowError(
                        row,
                        f"{name} '{value}' is not in the organisation's list",
                        "attribute_not_in_list",
                    )
                )
                return
            value = canonical
        values[name] = value
    existing = merge.by_email.get(email)
    if existing is None:
        merge.by_email[email] = Recipient(email, values["location"], values["role"], (row,))
        return
    merge.duplicates.append(
        Duplicate(row, existing.rows[0], f"same address as row {existing.rows[0]}; merged")
    )
    merge.by_email[email] = Recipient(
        email,
        existing.location or values["location"],
        existing.role or values["role"],
        (*existing.rows, row),
    )


# -------------------------------------------------------------------------------- logs

REDACTED_EMAIL = "[email redacted]"
REDACTED_TOKEN = "[token redacted]"  # noqa: S105 - a placeholder, not a secret

# Generous on purpose: better to redact something that only resembles an address.
_EMAIL_IN_TEXT = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
)
# A link token is 43 URL-safe base64 characters. Any run of 40+ such characters is redacted
# (this also catches SHA-256 hex digests, which is harmless); UUIDs (36) are left alone.
# Tokens after a survey path or a token= parameter are redacted whatever their length.
_TOKEN_IN_TEXT = re.compile(
    r"(?:(?<=/s/)|(?<=/r/)|(?<=/surveys/respond/)|(?<=token=))[A-Za-z0-9_-]{8,}"
    r"|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])"
)


def redact(text: str) -> str:
    """Text with email addresses and survey-token-like strings replaced."""
    return _TOKEN_IN_TEXT.sub(REDACTED_TOKEN, _EMAIL_IN_TEXT.sub(REDACTED_EMAIL, text))


class RedactingFilter(logging.Filter):
    """Removes addresses and link tokens from log records before any handler sees them.

    The message is rendered with its arguments, then redacted, so an address passed as a
    ``%s`` argument is caught as well as one written into the message. A traceback is
    rendered and redacted too, because exception messages often quote the input.
    Install on the survey service's loggers (see :func:`install_redaction`); a filter on a
    logger applies to records logged through that logger, not to its children, so install
    on each named logger or on the handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
        # Redact string arguments in place first: some formatters (uvicorn's access log)
        # unpack record.args and need their shape kept.
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
            record.args = None
        cleaned = redact(message)
        if cleaned != message or not isinstance(record.msg, str):
            # Something non-string rendered an address or token: flatten the record.
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_arg(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def install_redaction(
    loggers: Iterable[str] = ("services.survey", "uvicorn.access", "uvicorn.error"),
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to each named logger and to its handlers."""
    redacting = RedactingFilter()
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(redacting)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
    return redacting
