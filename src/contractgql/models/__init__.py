"""Tortoise ORM models. Every row except an organization belongs to one organization.

Class docstrings become table comments in migrations. tortoise-orm 1.1.9 splits SQLite
migration scripts on semicolons, so a docstring with a semicolon breaks the migration.
A NOT NULL column added to an existing table needs `db_default`, because SQLite cannot
add one without a database default (tests/test_migrations.py upgrades a populated
database to catch this).
"""

from contractgql.models.audit import AuditChainHead, AuditLog, AuditOutbox
from contractgql.models.calendar import CalendarFeed
from contractgql.models.catalog import (
    ContractType,
    Project,
    ProjectMember,
    Service,
    Tag,
)
from contractgql.models.clients import Client, ContactPerson
from contractgql.models.contracts import (
    Contract,
    ContractStage,
    ContractWatcher,
    Sensitivity,
)
from contractgql.models.custom_fields import (
    CustomFieldDefinition,
    CustomFieldEntity,
    CustomFieldKind,
)
from contractgql.models.documents import (
    Document,
    DocumentKind,
    DocumentTemplate,
    DocumentText,
    DocumentVersion,
    TextStatus,
)
from contractgql.models.hours import (
    BudgetSettings,
    CapPeriod,
    CapUnit,
    ContractCap,
    EntryKind,
    EntryStatus,
    TimeEntry,
)
from contractgql.models.imports import ImportFormat, ImportJob, ImportStatus
from contractgql.models.notes import Note
from contractgql.models.quality import (
    ContractField,
    QualityNotificationRun,
    RequiredFieldRule,
)
from contractgql.models.tenancy import Organization, User
from contractgql.models.tokens import ApiToken
from contractgql.models.workflow import (
    ContractEvent,
    ContractEventKind,
    Notification,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Task,
    TaskStatus,
)

__all__ = [
    "BudgetSettings",
    "CapPeriod",
    "CapUnit",
    "ContractCap",
    "EntryKind",
    "EntryStatus",
    "TimeEntry",
    "AuditChainHead",
    "AuditLog",
    "AuditOutbox",
    "CalendarFeed",
    "ContractEvent",
    "ContractField",
    "ContractEventKind",
    "Notification",
    "Reminder",
    "ReminderKind",
    "ReminderStatus",
    "Task",
    "TaskStatus",
    "ApiToken",
    "Client",
    "ContactPerson",
    "Contract",
    "ContractStage",
    "ContractWatcher",
    "ContractType",
    "CustomFieldDefinition",
    "CustomFieldEntity",
    "CustomFieldKind",
    "Document",
    "DocumentKind",
    "DocumentTemplate",
    "DocumentText",
    "DocumentVersion",
    "TextStatus",
    "ImportFormat",
    "ImportJob",
    "ImportStatus",
    "Note",
    "Organization",
    "Project",
    "QualityNotificationRun",
    "RequiredFieldRule",
    "ProjectMember",
    "Sensitivity",
    "Service",
    "Tag",
    "User",
]
