import json
import logging
import secrets

import pytest

from services.survey.privacy import (
    InvalidAddressError,
    RedactingFilter,
    address_hash,
    decrypt_address,
    encrypt_address,
    install_redaction,
    looks_like_token,
    new_link_token,
    normalise_address,
    parse_recipients,
    redact,
    token_hash,
)

HASH_KEY = b"h" * 32
ENC_KEY = bytes(range(32))


def test_normalisation_and_dedup_hash():
    assert normalise_address(" Alice@Example.COM ") == "alice@example.com"
    assert address_hash(" Alice@Example.COM ", HASH_KEY) == address_hash(
        "alice@example.com", HASH_KEY
    )
    assert address_hash("alice@example.com", HASH_KEY) != address_hash(
        "alice@example.com", b"k" * 32
    )
    assert len(address_hash("alice@example.com", HASH_KEY)) == 64
    with pytest.raises(ValueError, match="at least 32 bytes"):
        address_hash("alice@example.com", b"short")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "the address is empty"),
        ("alice.example.com", "the address has no @ (expected name@example.gov.uk)"),
        ("a@b@example.com", "the address must contain exactly one @"),
        ("alice smith@example.com", "the address contains a space"),
        ("@example.com", "nothing before the @"),
        ("alice@", "nothing after the @"),
        ("alice@localhost", "the part after the @ must be a full domain, such as example.gov.uk"),
        (
            "alice..b@example.com",
            "the part before the @ cannot start or end with a dot or have two dots in a row",
        ),
        ("alice@-example.com", "the part after the @ is not a valid domain name"),
        ("alice@example.c0m", "the domain does not end in a valid top-level domain"),
        (
            "alïce@example.com",
            "the address contains characters other than letters, digits and . _ - + @",
        ),
    ],
)
def test_invalid_addresses_give_a_reason(raw, reason):
    with pytest.raises(InvalidAddressError) as caught:
        normalise_address(raw)
    assert caught.value.reason == reason


def test_plausible_addresses_pass():
    for ok in ["j.o'neil+it@council.gov.uk", "a@b.co", "x_y-z@sub.example-council.org.uk"]:
        assert normalise_address(ok) == ok


def test_encryption_round_trip_and_tamper_detection():
    blob = encrypt_address("alice@example.com", ENC_KEY, context=b"campaign-1")
    assert b"alice" not in blob
    assert decrypt_address(blob, ENC_KEY, context=b"campaign-1") == "alice@example.com"
    assert blob != encrypt_address("alice@example.com", ENC_KEY, context=b"campaign-1")
    with pytest.raises(ValueError, match="failed authentication"):
        decrypt_address(blob, ENC_KEY, context=b"campaign-2")
    with pytest.raises(ValueError, match="failed authentication"):
        decrypt_address(blob, bytes(32))
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ValueError):
        decrypt_address(tampered, ENC_KEY, context=b"campaign-1")
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_address("a@b.co", b"short")


def test_link_tokens_have_256_bits_and_hash_for_storage():
    link = new_link_token()
    assert len(link.token) == 43  # 32 random bytes, URL-safe base64 without padding
    assert looks_like_token(link.token)
    assert link.token_hash == token_hash(link.token) and len(link.token_hash) == 64
    assert link.token not in link.token_hash
    assert len({new_link_token().token for _ in range(1000)}) == 1000
    assert not looks_like_token("short")


def test_csv_recipients_normalised_errors_and_duplicates():
    data = (
        "\ufeffEmail,Location,Role\r\n"
        " Alice@Example.COM ,Town Hall,\r\n"
        "bob@example,Depot,Manager\r\n"
        "alice@example.com,,Manager\r\n"
        ",Depot,\r\n"
        "\r\n"
        "carol@example.org,,\r\n"
    ).encode()
    result = parse_recipients(data)
    assert [(r.email, r.location, r.role, r.rows) for r in result.recipients] == [
        ("alice@example.com", "Town Hall", "Manager", (2, 4)),
        ("carol@example.org", None, None, (7,)),
    ]
    assert [(e.row, e.message) for e in result.errors] == [
        (
            3,
            "invalid email address: the part after the @ must be a full domain, "
            "such as example.gov.uk",
        ),
        (5, "no email address"),
    ]
    assert [(d.row, d.first_row) for d in result.duplicates] == [(4, 2)]
    assert not result.ok


def test_csv_without_email_column():
    result = parse_recipients(b"name,role\nAlice,Manager\n")
    assert [(e.row, e.message) for e in result.errors] == [
        (1, "the header row has no 'email' column")
    ]
    assert result.recipients == ()


def test_json_recipients_and_organisation_lists():
    data = json.dumps(
        [
            {"email": "a@example.com", "location": "depot"},
            {"email": "B@example.com", "location": "Moon base"},
            "c@example.com",
            {"email": "a@example.com"},
        ]
    ).encode()
    result = parse_recipients(data, attribute_options={"location": ["Depot", "Town Hall"]})
    assert [(r.email, r.location) for r in result.recipients] == [("a@example.com", "Depot")]
    assert [(e.row, e.message) for e in result.errors] == [
        (2, "location 'Moon base' is not in the organisation's list"),
        (3, "expected an object with an 'email' field"),
    ]
    assert [(d.row, d.first_row) for d in result.duplicates] == [(4, 1)]


def test_bad_json_is_a_file_error():
    result = parse_recipients(b"[{", format="json")
    assert result.errors[0].row == 0 and "not valid JSON" in result.errors[0].message


def test_redact_addresses_and_tokens():
    token = secrets.token_urlsafe(32)
    text = f"sent to Alice@Example.COM via /s/{token} (id 123e4567-e89b-12d3-a456-426614174000)"
    assert redact(text) == (
        "sent to [email redacted] via /s/[token redacted] (id 123e4567-e89b-12d3-a456-426614174000)"
    )
    assert (
        redact(f"GET /respond?token={token[:20]} 200") == "GET /respond?token=[token redacted] 200"
    )
    assert redact("alice%40example.com") == "[email redacted]"


def test_log_filter_redacts_message_args_and_traceback(caplog):
    logger = logging.getLogger("services.survey.test_redaction")
    logger.addFilter(RedactingFilter())
    token = secrets.token_urlsafe(32)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("invitation for %s with link %s", "alice@example.com", f"https://x/s/{token}")
        logger.info("plain bob@example.org")
        try:
            raise ValueError("bad address carol@example.net")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "alice@example.com" not in text and token not in text
    assert "bob@example.org" not in text and "carol@example.net" not in text
    assert "invitation for [email redacted] with link https://x/s/[token redacted]" in text
    assert "bad address [email redacted]" in text


def test_filter_keeps_tuple_args_for_formatters_that_unpack_them():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/s/" + secrets.token_urlsafe(32), "1.1", 200),
        None,
    )
    RedactingFilter().filter(record)
    assert record.args == ("1.2.3.4:5", "GET", "/s/[token redacted]", "1.1", 200)


def test_install_redaction_is_idempotent():
    name = "services.survey.test_install"
    install_redaction([name])
    install_redaction([name])
    assert sum(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters) == 1
