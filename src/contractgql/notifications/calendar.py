"""Per-user iCalendar feeds behind secret addresses.

`GET /calendar/<secret>.ics` returns all-day events (RFC 5545, VALUE=DATE) for the
notice deadlines and end dates of the contracts that the feed's user may see, and the
due dates of the user's open tasks. Calendar programs fetch the address without a
login, so the secret in it is the credential: 256 random bits, of which only the
SHA-256 is stored. An unknown or revoked secret, and the feed of a deactivated user,
all get the same 404.

Events carry names, numbers, clients and dates, never an amount or another financial
field, whatever the user's roles. Their UIDs depend only on the record and the kind
of date, so a calendar program moves an event when its date changes.

uvicorn's access log writes request paths, so the app installs RedactFeedSecrets on
that log while it runs. A proxy in front of the server keeps its own access log, which
should be filtered the same way.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from tortoise.transactions import in_transaction

from contractgql.config import Settings
from contractgql.errors import PermissionDenied
from contractgql.ids import encode_id
from contractgql.models import (
    CalendarFeed,
    ContractStage,
    Organization,
    Task,
    TaskStatus,
    User,
)
from contractgql.security.policy import Policy
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer, viewer_for

logger = logging.getLogger(__name__)

FEED_PATH = "/calendar/{secret}.ics"
_FEED_SECRET = re.compile(r"^/calendar/[^/?]+\.ics")


class RedactFeedSecrets(logging.Filter):
    """Replace the secret in logged calendar feed paths with "<secret>".

    uvicorn's access log records carry the path as their third argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            redacted = _FEED_SECRET.sub("/calendar/<secret>.ics", args[2])
            if redacted != args[2]:
                record.args = (*args[:2], redacted, *args[3:])
        return True


_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# Events dated further back than this are left out of a feed.
PAST_DAYS = 365
PRODUCT_ID = "-//contractgql//Calendar feed//EN"
UID_DOMAIN = "contractgql"
# Contract columns that event descriptions and digests show: no financial field.
CONTRACT_DETAIL_COLUMNS = (
    "id",
    "name",
    "number",
    "end_date",
    "notice_deadline",
    "client__name",
)
NOT_FOUND_MESSAGE = (
    "Calendar feed not found: the address is wrong or was revoked. Create a new "
    "feed with the createCalendarFeed mutation."
)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _require_login(viewer: Viewer, action: str) -> None:
    if viewer.api_token or viewer.user_id is None:
        raise PermissionDenied(
            f"API tokens may only read, so this token cannot {action}. Log in as "
            "the user whose calendar it is."
        )


async def create_feed(viewer: Viewer, base_url: str) -> tuple[CalendarFeed, str]:
    """Create a feed for the viewer's user and return it with its address.

    The user's earlier feed, if any, is revoked, so each user has at most one
    address that works.
    """
    _require_login(viewer, "create a calendar feed")
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with in_transaction():
        await CalendarFeed.filter(
            organization_id=viewer.organization_id,
            user_id=viewer.user_id,
            revoked_at=None,
        ).update(revoked_at=now)
        feed = await CalendarFeed.create(
            organization_id=viewer.organization_id,
            user_id=viewer.user_id,
            secret_hash=hash_secret(secret),
        )
    logger.info("User %s created calendar feed %s", viewer.user_id, feed.id)
    return feed, base_url.rstrip("/") + FEED_PATH.format(secret=secret)


async def revoke_feed(viewer: Viewer) -> bool:
    """Revoke the viewer's active feed; return whether there was one."""
    _require_login(viewer, "revoke a calendar feed")
    revoked = await CalendarFeed.filter(
        organization_id=viewer.organization_id,
        user_id=viewer.user_id,
        revoked_at=None,
    ).update(revoked_at=datetime.now(UTC))
    if revoked:
        logger.info("User %s revoked their calendar feed", viewer.user_id)
    return bool(revoked)


async def calendar_feed_endpoint(request: Request) -> Response:
    """Serve GET /calendar/<secret>.ics."""
    services = request.app.state.services
    body = await render_feed(
        request.path_params["secret"], services.policy, services.settings
    )
    if body is None:
        return PlainTextResponse(NOT_FOUND_MESSAGE, status_code=404)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, no-cache"},
    )


async def render_feed(secret: str, policy: Policy, settings: Settings) -> bytes | None:
    """Return the iCalendar text of the feed with `secret`, or None when it does not
    exist, was revoked or belongs to a deactivated user."""
    if not _SECRET_PATTERN.fullmatch(secret):
        return None
    feed = await CalendarFeed.filter(
        secret_hash=hash_secret(secret), revoked_at=None
    ).first()
    if feed is None:
        return None
    user = (
        await User.filter(id=feed.user_id, organization_id=feed.organization_id)
        .select_related("organization")
        .first()
    )
    if user is None or not user.is_active:
        return None
    viewer = viewer_for(user, policy)
    events = await feed_events(viewer, settings)
    body: bytes = _calendar(user.organization, events).to_ical()
    return body


