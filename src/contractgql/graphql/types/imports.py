"""Import jobs as GraphQL types: status, row counts, rejected rows and warnings."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from contractgql.config import Settings
from contractgql.errors import NotFound
from contractgql.graphql.relay import Node
from contractgql.ids import encode_id
from contractgql.importexport import jobs
from contractgql.importexport.columns import match_header
from contractgql.models import ImportJob
from contractgql.security.fields import hidden_import_field
from contractgql.security.viewer import Viewer


@strawberry.enum(name="ImportStatus", description="The state of an import job.")
class ImportStatusEnum(Enum):
    QUEUED = strawberry.enum_value("queued", description="Waiting for its turn.")
    RUNNING = strawberry.enum_value("running", description="Reading and writing rows.")
    SUCCEEDED = strawberry.enum_value(
        "succeeded", description="Written. Rejected rows were skipped."
    )
    FAILED = strawberry.enum_value(
        "failed", description="Stopped by an error. Nothing was written."
    )
    CANCELLED = strawberry.enum_value(
        "cancelled", description="Stopped on request. Nothing was written."
    )


@strawberry.enum(name="ImportFormat", description="The kind of file an import reads.")
class ImportFormatEnum(Enum):
    REGISTER = strawberry.enum_value(
        "register",
        description="A CSV (any delimiter) or XLSX register, one contract a row.",
    )
    DECP = strawberry.enum_value(
        "decp",
        description="French public procurement award data (DECP) as JSON. The buyer "
        "becomes the client.",
    )


@strawberry.type(description="A row the import rejected and skipped.")
class ImportRowError:
    row: int = strawberry.field(
        description="Spreadsheet row number, or the record number in a DECP file."
    )
    column: str | None = strawberry.field(
        description="Header of the column, or null when the whole row is concerned."
    )
    value: str | None = strawberry.field(
        description="The cell as written in the file, or null for callers who may "
        "not read the field that the column fills. A cell longer than 240 "
        "characters is shortened to its first 200, an ellipsis and its length."
    )
    reason: str = strawberry.field(
        description="Why the row was rejected. For callers who may not read the "
        "value, a sentence that names the permission it needs."
    )


@strawberry.type(description="A value imported with a doubt, or left out.")
class ImportWarning:
    row: int = strawberry.field(
        description="Row or record number, or 0 for the whole file."
    )
    column: str | None
    value: str | None = strawberry.field(
        description="The value concerned, or null for callers who may not read "
        "the field that the column fills. It is shortened as ImportRowError.value "
        "is."
    )
    message: str = strawberry.field(
        description="Why the value is doubtful or was left out. For callers who "
        "may not read the value, a sentence that names the permission it needs."
    )


@strawberry.type(
    name="ImportJob",
    description="An import of one file into the organization. Visible to roles "
    "that may import ('contract:write') in the same organization.",
)
class ImportJobNode(Node):
    file_name: str
    format: ImportFormatEnum
    status: ImportStatusEnum
    total_rows: int | None = strawberry.field(
        description="Data rows in the file, once it has been read."
    )
    rows_read: int = strawberry.field(description="Rows processed so far.")
    rows_written: int = strawberry.field(
        description="Rows created, updated or found unchanged so far. A cancelled or "
        "failed import keeps none of them."
    )
    rows_rejected: int = strawberry.field(
        description="Rows rejected so far. A cancelled or failed import keeps this "
        "count, but lists the rejected rows in `errors` only when it ran to the end."
    )
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_duplicate: int = strawberry.field(
        description="Rows that repeat an earlier row of the file."
    )
    errors: list[ImportRowError] = strawberry.field(
        description="The first 1,000 rejected rows. rowsRejected counts them all."
    )
    warnings: list[ImportWarning]
    failure: str | None = strawberry.field(description="Why the job failed.")
    cancel_requested: bool
    attempts: int = strawberry.field(
        description="Runs started. A worker stopped mid-import runs the job again."
    )
    started_by_id: strawberry.ID | None = strawberry.field(
        description="The user who started the import, or null for the command line."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


async def import_job_by_id(
    viewer: Viewer, settings: Settings, job_id: int
) -> ImportJobNode | None:
    """Return the node of a job of the viewer's organization, or None when missing.

    Raises PermissionDenied for roles that may not import.
    """
    try:
        job = await jobs.get_job(viewer, job_id)
    except NotFound:
        return None
    return await import_job_node(viewer, settings, job)


async def import_job_node(
    viewer: Viewer, settings: Settings, job: ImportJob
) -> ImportJobNode:
    """Build the node of a job, with live counts while it runs.

    Values of rejected rows and warnings are hidden as the fields they fill are.
    """
    live = await jobs.live_progress(settings, job)
    if live is not None:
        total: int | None = live.total_rows
        read, written, rejected = live.rows_read, live.rows_written, live.rows_rejected
    else:
        total, read, rejected = job.total_rows, job.rows_read, job.rows_rejected
        written = job.rows_created + job.rows_updated + job.rows_unchanged
    return ImportJobNode(
        id=strawberry.ID(encode_id("ImportJob", job.id)),
        file_name=job.file_name,
        format=ImportFormatEnum(job.file_format.value),
        status=ImportStatusEnum(job.status.value),
        total_rows=total,
        rows_read=read,
        rows_written=written,
        rows_rejected=rejected,
        rows_created=job.rows_created,
        rows_updated=job.rows_updated,
        rows_unchanged=job.rows_unchanged,
        rows_duplicate=job.rows_duplicate,
        errors=[ImportRowError(**_fields(viewer, e, "reason")) for e in job.errors],
        warnings=[ImportWarning(**_fields(viewer, w, "message")) for w in job.warnings],
        failure=job.failure,
        cancel_requested=await jobs.is_cancel_requested(settings, job),
        attempts=job.attempts,
        started_by_id=None
        if job.created_by_id is None
        else strawberry.ID(encode_id("User", job.created_by_id)),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _fields(viewer: Viewer, stored: dict[str, Any], text: str) -> dict[str, Any]:
    """Return the GraphQL fields of a stored error or warning for `viewer`.

    `text` is the key of its explanation, which can quote the value and so is
    replaced when the value is hidden.
    """
    fields = {name: stored.get(name) for name in ("row", "column", "value", text)}
    hidden = hidden_import_field(viewer, _import_field(stored))
    if hidden is not None:
        permission = viewer.fields.protected[hidden]
        fields["value"] = None
        fields[text] = (
            f"The value and this explanation are hidden because they can show "
            f"{'.'.join(hidden)}, which needs the '{permission}:read' permission."
        )
    return fields


def _import_field(stored: dict[str, Any]) -> str | None:
    """Return the import field of a stored error or warning.

    An entry stored without a field name has only its column, so its header is
    matched as the import matches headers. A header that matches no field gives
    None, which field security treats as any field.
    """
    if "field" in stored:
        field: str | None = stored["field"]
        return field
    column = stored.get("column")
    matched = match_header(column) if isinstance(column, str) else None
    return None if matched is None else matched[0]
