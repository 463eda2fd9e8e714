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
from contractgql.models import ImportJob
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
    value: str = strawberry.field(
        description="The cell as written in the file. A cell longer than 240 "
        "characters is shortened to its first 200, an ellipsis and its length."
    )
    reason: str


@strawberry.type(description="A value imported with a doubt, or left out.")
class ImportWarning:
    row: int = strawberry.field(
        description="Row or record number, or 0 for the whole file."
    )
    column: str | None
    value: str = strawberry.field(
        description="The value concerned, shortened as ImportRowError.value is."
    )
    message: str


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
    rows_rejected: int
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
    return await import_job_node(settings, job)


async def import_job_node(settings: Settings, job: ImportJob) -> ImportJobNode:
    """Build the node of a job, with live counts while it runs."""
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
        errors=[ImportRowError(**_fields(e, ImportRowError)) for e in job.errors],
        warnings=[ImportWarning(**_fields(w, ImportWarning)) for w in job.warnings],
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


def _fields(stored: dict[str, Any], type_: type) -> dict[str, Any]:
    names = (
        "row",
        "column",
        "value",
        "reason" if type_ is ImportRowError else "message",
    )
    return {name: stored.get(name) for name in names}
