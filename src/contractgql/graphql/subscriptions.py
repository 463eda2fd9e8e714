"""GraphQL subscriptions over websockets with the graphql-transport-ws protocol.

A client opens a websocket to /graphql with the subprotocol `graphql-transport-ws`
and authenticates in its `connection_init` message, whose payload contains
`{"authorization": "Bearer <token>"}` or `{"token": "<token>"}`. The server answers
`connection_ack` for a valid login or API token of an active user, and otherwise
closes the connection with 4403 (Forbidden), as the protocol prescribes. A
`subscribe` before `connection_ack` closes it with 4401 (Unauthorized), and no
`connection_init` within CONNECTION_INIT_TIMEOUT closes it with 4408. Websockets with
any other subprotocol, such as the legacy `graphql-ws`, are closed before the
handshake completes.

The server checks the credential again every REAUTHENTICATE_POLLS poll intervals,
and closes the connection with 4403 when the token expired or was revoked, or the
user was deactivated.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived

from contractgql.errors import AuthenticationError, InvalidArgument
from contractgql.graphql.context import Context, Info
from contractgql.graphql.types.notifications import (
    NotificationNode,
    notification_nodes,
)
from contractgql.notifications.pubsub import NotificationHub
from contractgql.security.viewer import Viewer, authenticate

logger = logging.getLogger(__name__)

# Seconds a new connection has to send `connection_init`.
CONNECTION_INIT_TIMEOUT = 10
# Operations that one connection may run at once.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10
# The credential is checked again after this many poll intervals: every 60 seconds
# with the default interval of 5 seconds.
REAUTHENTICATE_POLLS = 12
# Close codes of the graphql-transport-ws protocol and RFC 6455.
FORBIDDEN = 4403
BAD_REQUEST = 4400
MESSAGE_TOO_BIG = 1009


@dataclass
class SubscriptionContext(Context):
    """The context of one websocket connection, shared by its operations.

    `connection_params` is the payload of `connection_init`, which strawberry sets
    on the context before it calls `on_ws_connect`.
    """

    hub: NotificationHub | None = None
    connection_params: dict[str, Any] | None = None
    authorization: str | None = field(default=None, repr=False)
    # Read by RequestLimits, which serves only subscriptions over a websocket.
    over_websocket: bool = True


def connection_authorization(params: Mapping[str, Any] | None) -> str | None:
    """Return the Authorization value that a `connection_init` payload carries."""
    if not params:
        return None
    for key in ("authorization", "Authorization"):
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            return value
    token = params.get("token")
    if isinstance(token, str) and token.strip():
        return f"Bearer {token.strip()}"
    return None


async def accept_connection(context: SubscriptionContext) -> None:
    """Authenticate a connection from its `connection_init` payload.

    Raises ConnectionRejectionError, which closes the connection with 4403, for a
    missing, malformed, expired or revoked token and for a deactivated user.
    """
    services = context.services
    client = getattr(context.request, "client", None)
    authorization = connection_authorization(context.connection_params)
    if authorization is None:
        logger.info("Rejected a websocket connection from %s: no token", client)
        raise ConnectionRejectionError
    try:
        viewer = await authenticate(authorization, services.signer, services.policy)
    except AuthenticationError as error:
        logger.info(
            "Rejected a websocket connection from %s: %s", client, error.message
        )
        raise ConnectionRejectionError from None
    if viewer is None or viewer.user_id is None:
        raise ConnectionRejectionError
    context.viewer_or_none = viewer
    context.authorization = authorization


async def _reauthenticate(context: SubscriptionContext) -> Viewer | None:
    """Return the connection's viewer with its current permissions, or None when its
    credential no longer works."""
    services = context.services
    try:
        viewer = await authenticate(
            context.authorization, services.signer, services.policy
        )
    except AuthenticationError as error:
        logger.info(
            "Closing a subscription of user %s: %s",
            context.viewer_or_none and context.viewer_or_none.user_id,
            error.message,
        )
        return None
    context.viewer_or_none = viewer
    return viewer


async def _close_forbidden(context: SubscriptionContext) -> None:
    """Close the connection with 4403 and wait until its handler ends the operation.

    The handler cancels every operation when the client returns the close frame, so
    this operation sends nothing on the closed socket.
    """
    websocket = context.response
    if websocket.application_state == WebSocketState.CONNECTED:
        await websocket.close(code=FORBIDDEN, reason="Forbidden")
    await asyncio.Event().wait()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="New notifications of the logged-in user, as they are created. "
        "Served over a websocket with the graphql-transport-ws protocol only."
    )
    async def notification_added(
        self, info: Info
    ) -> AsyncGenerator[NotificationNode, None]:
        context = info.context
        viewer = context.viewer
        if not isinstance(context, SubscriptionContext) or context.hub is None:
            raise InvalidArgument(
                "Subscriptions are served over a websocket only: connect to "
                "/graphql with the graphql-transport-ws subprotocol."
            )
        assert viewer.user_id is not None
        loop = asyncio.get_running_loop()
        check_every = (
            REAUTHENTICATE_POLLS * context.services.settings.notification_poll_interval
        )
        next_check = loop.time() + check_every
        async with context.hub.subscribe(
            viewer.organization_id, viewer.user_id
        ) as subscriber:
            # Runs until the client completes the operation or disconnects, which
            # cancels it, or until the credential stops working.
            while True:
                row = await subscriber.next(max(0.0, next_check - loop.time()))
                if loop.time() >= next_check:
                    current = await _reauthenticate(context)
                    if current is None:
                        await _close_forbidden(context)
                        return
                    viewer = current
                    next_check = loop.time() + check_every
                if row is not None:
                    nodes = await notification_nodes(viewer, [row])
                    yield nodes[0]


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """strawberry's websocket adapter with bounds on what a client may send.

    A message longer than CONTRACTGQL_MAX_BODY_BYTES closes the connection with
    1009, and a message that is not a JSON object, or a `subscribe` whose payload
    is malformed, with 4400.
    """

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        max_bytes = self.view.services.settings.max_body_bytes  # type: ignore[attr-defined]
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await self.ws.receive_text()
            except KeyError:
                raise NonTextMessageReceived from None
            except WebSocketDisconnect:
                return
            if len(text) > max_bytes or len(text.encode()) > max_bytes:
                await self.close(MESSAGE_TOO_BIG, "Message too big")
                return
            try:
                message = self.view.decode_json(text)
            except (json.JSONDecodeError, HTTPException):
                if ignore_parsing_errors:
                    continue
                raise NonJsonMessageReceived from None
            problem = _message_problem(message)
            if problem is not None:
                await self.close(BAD_REQUEST, problem)
                return
            yield message


def _message_problem(message: object) -> str | None:
    """Return why a decoded message is malformed, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "WebSocket message must be a JSON object with a string 'type'"
    if message["type"] != "subscribe":
        return None
    payload = message.get("payload")
    if (
        not isinstance(message.get("id"), str)
        or not isinstance(payload, dict)
        or not isinstance(payload.get("query"), str)
        or not isinstance(payload.get("variables", {}), dict | None)
        or not isinstance(payload.get("operationName", ""), str | None)
        or not isinstance(payload.get("extensions", {}), dict | None)
    ):
        return "Invalid subscribe message"
    return None
