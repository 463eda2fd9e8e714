"""The activity timeline of a contract or client: notes, changes, reminders, tasks
and document versions.

The five sources are separate tables, so a page reads up to `first + 1` rows of each,
newest first, and merges them by creation time. Ties are broken by the kind's rank
and then the id, and the cursor carries all three, so each source continues exactly
after the last item of the page before.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from contractgql.errors import InvalidArgument
from contractgql.graphql.context import Info
from contractgql.graphql.relay import PageInfo, check_page_size
from contractgql.graphql.types.audit import (
    AUDIT_COLUMNS,
    AuditEntryNode,
    audit_entry,
)
from contractgql.models import AuditLog, DocumentVersion, Note, Reminder, Task
from contractgql.security.records import visible_contracts

if TYPE_CHECKING:
    from contractgql.graphql.types.documents import DocumentVersionNode
    from contractgql.graphql.types.notes import NoteNode
    from contractgql.graphql.types.workflow import ReminderNode, TaskNode

NoteRef = Annotated["NoteNode", strawberry.lazy("contractgql.graphql.types.notes")]
ReminderRef = Annotated[
    "ReminderNode", strawberry.lazy("contractgql.graphql.types.workflow")
]
TaskRef = Annotated["TaskNode", strawberry.lazy("contractgql.graphql.types.workflow")]
DocumentVersionRef = Annotated[
    "DocumentVersionNode", strawberry.lazy("contractgql.graphql.types.documents")
]


@strawberry.enum(name="ActivityKind")
class ActivityKind(enum.Enum):
    NOTE = "note"
    CHANGE = "change"
    REMINDER = "reminder"
    TASK = "task"
    # A new document or a new version of one.
    DOCUMENT = "document"


# Order of the kinds among items created at the same moment, newest first.
KIND_RANK = {
    ActivityKind.DOCUMENT: 4,
    ActivityKind.NOTE: 3,
    ActivityKind.CHANGE: 2,
    ActivityKind.REMINDER: 1,
    ActivityKind.TASK: 0,
}


@strawberry.type(
    name="Activity",
    description="One item of a timeline. The field named by `kind` is set, the "
    "others are null.",
)
class ActivityItem:
    at: datetime
    kind: ActivityKind
    note: NoteRef | None = None
    change: AuditEntryNode | None = None
    reminder: ReminderRef | None = None
    task: TaskRef | None = None
    document: DocumentVersionRef | None = None


@strawberry.type(name="ActivityEdge")
class ActivityEdge:
    cursor: str
    node: ActivityItem


@strawberry.type(name="ActivityConnection", description="A page of a timeline.")
class ActivityConnection:
    edges: list[ActivityEdge]
    nodes: list[ActivityItem]
    page_info: PageInfo


@dataclass(frozen=True)
class _Position:
    at: datetime
    rank: int
    pk: int


def _encode_cursor(position: _Position) -> str:
    raw = f"act1:{position.rank}:{position.pk}:{position.at.isoformat()}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, rank, pk, at = raw.split(":", 3)
        if version != "act1":
            raise ValueError(version)
        return _Position(datetime.fromisoformat(at), int(rank), int(pk))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            f"Cursor {cursor!r} is invalid: pass an `endCursor` or edge `cursor` "
            "from an earlier page of the same timeline."
        ) from None


def _after(rank: int, position: _Position | None) -> Q:
    """Return the filter of the rows of kind `rank` that come after `position`."""
    if position is None:
        return Q()
    if rank < position.rank:
        return Q(created_at__lte=position.at)
    if rank > position.rank:
        return Q(created_at__lt=position.at)
    return Q(created_at__lt=position.at) | Q(created_at=position.at, id__lt=position.pk)


@dataclass(frozen=True)
class _Source:
    kind: ActivityKind
    query: QuerySet[Any]
    columns: tuple[str, ...]


async def activity_connection(
    info: Info, type_name: str, pk: int, first: int | None, after: str | None
) -> ActivityConnection:
    """Return a page of the record's timeline, newest first.

    The caller has already read the record, so it is visible to them. A client's
    reminders and tasks are those of its contracts that the caller may see.
    """
    from contractgql.graphql.types.documents import version_node
    from contractgql.graphql.types.notes import NOTE_COLUMNS, note_node
    from contractgql.graphql.types.workflow import (
        REMINDER_COLUMNS,
        TASK_COLUMNS,
        reminder_node,
        task_node,
    )

    viewer = info.context.viewer
    limit = check_page_size(first, info.context.services.settings.max_page_size)
    position = _decode_cursor(after) if after is not None else None
    org = viewer.organization_id
    if type_name == "Contract":
        notes = Note.filter(contract_id=pk)
        contracts: Q = Q(contract_id=pk)
        documents = Q(document__contract_id=pk)
    else:
        notes = Note.filter(client_id=pk)
        visible = visible_contracts(viewer).filter(client_id=pk).values("id")
        contracts = Q(contract_id__in=Subquery(visible))
        documents = Q(document__client_id=pk) | Q(
            document__contract_id__in=Subquery(
                visible_contracts(viewer).filter(client_id=pk).values("id")
            )
        )
    sources = (
        _Source(
            ActivityKind.NOTE,
            notes.filter(organization_id=org, archived_at=None),
            tuple(NOTE_COLUMNS),
        ),
        _Source(
            ActivityKind.CHANGE,
            AuditLog.filter(organization_id=org, entity_type=type_name, entity_id=pk),
            AUDIT_COLUMNS,
        ),
        _Source(
            ActivityKind.REMINDER,
            Reminder.filter(contracts, organization_id=org),
            REMINDER_COLUMNS,
        ),
        _Source(
            ActivityKind.TASK,
            Task.filter(contracts, organization_id=org),
            TASK_COLUMNS,
        ),
    )

    rows: list[tuple[_Position, ActivityKind, dict[str, Any]]] = []
    for source in sources:
        rank = KIND_RANK[source.kind]
        found = await (
            source.query.filter(_after(rank, position))
            .order_by("-created_at", "-id")
            .limit(limit + 1)
            .values(*source.columns)
        )
        for row in found:
            row_position = _Position(row["created_at"], rank, row["id"])
            rows.append((row_position, source.kind, row))
    # Document versions are built from model objects, so they are read apart.
    document_rank = KIND_RANK[ActivityKind.DOCUMENT]
    versions = (
        await DocumentVersion.filter(
            documents,
            _after(document_rank, position),
            organization_id=org,
            document__deleted_at=None,
        )
        .order_by("-created_at", "-id")
        .limit(limit + 1)
    )
    for version in versions:
        version_position = _Position(version.created_at, document_rank, version.id)
        rows.append(
            (
                version_position,
                ActivityKind.DOCUMENT,
                {"created_at": version.created_at, "version": version},
            )
        )
    rows.sort(key=lambda item: (item[0].at, item[0].rank, item[0].pk), reverse=True)
    has_next = len(rows) > limit
    rows = rows[:limit]

    edges = []
    for row_position, kind, row in rows:
        item = ActivityItem(at=row["created_at"], kind=kind)
        if kind is ActivityKind.NOTE:
            item.note = note_node(row)
        elif kind is ActivityKind.CHANGE:
            item.change = audit_entry(viewer, type_name, row)
        elif kind is ActivityKind.REMINDER:
            item.reminder = reminder_node(row)
        elif kind is ActivityKind.DOCUMENT:
            item.document = version_node(row["version"])
        else:
            item.task = task_node(row)
        edges.append(ActivityEdge(cursor=_encode_cursor(row_position), node=item))
    return ActivityConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
