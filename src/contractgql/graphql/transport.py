"""GraphQL over HTTP: response media types, status codes and error bodies.

The rules follow the GraphQL-over-HTTP specification draft, as the audits of the
npm package graphql-http 1.23 check it (tests/http/test_graphql_http.py):

- The response media type is negotiated from the Accept header. A client that
  accepts `application/graphql-response+json` gets it, one that sends no Accept
  header or accepts `application/json`, `application/*` or `*/*` gets
  `application/json`, and any other client gets HTTP 406. When both types are
  acceptable with the same quality, the newer graphql-response type wins.
- With `application/json` every well-formed request gets HTTP 200, as the
  audits expect for legacy clients, with `"data": null` beside request errors.
- With `application/graphql-response+json` a request error gets HTTP 400 and a
  body without a `data` entry. Request errors are documents that do not parse or
  validate, variables that cannot be coerced, and operations that a limit
  rejects. A response that has `data`, even null after a field error, gets
  HTTP 200.
- A mutation sent with GET gets HTTP 405 with `Allow: POST`, and a method other
  than GET and POST gets HTTP 405 with `Allow: GET, POST`.
- Errors of the HTTP request itself, such as an unreadable body or an invalid
  multipart upload, are GraphQL error responses with a code in
  `extensions.code`, not plain text.
- An exception outside field execution, such as in authentication, is a GraphQL
  error response with the request id in its message: HTTP 503 with
  SERVICE_UNAVAILABLE when the database cannot be reached, else HTTP 500 with
  INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
import sqlite3
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from tortoise.exceptions import DBConnectionError
from tortoise.exceptions import OperationalError as TortoiseOperationalError

from contractgql.body_limit import BodyTooLarge
from contractgql.documents.uploads import insert_files
from contractgql.graphql.context import Context
from contractgql.observability.request_id import current_request_id

logger = logging.getLogger(__name__)

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

# `extensions.code` of the errors of the HTTP request itself, by status code.
HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

# Errors of a database that cannot be reached. OSError covers a refused or timed
# out connection, asyncpg's errors a server that shuts down, restarts or lacks the
# database.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.InvalidCatalogNameError,
)

NOT_ACCEPTABLE_MESSAGE = (
    "The Accept header allows no media type that this endpoint can send: accept "
    f"{GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}."
)


class MethodNotAllowed(HTTPException):
    """HTTP 405, with the methods for the `Allow` header."""

    def __init__(self, reason: str, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


@dataclass
class _Exchange:
    """Negotiated media type of one HTTP request, and whether it had a request
    error."""

    media_type: str | None
    request_error: bool = False


_exchange: ContextVar[_Exchange | None] = ContextVar("graphql_exchange", default=None)


def negotiate_media_type(accept: str | None) -> str | None:
    """Return the response media type for an Accept header, or None if the client
    accepts neither JSON type."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: str | None = None
    best_quality = 0.0
    for media_range in accept.split(","):
        name, *parameters = (part.strip() for part in media_range.split(";"))
        name = name.lower()
        if name == GRAPHQL_RESPONSE_JSON:
            candidate = GRAPHQL_RESPONSE_JSON
        elif name in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = APPLICATION_JSON
        else:
            continue
        quality = _quality(parameters)
        if quality > best_quality or (
            quality == best_quality > 0 and candidate == GRAPHQL_RESPONSE_JSON
        ):
            best, best_quality = candidate, quality
    return best


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def is_request_error(result: ExecutionResult) -> bool:
    """Return whether execution never started: the document did not parse or
    validate, the variables could not be coerced, or a limit rejected the
    operation. Such errors have no path, while field errors always have one."""
    errors = result.errors or []
    return (
        result.data is None
        and bool(errors)
        and all(error.path is None for error in errors)
    )


def is_database_unavailable(error: BaseException) -> bool:
    """Return whether `error` means that the database cannot be reached."""
    if isinstance(error, DATABASE_UNAVAILABLE_ERRORS):
        return True
    # tortoise wraps sqlite3's "unable to open database file" in OperationalError.
    cause = error.__cause__ or (error.args[0] if error.args else None)
    return (
        isinstance(error, TortoiseOperationalError)
        and isinstance(cause, sqlite3.OperationalError)
        and "unable to open database file" in str(cause)
    )


