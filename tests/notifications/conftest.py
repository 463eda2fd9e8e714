"""Fixtures of the notification tests: a real server, websocket clients, an SMTP server.

`serve` runs uvicorn with the app on a free loopback port inside the test's event
loop, so the server, the ORM and the test share one loop and the same database
connections. `smtp_server` is aiosmtpd's thread-based controller on a free loopback
port, which keeps every message it receives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from websockets.asyncio.client import ClientConnection, connect

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.models import Client, Contract, Notification
from contractgql.security.tokens import TokenSigner
from tests.conftest import Tenant

PROTOCOL = "graphql-transport-ws"
# Seconds a test waits for one websocket message or for the server to start.
RECEIVE_TIMEOUT = 5.0
# Poll interval of the live server's app, so that polled rows arrive quickly.
POLL_INTERVAL = 0.2
# An amount that no seeded name, date or id contains, to search responses for.
AMOUNT = "98765.43"
AMOUNT_MINOR = 9876543


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A uvicorn server of the app, on 127.0.0.1."""

    settings: Settings
    port: int
    app: Any

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveServer]:
    """Run the app of `settings` on a free port for the duration of the block."""
    app = create_app(settings, manage_database=False)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + RECEIVE_TIMEOUT
    while not server.started:
        if task.done() or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(settings, port, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, RECEIVE_TIMEOUT * 2)
        await app.state.notification_hub.close()


def live_settings(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(
        settings, notification_poll_interval=POLL_INTERVAL, **changes
    )


class Socket:
    """A graphql-transport-ws client connection with bounded waits."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        text = await asyncio.wait_for(self.connection.recv(), timeout)
        message: dict[str, Any] = json.loads(text)
        return message

    async def receive_text(self, timeout: float = RECEIVE_TIMEOUT) -> str:
        text = await asyncio.wait_for(self.connection.recv(), timeout)
        assert isinstance(text, str)
        return text

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, id: str = "1"
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": id, "type": "subscribe", "payload": payload})

    async def closed(self, timeout: float = RECEIVE_TIMEOUT) -> tuple[int, str]:
        """Wait for the server to close the connection; return code and reason."""
        await asyncio.wait_for(self.connection.wait_closed(), timeout)
        close = self.connection.protocol.close_rcvd
        assert close is not None, "the connection ended without a close frame"
        return close.code, close.reason

    async def nothing_within(self, seconds: float) -> bool:
        """Return whether no message arrives within `seconds`."""
        try:
            await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def open_socket(
    server: LiveServer, subprotocols: list[str] | None = None
) -> AsyncIterator[Socket]:
    protocols = [PROTOCOL] if subprotocols is None else subprotocols
    async with connect(
        server.ws_url,
        # An empty list would send an empty header, so none is sent instead.
        subprotocols=protocols or None,  # type: ignore[arg-type]
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=1,
    ) as connection:
        yield Socket(connection)


@asynccontextmanager
async def subscribed(
    server: LiveServer, token: str, query: str
) -> AsyncIterator[Socket]:
    """Open an authenticated socket with one subscription, and wait until the
    server has registered it."""
    async with open_socket(server) as ws:
        assert await ws.init({"authorization": f"Bearer {token}"}) == {
            "type": "connection_ack"
        }
        hub = server.app.state.notification_hub
        before = hub.subscriber_count
        await ws.subscribe(query)
        deadline = asyncio.get_running_loop().time() + RECEIVE_TIMEOUT
        while hub.subscriber_count == before:
            assert asyncio.get_running_loop().time() < deadline, "not subscribed"
            await asyncio.sleep(0.01)
        yield ws


# --- Records --------------------------------------------------------------------------


async def make_contract(
    tenant: Tenant,
    name: str,
    *,
    number: str | None = None,
    end_date: date | None = date(2027, 6, 30),
    notice_deadline: date | None = date(2027, 3, 31),
    confidential: bool = False,
    owner_role: str | None = None,
    client_name: str = "Acme Ltd",
) -> Contract:
    """Create a signed contract with an amount, straight in the database."""
    client = await Client.filter(
        organization_id=tenant.organization.id, name=client_name
    ).first()
    if client is None:
        client = await Client.create(
            organization_id=tenant.organization.id, name=client_name
        )
    contract: Contract = await Contract.create(
        organization_id=tenant.organization.id,
        client_id=client.id,
        name=name,
        number=number,
        start_date=date(2026, 1, 1),
        end_date=end_date,
        notice_deadline=notice_deadline,
        notice_count=3 if notice_deadline else None,
        notice_unit="months" if notice_deadline else None,
        payment_frequency="monthly",
        amount_minor=AMOUNT_MINOR,
        currency="EUR",
        vat_rate_bp=2100,
        indexation_bp=250,
        renewal_price_agreement="Price rises by 2.5% a year",
        sensitivity="confidential" if confidential else "normal",
        owner_id=tenant.user_ids[owner_role] if owner_role else None,
    )
    return contract


async def make_notification(
    tenant: Tenant,
    role: str,
    title: str,
    *,
    contract: Contract | None = None,
    kind: str = "reminder",
    source: str | None = None,
    body: str = "",
) -> Notification:
    notification: Notification = await Notification.create(
        organization_id=tenant.organization.id,
        user_id=tenant.user_ids[role],
        contract_id=contract.id if contract else None,
        kind=kind,
        source=source or f"test:{uuid.uuid4().hex}",
        title=title,
        body=body,
    )
    return notification


def token_for(settings: Settings, tenant: Tenant, role: str) -> str:
    signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
    return signer.issue(tenant.user_ids[role], tenant.organization.id)


# --- SMTP -----------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    # Whether the session was encrypted with STARTTLS, and the login it used.
    tls: bool
    login: str | None


@dataclass
class MailSink:
    """The aiosmtpd handler: keeps every message it accepts."""

    received: list[ReceivedMail] = field(default_factory=list)
    # Addresses that the server rejects with 550.
    rejected: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.rejected:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        # SMTP sends lines ending in CRLF; the tests compare text with LF.
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 Message accepted"

    def to(self, address: str) -> list[ReceivedMail]:
        return [mail for mail in self.received if address in mail.recipients]


SMTP_LOGIN = ("digest-sender", "smtp-secret-password")


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    if (
        isinstance(data, LoginPassword)
        and (
            data.login.decode(),
            data.password.decode(),
        )
        == SMTP_LOGIN
    ):
        return AuthResult(success=True, auth_data=data)
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailSink, int]]:
    """A plain SMTP server on 127.0.0.1, without TLS or login."""
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    """Generate a certificate for 127.0.0.1 and its key with the openssl command."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def starttls_server(
    self_signed_cert: tuple[Path, Path],
) -> Iterator[tuple[MailSink, int, Path]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS and a login."""
    cert, key = self_signed_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = MailSink()
    port = free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield sink, port, cert
    finally:
        controller.stop()
