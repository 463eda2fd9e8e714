"""ASGI middleware that gives each request its id and counts it in the metrics."""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contractgql.observability.metrics import (
    HttpMetrics,
    RequestObservation,
    current_observation,
)
from contractgql.observability.request_id import (
    REQUEST_ID_HEADER,
    current_request_id,
    request_id_from_header,
)


class RequestObservability:
    """Set the request id and count each HTTP request in `metrics`.

    The id comes from a valid X-Request-ID header or is new. It is set for the
    logs, the GraphQL context and the audit events, and goes back in the
    X-Request-ID header of the response. Websockets get an id too, but are not
    counted as requests. The latency runs until the last part of the response
    body was handed to the server, so work that the app does after the
    response, such as enqueueing the audit recorder, is not in it.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from_header(_header(scope, REQUEST_ID_HEADER))
        id_token = current_request_id.set(request_id)
        if scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                current_request_id.reset(id_token)
            return

        observation = RequestObservation()
        observation_token = current_observation.set(observation)
        started = time.perf_counter()
        status = 500
        finished: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            elif message["type"] == "http.response.body" and not message.get(
                "more_body", False
            ):
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            observation.route = getattr(route, "path", "") if route else ""
            ended = finished if finished is not None else time.perf_counter()
            self.metrics.observe(observation, status, ended - started)
            current_observation.reset(observation_token)
            current_request_id.reset(id_token)


def _header(scope: Scope, name: str) -> bytes | None:
    encoded = name.encode("latin-1")
    for key, value in scope["headers"]:
        if key == encoded:
            return bytes(value)
    return None