def unexpected_error_exception(error: Exception) -> HTTPException:
    """Log an exception that escaped the GraphQL view, and return the HTTP 503 or
    500 error that the client gets, with the request id to quote to operators."""
    request_id = current_request_id.get()
    if is_database_unavailable(error):
        logger.error(
            "The database cannot be reached, so the GraphQL request failed: %s: %s",
            type(error).__name__,
            error,
        )
        return HTTPException(
            503,
            "The database cannot be reached. Retry later, and quote request id "
            f"{request_id} to the operators if the error persists.",
        )
    logger.exception("The GraphQL request failed with an unexpected error")
    return HTTPException(
        500,
        f"Internal server error: quote request id {request_id} to the operators.",
    )


def error_body(message: str, code: str) -> dict[str, Any]:
    """Return a GraphQL response body with one error and its code."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class ConformingGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the media types and status codes of the
    GraphQL-over-HTTP specification."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        accept = request.headers.get("accept")
        exchange = _Exchange(negotiate_media_type(accept))
        token = _exchange.set(exchange)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = self._error_response(error, exchange)
        except (BodyTooLarge, ClientDisconnect):
            # The body limit middleware answers these with 413, and a client that
            # went away gets no response.
            raise
        except Exception as error:  # noqa: BLE001 - logged with its traceback
            # Raised outside field execution, as by get_context when the database
            # is down. Without this, Starlette sends a plain-text 500 outside the
            # CORS and request id middleware.
            response = self._error_response(unexpected_error_exception(error), exchange)
        finally:
            _exchange.reset(token)
        await response(scope, receive, send)

    def _error_response(self, error: HTTPException, exchange: _Exchange) -> Response:
        code = HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST")
        # A client that accepts neither JSON type still gets the error as JSON,
        # because HTTP allows a response of any type with an error status.
        response = Response(
            self.encode_json(error_body(error.reason, code)),
            status_code=error.status_code,
            media_type=exchange.media_type or APPLICATION_JSON,
        )
        if isinstance(error, MethodNotAllowed):
            response.headers["allow"] = error.allow
        elif error.status_code == 405:
            response.headers["allow"] = "GET, POST"
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        # Checked here, after the GraphiQL page (which a browser requests with
        # Accept: text/html) was served, and before the body is read.
        exchange = _exchange.get()
        if exchange is not None and exchange.media_type is None:
            raise HTTPException(406, NOT_ACCEPTABLE_MESSAGE)
        return await super().parse_http_body(request)

    async def execute_single(  # noqa: PLR0913
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request,
                request_adapter,
                sub_response,
                context,
                root_value,
                request_data,
            )
        except HTTPException as error:
            cause = error.__cause__
            if (
                request_adapter.method == "GET"
                and isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type == OperationType.MUTATION
            ):
                raise MethodNotAllowed(
                    "Mutations cannot be sent with GET: send them with POST.", "POST"
                ) from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response_data = await super().process_result(request, result)
        exchange = _exchange.get()
        if (
            exchange is not None
            and exchange.media_type == GRAPHQL_RESPONSE_JSON
            and is_request_error(result)
        ):
            exchange.request_error = True
            response_data.pop("data", None)
        return response_data

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        exchange = _exchange.get()
        if exchange is None or exchange.media_type is None:
            return response
        response.headers["content-type"] = exchange.media_type
        if exchange.request_error and response.status_code == 200:
            response.status_code = 400
        return response

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        # Strawberry's own version lets a malformed `map` raise AttributeError or
        # TypeError, which would end in HTTP 500.
        try:
            form_data = await request.get_form_data()
        except ValueError:
            raise HTTPException(
                400, "The multipart body could not be parsed."
            ) from None
        operations = form_data.form.get("operations", "{}")
        files_map = form_data.form.get("map", "{}")
        if isinstance(operations, bytes | str):
            operations = self.parse_json(operations)
        if isinstance(files_map, bytes | str):
            files_map = self.parse_json(files_map)
        inserted: dict[str, Any] = insert_files(operations, files_map, form_data.files)
        return inserted
