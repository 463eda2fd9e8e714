"""Calendar feeds: creating and revoking the secret address, and the iCalendar text."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from icalendar import Calendar

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.ids import encode_id
from contractgql.models import (
    CalendarFeed,
    Contract,
    Reminder,
    Task,
    TaskStatus,
    User,
)
from contractgql.notifications.calendar import RedactFeedSecrets
from tests.conftest import Api, Tenant, make_tenant
from tests.notifications.conftest import AMOUNT, make_contract
from tests.security.test_api_tokens import token_for

PUBLIC_URL = "https://contracts.example.com"
CONTRACT_URL = "https://crm.example.com/contracts/{id}"
CREATE = """
mutation { createCalendarFeed { url createdAt errors { field code message } } }
"""
REVOKE = "mutation { revokeCalendarFeed { revoked errors { code } } }"
FEED_URL = re.compile(
    re.escape(PUBLIC_URL) + r"/calendar/(?P<secret>[A-Za-z0-9_-]{43})\.ics"
)


@pytest_asyncio.fixture
async def feed_api(settings: Settings, tenant: Tenant) -> AsyncIterator[Api]:
    """An Api on an app with a public URL and contract links configured."""
    configured = dataclasses.replace(
        settings, public_url=PUBLIC_URL, contract_url=CONTRACT_URL
    )
    app = create_app(configured, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, tenant)


async def _create(api: Api, role: str) -> str:
    data = await api.data(CREATE, role=role)
    payload = data["createCalendarFeed"]
    assert payload["errors"] == []
    url: str = payload["url"]
    return url


async def _fetch(api: Api, url: str) -> httpx.Response:
    path = url.removeprefix(PUBLIC_URL)
    return await api.client.get(path)


def _events(text: str) -> list[dict[str, Any]]:
    calendar = Calendar.from_ical(text)
    return [
        {
            "uid": str(event["UID"]),
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
            "description": str(event["DESCRIPTION"]),
            "url": str(event["URL"]) if "URL" in event else None,
        }
        for event in calendar.walk("VEVENT")
    ]


async def _task(
    tenant: Tenant, contract: Contract, role: str, title: str, due: date, **extra: Any
) -> Task:
    reminder = await Reminder.create(
        organization_id=tenant.organization.id,
        contract_id=contract.id,
        kind="notice",
        anchor_date=contract.notice_deadline or date(2027, 3, 31),
        offset_count=len(title),
        offset_unit="days",
        due_date=due,
    )
    task: Task = await Task.create(
        organization_id=tenant.organization.id,
        contract_id=contract.id,
        reminder_id=reminder.id,
        step=0,
        title=title,
        assignee_id=tenant.user_ids[role],
        due_date=due,
        **extra,
    )
    return task


def _details(contract: Contract, client: str = "Acme Ltd") -> str:
    lines = [f"Contract: {contract.name}"]
    if contract.number:
        lines.append(f"Number: {contract.number}")
    lines.append(f"Client: {client}")
    if contract.notice_deadline:
        lines.append(f"Notice deadline: {contract.notice_deadline.isoformat()}")
    if contract.end_date:
        lines.append(f"End date: {contract.end_date.isoformat()}")
    return "\n".join(lines)


async def test_feed_lists_visible_dates(feed_api: Api, settings: Settings) -> None:
    tenant = feed_api.tenant
    lease = await make_contract(tenant, "Office lease", number="L-1")
    secret = await make_contract(
        tenant, "Secret merger", confidential=True, end_date=date(2027, 9, 30)
    )
    open_ended = await make_contract(
        tenant, "Support", end_date=None, notice_deadline=None
    )
    other = await make_tenant(settings)
    await make_contract(other, "Other organization's lease")
    task = await _task(
        tenant, lease, "sales", "Ask for a renewal quote", date(2027, 1, 15)
    )
    await _task(
        tenant,
        lease,
        "sales",
        "Done already",
        date(2027, 1, 20),
        status=TaskStatus.DONE,
    )
    await _task(tenant, lease, "admin", "The admin's task", date(2027, 1, 25))

    url = await _create(feed_api, "sales")
    response = await _fetch(feed_api, url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert FEED_URL.fullmatch(url)
    lease_id = encode_id("Contract", lease.id)
    link = CONTRACT_URL.replace("{id}", lease_id)
    assert _events(response.text) == [
        {
            "uid": f"task-{encode_id('Task', task.id)}@contractgql",
            "start": date(2027, 1, 15),
            "end": date(2027, 1, 16),
            "summary": "Task due: Ask for a renewal quote",
            "description": "Task: Ask for a renewal quote\nDue: 2027-01-15\n"
            + _details(lease),
            "url": link,
        },
        {
            "uid": f"notice-deadline-{lease_id}@contractgql",
            "start": date(2027, 3, 31),
            "end": date(2027, 4, 1),
            "summary": "Notice deadline: Office lease",
            "description": _details(lease),
            "url": link,
        },
        {
            "uid": f"end-date-{lease_id}@contractgql",
            "start": date(2027, 6, 30),
            "end": date(2027, 7, 1),
            "summary": "Contract ends: Office lease",
            "description": _details(lease),
            "url": link,
        },
    ]
    assert "DTSTART;VALUE=DATE:20270331" in response.text
    assert "DTEND;VALUE=DATE:20270401" in response.text
    assert secret.name not in response.text
    assert open_ended.name not in response.text
    assert "Other organization" not in response.text


async def test_feed_uids_stable_when_dates_move(feed_api: Api) -> None:
    lease = await make_contract(feed_api.tenant, "Office lease")
    url = await _create(feed_api, "admin")
    before = _events((await _fetch(feed_api, url)).text)

    await Contract.filter(id=lease.id).update(
        end_date=date(2028, 6, 30), notice_deadline=date(2028, 3, 31)
    )
    after = _events((await _fetch(feed_api, url)).text)

    assert [e["uid"] for e in after] == [e["uid"] for e in before]
    assert [e["start"] for e in after] == [date(2028, 3, 31), date(2028, 6, 30)]


async def test_feed_drops_the_deadline_once_notice_is_recorded(feed_api: Api) -> None:
    lease = await make_contract(feed_api.tenant, "Office lease")
    url = await _create(feed_api, "admin")
    before = _events((await _fetch(feed_api, url)).text)

    await Contract.filter(id=lease.id).update(notice_date=date(2026, 11, 2))
    after = _events((await _fetch(feed_api, url)).text)

    assert [e["summary"] for e in before] == [
        "Notice deadline: Office lease",
        "Contract ends: Office lease",
    ]
    assert [e["summary"] for e in after] == ["Contract ends: Office lease"]


@pytest.mark.parametrize(
    "role",
    ["admin", "management", "finance", "account_manager", "sales", "project_staff"],
)
async def test_feed_has_no_financial_values(feed_api: Api, role: str) -> None:
    await make_contract(feed_api.tenant, "Hosting", owner_role=role)

    response = await _fetch(feed_api, await _create(feed_api, role))

    assert response.status_code == 200
    assert "Hosting" in response.text
    assert AMOUNT not in response.text
    assert "98765" not in response.text
    assert "2.5%" not in response.text


async def test_secret_stored_hashed(feed_api: Api) -> None:
    url = await _create(feed_api, "sales")
    match = FEED_URL.fullmatch(url)
    assert match is not None
    secret = match["secret"]

    rows = await CalendarFeed.filter(user_id=feed_api.tenant.user_ids["sales"]).values(
        "secret_hash", "revoked_at", "organization_id"
    )

    assert rows == [
        {
            "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
            "revoked_at": None,
            "organization_id": feed_api.tenant.organization.id,
        }
    ]


async def test_new_feed_revokes_old(feed_api: Api) -> None:
    old = await _create(feed_api, "sales")
    new = await _create(feed_api, "sales")

    assert (await _fetch(feed_api, old)).status_code == 404
    assert (await _fetch(feed_api, new)).status_code == 200


async def test_revoked_feed_not_found(feed_api: Api) -> None:
    url = await _create(feed_api, "sales")

    revoked = await feed_api.data(REVOKE, role="sales")
    again = await feed_api.data(REVOKE, role="sales")
    response = await _fetch(feed_api, url)

    assert revoked["revokeCalendarFeed"] == {"revoked": True, "errors": []}
    assert again["revokeCalendarFeed"] == {"revoked": False, "errors": []}
    assert response.status_code == 404
    assert response.text == (
        "Calendar feed not found: the address is wrong or was revoked. Create a "
        "new feed with the createCalendarFeed mutation."
    )


async def test_revoke_leaves_colleagues_feed(feed_api: Api) -> None:
    colleague = await _create(feed_api, "admin")
    await _create(feed_api, "sales")

    await feed_api.data(REVOKE, role="sales")

    assert (await _fetch(feed_api, colleague)).status_code == 200


async def test_deactivated_user_feed_not_found(feed_api: Api) -> None:
    url = await _create(feed_api, "sales")
    await User.filter(id=feed_api.tenant.user_ids["sales"]).update(is_active=False)

    response = await _fetch(feed_api, url)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 43 + ".ics",
        "/calendar/short.ics",
        "/calendar/" + "A" * 43 + ".txt",
        "/calendar/" + "%2E" * 20 + ".ics",
    ],
    ids=["unknown", "short", "other-suffix", "dots"],
)
async def test_unknown_feed_not_found(feed_api: Api, path: str) -> None:
    response = await feed_api.client.get(path)

    assert response.status_code == 404


async def test_url_from_request_without_public_url(api: Api) -> None:
    data = await api.data(CREATE, role="sales")

    url = data["createCalendarFeed"]["url"]
    assert re.fullmatch(r"http://test/calendar/[A-Za-z0-9_-]{43}\.ics", url)
    assert (await api.client.get(url.removeprefix("http://test"))).status_code == 200


async def test_created_at_returned(feed_api: Api) -> None:
    before = datetime.now(UTC)
    data = await feed_api.data(CREATE, role="sales")

    created = datetime.fromisoformat(data["createCalendarFeed"]["createdAt"])
    assert before <= created <= datetime.now(UTC)


@pytest.mark.parametrize("document", [CREATE, REVOKE], ids=["create", "revoke"])
async def test_api_token_forbidden(feed_api: Api, document: str) -> None:
    token = await token_for(feed_api, ["admin"], ["READ"])

    body = await feed_api.post(document, role=token)

    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


def test_access_log_redacts_feed_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/calendar/s3cr3t-value.ics?x=1", "1.1", 200),
        None,
    )

    kept = RedactFeedSecrets().filter(record)

    assert kept is True
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /calendar/<secret>.ics?x=1 HTTP/1.1" 200'
    )
