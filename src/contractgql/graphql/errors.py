"""Error reporting: codes for known errors, a generic message for everything else."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from contractgql.errors import ContractGQLError
from graphql import GraphQLError

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = (
    "An internal error occurred. It has been logged; try again, and report it with "
    "the request id if it persists."
)


class ErrorCodes(SchemaExtension):
    """Give known errors an `extensions.code` and hide the text of unexpected ones.

    Unexpected exceptions may contain stored values, including protected ones, so
    their message is replaced and only the log keeps the details.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._format(error) for error in result.errors]

    def _format(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None:
            return _with_code(error, error.message, "GRAPHQL_VALIDATION_FAILED")
        if error.path is None and not isinstance(original, ContractGQLError):
            # Raised while coercing variables, before any resolver ran: the caller
            # sent a value its type cannot represent, such as the date 2026-02-30.
            return _with_code(error, error.message, "BAD_USER_INPUT")
        if isinstance(original, ContractGQLError):
            return _with_code(error, original.message, original.code)
        logger.error("Unexpected error in %s", error.path, exc_info=original)
        return _with_code(error, INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR")


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), "code": code},
    )
