"""Errors that reach API callers.

Every error carries a machine-readable `code` and a message that is a whole sentence
naming the bad value and the fix. The GraphQL layer reports them as errors with
`extensions.code`, except ValidationError, which mutations return as a list of
per-field errors in their payload.

    ContractGQLError
    ├── AuthenticationError   UNAUTHENTICATED: missing, expired or invalid credentials
    ├── PermissionDenied      FORBIDDEN: the caller's roles do not allow the action
    ├── NotFound              NOT_FOUND: no such record in the caller's organization
    ├── InvalidArgument       BAD_USER_INPUT: an argument such as a page size or cursor
    ├── Conflict              CONFLICT: the record's version is not the expected one
    ├── OutOfRange            OUT_OF_RANGE: a computed figure passes the database range
    └── ValidationError       VALIDATION_FAILED: one or more input fields are invalid
"""

from __future__ import annotations

from dataclasses import dataclass


class ContractGQLError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthenticationError(ContractGQLError):
    code = "UNAUTHENTICATED"


class PermissionDenied(ContractGQLError):
    code = "FORBIDDEN"


class NotFound(ContractGQLError):
    code = "NOT_FOUND"


class InvalidArgument(ContractGQLError):
    code = "BAD_USER_INPUT"


class OutOfRange(ContractGQLError):
    code = "OUT_OF_RANGE"


class Conflict(ContractGQLError):
    """An update's expected version is not the stored version of the record.

    `changed_fields` are the GraphQL names of the fields that the request sets to a
    value other than the stored one.
    """

    code = "CONFLICT"

    def __init__(
        self, message: str, current_version: int, changed_fields: list[str]
    ) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changed_fields = changed_fields
        # graphql-core copies an original error's `extensions` into the response.
        self.extensions = {
            "currentVersion": current_version,
            "changedFields": changed_fields,
        }


@dataclass(frozen=True)
class FieldError:
    """One invalid input field: its path in the input, a code and a sentence."""

    field: str
    code: str
    message: str


class ValidationError(ContractGQLError):
    code = "VALIDATION_FAILED"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(" ".join(error.message for error in errors))
        self.errors = errors