@dataclass(frozen=True)
class FeedEvent:
    """One all-day event of a feed."""

    uid: str
    day: date
    summary: str
    description: str
    stamp: datetime
    url: str | None


async def feed_events(viewer: Viewer, settings: Settings) -> list[FeedEvent]:
    """Return the viewer's events from PAST_DAYS ago on, by date and UID."""
    since = viewer.today - timedelta(days=PAST_DAYS)
    events = await _contract_events(viewer, settings, since)
    events += await _task_events(viewer, settings, since)
    return sorted(events, key=lambda event: (event.day, event.uid))


async def _contract_events(
    viewer: Viewer, settings: Settings, since: date
) -> list[FeedEvent]:
    rows = await (
        visible_contracts(viewer)
        .filter(archived_at=None, stage=ContractStage.SIGNED)
        .values(*CONTRACT_DETAIL_COLUMNS, "notice_date", "updated_at")
    )
    events = []
    for row in rows:
        global_id = encode_id("Contract", row["id"])
        details = _contract_details(row)
        url = contract_link(settings, row["id"])
        # Once notice is recorded, its deadline no longer asks anything of anyone.
        if (
            row["notice_deadline"] is not None
            and row["notice_deadline"] >= since
            and row["notice_date"] is None
        ):
            events.append(
                FeedEvent(
                    uid=f"notice-deadline-{global_id}@{UID_DOMAIN}",
                    day=row["notice_deadline"],
                    summary=f"Notice deadline: {row['name']}",
                    description=details,
                    stamp=row["updated_at"],
                    url=url,
                )
            )
        if row["end_date"] is not None and row["end_date"] >= since:
            events.append(
                FeedEvent(
                    uid=f"end-date-{global_id}@{UID_DOMAIN}",
                    day=row["end_date"],
                    summary=f"Contract ends: {row['name']}",
                    description=details,
                    stamp=row["updated_at"],
                    url=url,
                )
            )
    return events


async def _task_events(
    viewer: Viewer, settings: Settings, since: date
) -> list[FeedEvent]:
    tasks = await Task.filter(
        organization_id=viewer.organization_id,
        assignee_id=viewer.user_id,
        status=TaskStatus.OPEN,
        due_date__gte=since,
    ).values("id", "title", "due_date", "created_at", "contract_id")
    contract_ids = sorted({task["contract_id"] for task in tasks})
    contracts: dict[int, dict[str, Any]] = {}
    if contract_ids:
        rows = await (
            visible_contracts(viewer)
            .filter(id__in=contract_ids)
            .values(
                "id", "name", "number", "end_date", "notice_deadline", "client__name"
            )
        )
        contracts = {row["id"]: row for row in rows}
    events = []
    for task in tasks:
        contract = contracts.get(task["contract_id"])
        description = f"Task: {task['title']}\nDue: {task['due_date'].isoformat()}"
        if contract is not None:
            description += "\n" + _contract_details(contract)
        events.append(
            FeedEvent(
                uid=f"task-{encode_id('Task', task['id'])}@{UID_DOMAIN}",
                day=task["due_date"],
                summary=f"Task due: {task['title']}",
                description=description,
                stamp=task["created_at"],
                url=contract_link(settings, contract["id"]) if contract else None,
            )
        )
    return events


def contract_link(settings: Settings, contract_id: int) -> str | None:
    """Return the contract's address from CONTRACTGQL_CONTRACT_URL, if it is set."""
    if settings.contract_url is None:
        return None
    return settings.contract_url.replace("{id}", encode_id("Contract", contract_id))


def _contract_details(row: dict[str, Any]) -> str:
    """Return the plain-text lines that describe a contract: no financial field."""
    lines = [f"Contract: {row['name']}"]
    if row["number"]:
        lines.append(f"Number: {row['number']}")
    lines.append(f"Client: {row['client__name']}")
    if row["notice_deadline"] is not None:
        lines.append(f"Notice deadline: {row['notice_deadline'].isoformat()}")
    if row["end_date"] is not None:
        lines.append(f"End date: {row['end_date'].isoformat()}")
    return "\n".join(lines)


def _calendar(organization: Organization, events: list[FeedEvent]) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Contracts of {organization.name}")
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", item.stamp.astimezone(UTC))
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("transp", "TRANSPARENT")
        if item.url is not None:
            event.add("url", item.url)
        calendar.add_component(event)
    return calendar
