"""Sending one message over SMTP with the configured host, port, TLS mode and credentials."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from shared.settings import Settings


class PermanentFailure(Exception):
    """The server refused the recipient (5xx): retrying will not help."""


class TemporaryFailure(Exception):
    """The server could not be reached or deferred the message: retry later."""


def build_message(settings: Settings, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="yardstick.local")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
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
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentFailure(f"recipient refused ({codes[0]})") from None
        raise TemporaryFailure(f"recipient deferred ({codes[0] if codes else '?'})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryFailure(f"SMTP {type(exc).__name__}") from None
