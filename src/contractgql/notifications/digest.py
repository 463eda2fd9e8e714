"""The daily e-mail digest of each user's notifications.

`send_daily_digests(now)` is meant to run every hour or more often. From
CONTRACTGQL_DIGEST_HOUR o'clock in an organization's timezone, it sends each active
person of that organization one plain-text e-mail that lists their notifications not
yet e-mailed, and then sets the notifications' `emailed_at`. A user gets at most one
digest per local day: one whose notifications were e-mailed since local midnight
waits for the next day.

Runs may overlap, in one process or several. Each user's rows are claimed in a
transaction that first locks the user's row (on PostgreSQL) and then sets
`emailed_at` only where it is still null, so a row is e-mailed by one run at most.
When sending fails, the run sets the claimed rows' `emailed_at` back to null, so the
next run tries again.

A digest lists titles, bodies, contract names and numbers, clients, dates, task
titles and links, never an amount or another financial field.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from contractgql.config import Settings, load_settings
from contractgql.models import Notification, Organization, Task, TaskStatus, User
from contractgql.notifications.calendar import contract_link
from contractgql.notifications.mail import (
    build_message,
    email_enabled,
    smtp_connection,
)
from contractgql.security.policy import Policy
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import viewer_for

logger = logging.getLogger(__name__)

# Notifications that one digest lists at most. Later ones wait for the next day.
MAX_DIGEST_ITEMS = 200


@dataclass
class DigestRun:
    """The outcome of one run: the users e-mailed and the users whose e-mail failed."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Digest:
    user_id: int
    claimed: list[int]
    message: EmailMessage


async def send_daily_digests(
    now: datetime,
    settings: Settings | None = None,
    policy: Policy | None = None,
) -> DigestRun:
    """Send the digests that are due at `now`, an aware datetime.

    Does nothing when e-mail is off (CONTRACTGQL_SMTP_HOST unset). Returns the
    users e-mailed and the users whose e-mail failed, whose rows stay unsent.
    """
    settings = settings or load_settings()
    run = DigestRun()
    if not email_enabled(settings):
        return run
    policy = policy or Policy.load(settings.policy_dir)
    digests = []
    for user_id in await _candidate_users():
        try:
            digest = await _claim_digest(user_id, now, settings, policy)
        except _ClaimLost:
            logger.info("Another run claimed the digest of user %s first", user_id)
            continue
        if digest is not None:
            digests.append(digest)
    if digests:
        await _send(settings, digests, run)
    return run


async def _candidate_users() -> list[int]:
    """Return the active people who have notifications not yet e-mailed."""
    rows = await (
        Notification.filter(
            emailed_at=None, user__is_active=True, user__is_service_account=False
        )
        .distinct()
        .values("user_id")
    )
    return sorted({int(row["user_id"]) for row in rows})


