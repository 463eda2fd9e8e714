"""Import jobs: one import of a spreadsheet or DECP file into an organization.

The job row stores the outcome. Live progress of a running job goes through
contractgql.importexport.progress instead, because the import writes in one
database transaction that other connections cannot see into.
"""

import enum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from contractgql.models import Organization, User


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ImportFormat(enum.StrEnum):
    # A CSV or XLSX register with one contract per row.
    REGISTER = "register"
    # A French public procurement (DECP) JSON file.
    DECP = "decp"


FINISHED_STATUSES = frozenset(
    {ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED}
)


class ImportJob(Model):
    """An import of one file, its status, row counts, rejected rows and warnings."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    # Null for imports started from the command line.
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    file_name = fields.CharField(max_length=255)
    # Path of the stored copy of the file, deleted when the job finishes.
    stored_path = fields.CharField(max_length=1000)
    file_format = fields.CharEnumField(ImportFormat, max_length=20)
    # ImportOptions as JSON: mapping, currency, create_types, default_notice_period.
    options: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(ImportStatus, max_length=20)
    total_rows = fields.IntField(null=True)
    rows_read = fields.IntField(default=0)
    rows_created = fields.IntField(default=0)
    rows_updated = fields.IntField(default=0)
    rows_unchanged = fields.IntField(default=0)
    rows_duplicate = fields.IntField(default=0)
    rows_rejected = fields.IntField(default=0)
    # Rejected rows as {row, column, value, reason}, the first MAX_STORED_ERRORS.
    errors: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    # Values imported with a doubt, as {row, column, value, message}.
    warnings: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    # Why the job failed, when it did.
    failure = fields.TextField(null=True)
    cancel_requested = fields.BooleanField(default=False)
    # Runs started, the first included. A worker stopped mid-import runs it again.
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "import_jobs"
        indexes = (("organization_id", "created_at"),)
