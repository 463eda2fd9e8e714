"""Reading and marking a user's notifications, always within their organization."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from contractgql.errors import NotFound
from contractgql.ids import encode_id
from contractgql.models import Notification
from contractgql.security.viewer import Viewer

NOTIFICATION_COLUMNS = (
    "id",
    "organization_id",
    "user_id",
    "contract_id",
    "kind",
    "title",
    "body",
    "created_at",
    "read_at",
)
# Maximum number of ids that one markNotificationsRead call accepts.
MAX_MARK_IDS = 1000


def own_notifications(viewer: Viewer) -> QuerySet[Notification]:
    """Return the notifications of the viewer's own user in their organization."""
    return Notification.filter(
        organization_id=viewer.organization_id, user_id=viewer.user_id
    )


async def unread_count(viewer: Viewer) -> int:
    return await own_notifications(viewer).filter(read_at=None).count()


async def mark_read(viewer: Viewer, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Mark the viewer's notifications `ids` read and return their rows.

    Raises NotFound, and changes nothing, when an id is not one of the viewer's
    notifications. Notifications read before keep their first read time.
    """
    unique = sorted(set(ids))
    rows = await own_notifications(viewer).filter(id__in=unique).values("id")
    found = {row["id"] for row in rows}
    missing = [pk for pk in unique if pk not in found]
    if missing:
        raise NotFound(
            f"Notification {encode_id('Notification', missing[0])!r} does not exist "
            "or is not yours: pass ids from your own `notifications`."
        )
    if unique:
        await (
            own_notifications(viewer)
            .filter(id__in=unique, read_at=None)
            .update(read_at=datetime.now(UTC))
        )
    rows = await (
        own_notifications(viewer).filter(id__in=unique).values(*NOTIFICATION_COLUMNS)
    )
    by_id = {row["id"]: row for row in rows}
    return [by_id[pk] for pk in dict.fromkeys(ids)]


async def mark_all_read(viewer: Viewer) -> int:
    """Mark every unread notification of the viewer read; return how many."""
    return await (
        own_notifications(viewer).filter(read_at=None).update(read_at=datetime.now(UTC))
    )
