"""ASGI middleware that rejects request bodies larger than a maximum size."""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    """Raised from `receive` when the body read so far exceeds the maximum."""


class BodySizeLimit:
    """Reject request bodies over `max_bytes` with HTTP 413 and a GraphQL-style error.

    A declared Content-Length over the maximum is rejected before the app runs.
    Every body is also counted as the app reads it, so a chunked body without a
    Content-Length is rejected at the chunk that passes the maximum, and the app
    never reads more than `max_bytes` plus one chunk into memory.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_path: str | None = None,
        upload_max_bytes: int | None = None,
    ) -> None:
        """`upload_max_bytes`, when given, replaces `max_bytes` for multipart POST
        requests to `upload_path`, which carry files."""
        self.app = app
        self.max_bytes = max_bytes
        self.upload_path = upload_path
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        max_bytes = self._max_bytes_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._reject(scope, send, declared, max_bytes)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                # Too late for a 413, so the server closes the connection.
                raise
            await self._reject(scope, send, None, max_bytes)

    def _max_bytes_for(self, scope: Scope) -> int:
        if (
            self.upload_max_bytes is None
            or scope["path"] != self.upload_path
            or scope["method"] != "POST"
        ):
            return self.max_bytes
        content_type = _header(scope, b"content-type") or b""
        if content_type.split(b";")[0].strip().lower() != b"multipart/form-data":
            return self.max_bytes
        return self.upload_max_bytes

    async def _reject(
        self, scope: Scope, send: Send, declared: int | None, max_bytes: int
    ) -> None:
        size = "" if declared is None else f" of {declared} bytes"
        if max_bytes == self.max_bytes:
            fix = "send a smaller request, such as a shorter query or fewer variable "
            fix += "values."
        else:
            fix = "upload a smaller file, or one file per request."
        message = (
            f"The request body{size} is larger than the maximum of {max_bytes} "
            f"bytes: {fix}"
        )
        # A caller's error, logged at DEBUG like the GraphQL errors callers cause.
        logger.debug(
            "Rejected a request body%s over %d bytes from %s",
            size,
            max_bytes,
            scope.get("client"),
        )
        body = orjson.dumps(
            {
                "errors": [
                    {"message": message, "extensions": {"code": PAYLOAD_TOO_LARGE}}
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body stays unread, so the connection cannot
                    # carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    """Return the declared Content-Length, or None when it is missing or invalid."""
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None
