"""Sending plain-text e-mail through the SMTP server of CONTRACTGQL_SMTP_HOST."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import aiosmtplib

from contractgql.config import Settings

# Seconds that connecting to the SMTP server and each of its replies may take.
SMTP_TIMEOUT = 30.0
# Domain on the right of the Message-ID header's "@".
MESSAGE_ID_DOMAIN = "contractgql"


def email_enabled(settings: Settings) -> bool:
    return settings.smtp_host is not None


def build_message(
    settings: Settings,
    *,
    to_name: str,
    to_address: str,
    subject: str,
    body: str,
    sent_at: datetime,
) -> EmailMessage:
    """Return a plain-text, UTF-8 message from CONTRACTGQL_SMTP_FROM."""
    assert settings.smtp_from is not None, "email_enabled(settings) is checked first"
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = formataddr((to_name, to_address))
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    # RFC 3834: asks automatic responders, such as vacation replies, not to reply.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Return a context that verifies the server's certificate and host name."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file)


@asynccontextmanager
async def smtp_connection(settings: Settings) -> AsyncIterator[aiosmtplib.SMTP]:
    """Connect and log in to the SMTP server for the duration of the block.

    Raises aiosmtplib.SMTPException or OSError when the server cannot be reached,
    refuses TLS or rejects the login.
    """
    assert settings.smtp_host is not None, "email_enabled(settings) is checked first"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls == "implicit",
        # True makes STARTTLS required: the client stops when the server lacks it.
        start_tls=settings.smtp_tls == "starttls",
        tls_context=None if settings.smtp_tls == "none" else _tls_context(settings),
        timeout=SMTP_TIMEOUT,
    )
    await client.connect()
    try:
        if settings.smtp_username is not None and settings.smtp_password is not None:
            await client.login(settings.smtp_username, settings.smtp_password)
        yield client
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
