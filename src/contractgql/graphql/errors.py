"""Error reporting: codes for known errors, a generic message for everything else."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from contractgql.errors import ContractGQLError
from graphql import GraphQLError

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = (
    "An internal error occurred. It has been logged; try again, and report it with "
    "the request id if it persists."
)

# The suggestion that graphql-core (3.3) adds to messages about unknown names,
# such as " Did you mean 'roles'?" or " Did you mean the enum value 'ACTIVE' or
# 'EXPIRED'?". It names fields, types and values that the caller did not ask for.
# It ends the message, except in errors about input objects, where " Found: ..."
# follows it.
_NAME = r"'[_A-Za-z][_0-9A-Za-z]*'"
_SUGGESTION = re.compile(
    rf" Did you mean (?:[a-z]+ )*{_NAME}(?:(?:,| or|, or) {_NAME})*\?(?= |$)"
)


class ErrorCodes(SchemaExtension):
    """Give known errors an `extensions.code` and hide the text of unexpected ones.

    Unexpected exceptions may contain stored values, including protected ones, so
    their message is replaced and only the log keeps the details. Callers who are
    not logged in get no "Did you mean ...?" suggestions, which would show them
    names in the schema. The suggestions are removed here, when the response is
    built, because the document cache shares validation errors among all callers.
    """

    # Set once a subscription's result was formatted, because the last result of a
    # stream is also the operation's result and must not be formatted twice.
    _streamed = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors or self._streamed:
            return
        result.errors = self._formatted(result.errors)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Format the errors of each result of a subscription before it is sent."""
        self._streamed = True
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._formatted(errors)
        yield

    def _formatted(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        formatted = [self._format(error, request_id) for error in errors]
        if getattr(context, "viewer_or_none", None) is None:
            formatted = [_without_suggestion(error) for error in formatted]
        return formatted

    def _format(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        if original is None:
            return _with_code(error, error.message, "GRAPHQL_VALIDATION_FAILED")
        if error.path is None and not isinstance(original, ContractGQLError):
            # Raised while coercing variables, before any resolver ran: the caller
            # sent a value its type cannot represent, such as the date 2026-02-30.
            return _with_code(error, error.message, "BAD_USER_INPUT")
        if isinstance(original, ContractGQLError):
            return _with_code(error, original.message, original.code)
        logger.error(
            "Unexpected error in %s, request %s",
            error.path,
            request_id,
            exc_info=original,
        )
        formatted = _with_code(error, INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR")
        if request_id is not None and formatted.extensions is not None:
            formatted.extensions["requestId"] = request_id
        return formatted


class ContractSchema(strawberry.Schema):
    """Strawberry's schema without its log line and traceback for every error.

    Errors the caller caused (invalid input, missing permission, unknown id) go
    back in the response and are not logged at ERROR. ErrorCodes logs each
    unexpected error once, with its traceback and request id.
    """

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        for error in errors:
            logger.debug("GraphQL error at %s: %s", error.path, error.message)


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


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=error.extensions,
    )
