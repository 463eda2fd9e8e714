"""The id of the current request, shared by its log lines, errors and audit events.

A client or proxy may send its own id in the X-Request-ID header so that one id
follows the request through every system. It is kept when it is 1 to 64 characters
of ASCII letters, digits and `.`, `_`, `:` or `-` (64 is the length of the audit
tables' request_id column). Any other value is replaced by a new id, so a header
cannot inject line breaks or markup into the logs.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID_LENGTH = 64
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,%d}" % MAX_REQUEST_ID_LENGTH)

# Set for each HTTP request and websocket by the request middleware, and for each
# import by the importer. None in workers and in the other commands.
current_request_id: ContextVar[str | None] = ContextVar(
    "contractgql_request_id", default=None
)


def new_request_id() -> str:
    """Return a new random request id of 16 hexadecimal digits."""
    return uuid.uuid4().hex[:16]


def request_id_from_header(value: bytes | None) -> str:
    """Return the client's request id when it is valid, else a new one."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value.decode("ascii")
    return new_request_id()
