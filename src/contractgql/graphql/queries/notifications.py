"""The connection of the caller's own notifications."""

from __future__ import annotations

from typing import Any

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, SortKey, paginate
from contractgql.graphql.types.notifications import (
    NotificationNode,
    notification_nodes,
)
from contractgql.notifications.store import NOTIFICATION_COLUMNS, own_notifications
from contractgql.security.viewer import Viewer

NEWEST_FIRST = SortKey("created_at", "created_at")


async def notifications_connection(
    info: Info, first: int | None, after: str | None, unread_only: bool
) -> Connection[Any]:
    viewer = info.context.viewer
    scope = own_notifications(viewer)
    query = scope.filter(read_at=None) if unread_only else scope

    async def build(rows: list[dict[str, Any]]) -> list[NotificationNode]:
        return await notification_nodes(viewer, rows)

    return await paginate(
        query,
        scope,
        key=NEWEST_FIRST,
        descending=True,
        first=first,
        after=after,
        max_page_size=info.context.services.settings.max_page_size,
        columns=NOTIFICATION_COLUMNS,
        build=build,
    )


async def notification_by_id(viewer: Viewer, pk: int) -> NotificationNode | None:
    """Return the viewer's own notification for node(id:), or None."""
    rows = await own_notifications(viewer).filter(id=pk).values(*NOTIFICATION_COLUMNS)
    if not rows:
        return None
    nodes = await notification_nodes(viewer, rows)
    return nodes[0]