def _local_midnight(now: datetime, timezone: str) -> datetime:
    """Return the start of the local day of `now` in `timezone`, in UTC."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)


async def _claim_digest(
    user_id: int, now: datetime, settings: Settings, policy: Policy
) -> _Digest | None:
    """Claim the user's unsent notifications and build their digest, or return None
    when none is due."""
    user = await User.filter(id=user_id).select_related("organization").first()
    if user is None or not user.is_active or user.is_service_account:
        return None
    organization = user.organization
    local_now = now.astimezone(ZoneInfo(organization.timezone))
    if local_now.hour < settings.digest_hour:
        return None
    midnight = _local_midnight(now, organization.timezone)

    async with in_transaction():
        # Serializes overlapping runs per user on PostgreSQL. SQLite runs one
        # writing transaction at a time anyway.
        await User.filter(id=user_id).select_for_update().first()
        already = await Notification.filter(
            user_id=user_id, emailed_at__gte=midnight
        ).exists()
        if already:
            return None
        pending = await (
            Notification.filter(
                user_id=user_id,
                organization_id=user.organization_id,
                emailed_at=None,
            )
            .order_by("created_at", "id")
            .limit(MAX_DIGEST_ITEMS)
            .values("id", "contract_id", "kind", "source", "title", "body")
        )
        ids = [row["id"] for row in pending]
        if not ids:
            return None
        claimed = await Notification.filter(id__in=ids, emailed_at=None).update(
            emailed_at=now
        )
        if claimed != len(ids):
            # Another run claimed some of them between the read and the update.
            raise _ClaimLost
    body = await _body(user, organization, pending, settings, policy)
    count = len(pending)
    subject = (
        f"{count} new contract notification{'s' if count != 1 else ''}, "
        f"{local_now.date().isoformat()}"
    )
    message = build_message(
        settings,
        to_name=user.name,
        to_address=user.email,
        subject=subject,
        body=body,
        sent_at=now,
    )
    return _Digest(user_id, ids, message)


class _ClaimLost(Exception):
    """Rolls back a claim that raced with another run."""


async def _body(
    user: User,
    organization: Organization,
    rows: list[dict[str, Any]],
    settings: Settings,
    policy: Policy,
) -> str:
    """Return the digest text: one numbered entry per notification."""
    viewer = viewer_for(user, policy)
    contract_ids = sorted({row["contract_id"] for row in rows if row["contract_id"]})
    contracts: dict[int, dict[str, Any]] = {}
    if contract_ids:
        found = await (
            visible_contracts(viewer)
            .filter(id__in=contract_ids)
            .values(
                "id", "name", "number", "end_date", "notice_deadline", "client__name"
            )
        )
        contracts = {row["id"]: row for row in found}
    tasks = await _tasks(user, rows)

    count = len(rows)
    lines = [
        f"Hello {user.name},",
        "",
        f"You have {count} new notification{'s' if count != 1 else ''} in "
        f"{organization.name}:",
    ]
    for number, row in enumerate(rows, start=1):
        lines += ["", f"{number}. {row['title']}"]
        lines += [f"   {line}" for line in row["body"].splitlines() if line.strip()]
        contract = contracts.get(row["contract_id"])
        if contract is not None:
            lines += _contract_lines(contract)
        for task in tasks.get(row["id"], []):
            lines.append(
                f"   Task: {task['title']}, due {task['due_date'].isoformat()}"
            )
        if contract is not None:
            link = contract_link(settings, contract["id"])
            if link is not None:
                lines.append(f"   Link: {link}")
    lines += [
        "",
        "You get this e-mail at most once a day, when you have new notifications.",
        "",
    ]
    return "\n".join(lines)


def _contract_lines(contract: dict[str, Any]) -> list[str]:
    label = contract["name"]
    if contract["number"]:
        label += f" ({contract['number']})"
    lines = [f"   Contract: {label}", f"   Client: {contract['client__name']}"]
    if contract["notice_deadline"] is not None:
        lines.append(f"   Notice deadline: {contract['notice_deadline'].isoformat()}")
    if contract["end_date"] is not None:
        lines.append(f"   End date: {contract['end_date'].isoformat()}")
    return lines


async def _tasks(user: User, rows: list[dict[str, Any]]) -> dict[int, list[Any]]:
    """Return the user's open tasks that each notification is about, by its id.

    A source "task:<id>" names a task, and a source "reminder:<id>" the tasks that
    the reminder started.
    """
    by_task: dict[int, list[int]] = defaultdict(list)
    by_reminder: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        prefix, _, raw = row["source"].partition(":")
        if not raw.isdigit():
            continue
        if prefix == "task":
            by_task[int(raw)].append(row["id"])
        elif prefix == "reminder":
            by_reminder[int(raw)].append(row["id"])
    if not by_task and not by_reminder:
        return {}
    open_tasks = Task.filter(
        organization_id=user.organization_id,
        assignee_id=user.id,
        status=TaskStatus.OPEN,
    )
    found = await (
        open_tasks.filter(
            Q(id__in=list(by_task)) | Q(reminder_id__in=list(by_reminder))
        )
        .order_by("due_date", "step", "id")
        .values("id", "reminder_id", "title", "due_date")
    )
    tasks: dict[int, list[Any]] = defaultdict(list)
    for task in found:
        notification_ids = by_task.get(task["id"], []) + by_reminder.get(
            task["reminder_id"], []
        )
        for notification_id in dict.fromkeys(notification_ids):
            tasks[notification_id].append(task)
    return tasks


async def _send(settings: Settings, digests: list[_Digest], run: DigestRun) -> None:
    """Send the digests over one SMTP connection, releasing the rows of any that
    fail."""
    pending = list(digests)
    try:
        async with smtp_connection(settings) as client:
            while pending:
                digest = pending[0]
                try:
                    await client.send_message(digest.message)
                except (
                    aiosmtplib.SMTPRecipientsRefused,
                    aiosmtplib.SMTPResponseException,
                ) as error:
                    # The server rejected this message, such as its recipient.
                    logger.error(
                        "The SMTP server rejected the digest of user %s: %s",
                        digest.user_id,
                        error,
                    )
                    await _release(digest)
                    run.failed.append(digest.user_id)
                else:
                    run.sent.append(digest.user_id)
                    logger.info(
                        "Sent a digest of %d notifications to user %s",
                        len(digest.claimed),
                        digest.user_id,
                    )
                pending.pop(0)
    except (aiosmtplib.SMTPException, OSError) as error:
        logger.error(
            "Sending digests through %s:%s failed, %d left unsent for the next run: %s",
            settings.smtp_host,
            settings.smtp_port,
            len(pending),
            error,
        )
        for digest in pending:
            await _release(digest)
            run.failed.append(digest.user_id)


async def _release(digest: _Digest) -> None:
    await Notification.filter(id__in=digest.claimed).update(emailed_at=None)
