"""Mutations on the caller's own notifications and calendar feed."""

from __future__ import annotations

import strawberry

from contractgql.errors import InvalidArgument, PermissionDenied
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.types.notifications import (
    CreateCalendarFeedPayload,
    MarkAllNotificationsReadPayload,
    MarkNotificationsReadPayload,
    RevokeCalendarFeedPayload,
    notification_nodes,
)
from contractgql.notifications import calendar, store
from contractgql.security.viewer import Viewer


def _require_login(viewer: Viewer, action: str) -> None:
    """Reject API tokens, which may only read, as every other mutation does."""
    if viewer.api_token:
        raise PermissionDenied(
            f"API tokens may only read, so this token cannot {action}. Log in as "
            "the user whose notifications they are."
        )


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Mark some of your notifications read. Fails with NOT_FOUND, "
        "changing nothing, when an id is not one of your notifications."
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID]
    ) -> MarkNotificationsReadPayload:
        viewer = info.context.viewer
        _require_login(viewer, "mark notifications read")
        if len(ids) > store.MAX_MARK_IDS:
            raise InvalidArgument(
                f"ids has {len(ids)} entries, more than the maximum of "
                f"{store.MAX_MARK_IDS}: mark them in several calls, or call "
                "markAllNotificationsRead."
            )
        keys = [decode_typed_id(global_id, "Notification", "ids") for global_id in ids]
        rows = await store.mark_read(viewer, keys)
        return MarkNotificationsReadPayload(
            notifications=await notification_nodes(viewer, rows),
            unread_count=await store.unread_count(viewer),
            errors=[],
        )

    @strawberry.mutation(description="Mark all your unread notifications read.")
    async def mark_all_notifications_read(
        self, info: Info
    ) -> MarkAllNotificationsReadPayload:
        viewer = info.context.viewer
        _require_login(viewer, "mark notifications read")
        marked = await store.mark_all_read(viewer)
        return MarkAllNotificationsReadPayload(
            marked_count=marked,
            unread_count=await store.unread_count(viewer),
            errors=[],
        )

    @strawberry.mutation(
        description="Create a secret address of an iCalendar feed with the notice "
        "deadlines and end dates of the contracts you may see and the due dates "
        "of your open tasks. It replaces your earlier feed, whose address stops "
        "working. The address is shown only in this response."
    )
    async def create_calendar_feed(self, info: Info) -> CreateCalendarFeedPayload:
        viewer = info.context.viewer
        feed, url = await calendar.create_feed(viewer, _base_url(info))
        return CreateCalendarFeedPayload(url=url, created_at=feed.created_at, errors=[])

    @strawberry.mutation(
        description="Revoke your calendar feed: its address returns 404 from now on."
    )
    async def revoke_calendar_feed(self, info: Info) -> RevokeCalendarFeedPayload:
        revoked = await calendar.revoke_feed(info.context.viewer)
        return RevokeCalendarFeedPayload(revoked=revoked, errors=[])


def _base_url(info: Info) -> str:
    """Return CONTRACTGQL_PUBLIC_URL, or else the address this request came to."""
    public_url = info.context.services.settings.public_url
    if public_url is not None:
        return public_url
    return str(info.context.request.base_url).rstrip("/")
