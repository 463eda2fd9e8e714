"""The audit trail of every change that a mutation writes.

Services call `record_change` inside the transaction of their write, which inserts an
AuditOutbox row, so the change and its audit event commit or roll back together. The
recorder (`contractgql.audit.recorder`) later moves outbox rows into the hash-chained
AuditLog, one organization at a time.
"""

from contractgql.audit.outbox import (
    pending_organizations,
    record_change,
    record_event,
    snapshot,
)
from contractgql.observability.request_id import current_request_id

__all__ = [
    "current_request_id",
    "pending_organizations",
    "record_change",
    "record_event",
    "snapshot",
]
