"""Sending one message over SMTP with the configured host, port, TLS mode and credentials."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Literal

from shared.settings import Settings

Part = Literal["from", "to", "subject", "body"]


class PermanentFailure(Exception):
    """The server refused the recipient (5xx): retrying will not help."""


class TemporaryFailure(Exception):
    """The server could not be reached or deferred the message: retry later."""


class Unbuildable(Exception):
    """The message cannot be built or sent as it is (a header with a line break, an address
    the mail library refuses): sending the same data again fails the same way.

    ``part`` says which part of the message is at fault; the text never carries the address
    or the header value (it goes to logs and to the campaign's owner).
    """

    def __init__(self, part: Part, detail: str) -> None:
        super().__init__(f"{part}: {detail}")
        self.part: Part = part
        self.detail = detail


def _set(message: EmailMessage, part: Part, name: str, value: str) -> None:
    # The email package raises ValueError for a line break or other control character in a
    # header and may raise other errors for text it cannot parse; whatever it is, the data
    # cannot make this header, and the caller must learn which part failed, not see a 500.
    try:
        message[name] = value
    except Exception as exc:
        raise Unbuildable(part, f"{type(exc).__name__} setting the {name} header") from None


def build_message(
    settings: Settings, to: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    """The message, or :class:`Unbuildable` naming the part that cannot be made from the data."""
    message = EmailMessage()
    _set(message, "from", "From", settings.smtp_from)
    _set(message, "to", "To", to)
    addresses = message["To"].addresses
    if (
        len(addresses) != 1
        or not addresses[0].username
        or not addresses[0].domain
        or not addresses[0].addr_spec.isprintable()
    ):
        raise Unbuildable("to", "the recipient is not one address of the form name@domain")
    _set(message, "subject", "Subject", subject)
    message["Message-ID"] = make_msgid(domain="yardstick.local")
    try:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    except Exception as exc:
        raise Unbuildable("body", f"{type(exc).__name__} encoding the body") from None
    return message


def send(settings: Settings, message: EmailMessage) -> None:
    """Send or raise; exception messages never carry the address (they go to logs)."""
    try:
        if settings.smtp_tls == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password is not None:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            try:
                smtp.send_message(message)
            except smtplib.SMTPNotSupportedError:
                # Raised by send_message before anything is sent: a non-ASCII address and a
                # server without SMTPUTF8. The same message will never go: not worth a retry.
                raise Unbuildable(
                    "to", "the mail server cannot take this address (no SMTPUTF8)"
                ) from None
            except UnicodeError as exc:
                raise Unbuildable("body", f"{type(exc).__name__} encoding the message") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentFailure(f"recipient refused ({codes[0]})") from None
        raise TemporaryFailure(f"recipient deferred ({codes[0] if codes else '?'})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryFailure(f"SMTP {type(exc).__name__}") from None
