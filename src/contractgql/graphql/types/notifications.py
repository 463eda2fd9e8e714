"""Notifications as their user sees them, in queries and in subscriptions.

A notification shows its contract as a ContractSummary, which has no financial
fields, so that no role reads a financial value through a notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from contractgql.graphql.relay import Node
from contractgql.graphql.types.common import FieldErrorType
from contractgql.ids import encode_id
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer


@strawberry.type(
    description="The id and name of a contract. Fetch its other fields with "
    "node(id:), where the policy applies."
)
class ContractSummary:
    id: strawberry.ID = strawberry.field(description="The contract's global id.")
    name: str


@strawberry.type(
    name="Notification",
    description="A message to one user about a reminder, a task or a contract event. "
    "Only its user can read it.",
)
class NotificationNode(Node):
    pk: strawberry.Private[int]
    kind: str = strawberry.field(
        description="What the notification is about, as the scan that wrote it "
        "names it, such as 'reminder' or 'task'."
    )
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None = strawberry.field(
        description="When the user first marked it read; null while it is unread."
    )
    contract: ContractSummary | None = strawberry.field(
        description="The contract it is about; null when there is none or the user "
        "may no longer see it."
    )


async def notification_nodes(
    viewer: Viewer, rows: Sequence[dict[str, Any]]
) -> list[NotificationNode]:
    """Build the nodes of `viewer`'s notification rows, with one query for the names
    of the contracts that the viewer may see."""
    contract_ids = {row["contract_id"] for row in rows if row["contract_id"]}
    names: dict[int, str] = {}
    if contract_ids:
        pairs = await (
            visible_contracts(viewer)
            .filter(id__in=sorted(contract_ids))
            .values_list("id", "name")
        )
        names = {pk: name for pk, name in pairs}
    return [_node(row, names) for row in rows]


def _node(row: dict[str, Any], contract_names: dict[int, str]) -> NotificationNode:
    contract_id = row["contract_id"]
    contract = None
    if contract_id in contract_names:
        contract = ContractSummary(
            id=strawberry.ID(encode_id("Contract", contract_id)),
            name=contract_names[contract_id],
        )
    return NotificationNode(
        id=strawberry.ID(encode_id("Notification", row["id"])),
        pk=row["id"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        created_at=row["created_at"],
        read_at=row["read_at"],
        contract=contract,
    )


@strawberry.type(
    description="A new secret calendar feed address, or the reasons it was not made."
)
class CreateCalendarFeedPayload:
    url: str | None = strawberry.field(
        description="The feed's address, to subscribe to in a calendar program. It "
        "is shown only here: it cannot be read again, and anyone who has it can "
        "read the feed, so keep it private."
    )
    created_at: datetime | None
    errors: list[FieldErrorType]


@strawberry.type(description="Whether a calendar feed was revoked.")
class RevokeCalendarFeedPayload:
    revoked: bool = strawberry.field(
        description="True when an active feed was revoked, false when there was none."
    )
    errors: list[FieldErrorType]


@strawberry.type(description="The notifications marked read.")
class MarkNotificationsReadPayload:
    notifications: list[NotificationNode]
    unread_count: int = strawberry.field(
        description="The caller's unread notifications after the change."
    )
    errors: list[FieldErrorType]


@strawberry.type(description="How many notifications were marked read.")
class MarkAllNotificationsReadPayload:
    marked_count: int
    unread_count: int = strawberry.field(
        description="The caller's unread notifications after the change."
    )
    errors: list[FieldErrorType]
