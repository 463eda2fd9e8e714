"""The notificationAdded subscription over a real websocket to a real uvicorn server.

Covers authentication in connection_init, the close codes of graphql-transport-ws,
delivery through `publish` (in process and through Redis) and through the poll,
isolation between users and organizations, and the request limits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from websockets.exceptions import InvalidStatus

from contractgql.config import Settings
from contractgql.ids import encode_id
from contractgql.models import Notification, User
from contractgql.notifications import publish
from contractgql.notifications.pubsub import NotificationHub
from tests.conftest import Tenant, make_tenant
from tests.notifications.conftest import (
    AMOUNT,
    POLL_INTERVAL,
    LiveServer,
    live_settings,
    make_contract,
    make_notification,
    open_socket,
    serve,
    subscribed,
    token_for,
)

REDIS_URL = os.environ.get("CONTRACTGQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADDED = """
subscription Added {
  notificationAdded { id kind title body createdAt readAt contract { id name } }
}
"""
ACK = {"type": "connection_ack"}


@pytest_asyncio.fixture(scope="module")
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serve(live_settings(settings)) as live:
        yield live


def expected_next(notification: Notification, contract: Any = None) -> dict[str, Any]:
    return {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "notificationAdded": {
                    "id": encode_id("Notification", notification.id),
                    "kind": notification.kind,
                    "title": notification.title,
                    "body": notification.body,
                    "createdAt": notification.created_at.isoformat(),
                    "readAt": None,
                    "contract": None
                    if contract is None
                    else {
                        "id": encode_id("Contract", contract.id),
                        "name": contract.name,
                    },
                }
            }
        },
    }


# --- Authentication at connection time ------------------------------------------------


async def test_bearer_token_acknowledged(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    async with open_socket(server) as ws:
        reply = await ws.init(
            {"authorization": f"Bearer {token_for(settings, tenant, 'sales')}"}
        )

    assert reply == ACK


async def test_plain_token_acknowledged(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    async with open_socket(server) as ws:
        reply = await ws.init({"token": token_for(settings, tenant, "sales")})

    assert reply == ACK


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"authorization": ""},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer not-a-token"},
        {"token": "not-a-token"},
        {"token": 12345},
        {"token": "cgql_" + "A" * 43},
    ],
    ids=["none", "empty", "basic", "bad-bearer", "bad-token", "number", "api-token"],
)
async def test_bad_credentials_close_4403(
    server: LiveServer, payload: dict[str, Any]
) -> None:
    async with open_socket(server) as ws:
        await ws.send({"type": "connection_init", "payload": payload})
        code, reason = await ws.closed()

    assert (code, reason) == (4403, "Forbidden")


async def test_deactivated_user_closes_4403(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant, "sales")
    await User.filter(id=tenant.user_ids["sales"]).update(is_active=False)

    async with open_socket(server) as ws:
        await ws.send({"type": "connection_init", "payload": {"token": token}})
        code, _ = await ws.closed()

    assert code == 4403


async def test_subscribe_before_init_closes_4401(server: LiveServer) -> None:
    async with open_socket(server) as ws:
        await ws.subscribe(ADDED)
        code, reason = await ws.closed()

    assert (code, reason) == (4401, "Unauthorized")


async def test_subscribe_after_rejected_init_closed(
    server: LiveServer,
) -> None:
    async with open_socket(server) as ws:
        await ws.send({"type": "connection_init", "payload": {"token": "bad"}})
        await ws.subscribe(ADDED)
        code, _ = await ws.closed()

    assert code == 4403


async def test_second_init_closes_4429(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant, "sales")
    async with open_socket(server) as ws:
        assert await ws.init({"token": token}) == ACK
        await ws.send({"type": "connection_init", "payload": {"token": token}})
        code, _ = await ws.closed()

    assert code == 4429


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], []], ids=["legacy", "none"])
async def test_other_subprotocols_rejected_403(
    server: LiveServer, subprotocols: list[str]
) -> None:
    with pytest.raises(InvalidStatus) as raised:
        async with open_socket(server, subprotocols):
            pass

    assert raised.value.response.status_code == 403


async def test_cross_site_origin_rejected(server: LiveServer) -> None:
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as raised:
        async with connect(
            server.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            origin="https://attacker.example",  # type: ignore[arg-type]
        ):
            pass

    assert raised.value.response.status_code == 403


# --- Delivery -------------------------------------------------------------------------


async def test_published_notification_delivered(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    contract = await make_contract(tenant, "Cleaning services", number="C-17")
    token = token_for(settings, tenant, "account_manager")
    async with subscribed(server, token, ADDED) as ws:
        notification = await make_notification(
            tenant,
            "account_manager",
            "Notice deadline in 3 months",
            contract=contract,
            body="Give notice by 2027-03-31.",
        )
        started = time.monotonic()
        await publish(notification, server.settings)
        message = await ws.receive()
        elapsed = time.monotonic() - started

    assert message == expected_next(notification, contract)
    # Delivered by `publish`, before the poll interval has passed.
    assert elapsed < POLL_INTERVAL


async def test_unpublished_notification_polled(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        notification = await make_notification(tenant, "sales", "Inserted elsewhere")
        message = await ws.receive(timeout=POLL_INTERVAL * 10)
        quiet = await ws.nothing_within(POLL_INTERVAL * 3)

    assert message == expected_next(notification)
    # Polled once, not again at every poll.
    assert quiet


async def test_published_and_polled_delivered_once(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        first = await make_notification(tenant, "sales", "First")
        second = await make_notification(tenant, "sales", "Second")
        await publish(second, server.settings)
        await publish(second, server.settings)
        messages = [await ws.receive(), await ws.receive()]
        quiet = await ws.nothing_within(POLL_INTERVAL * 3)

    titles = sorted(
        m["payload"]["data"]["notificationAdded"]["title"] for m in messages
    )
    assert titles == [first.title, second.title]
    assert quiet


async def test_other_users_notifications_not_delivered(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    other_tenant = await make_tenant(settings)
    token = token_for(settings, tenant, "admin")
    async with subscribed(server, token, ADDED) as ws:
        colleague = await make_notification(tenant, "finance", "For a colleague")
        foreign = await make_notification(other_tenant, "admin", "For another org")
        await publish(colleague, server.settings)
        await publish(foreign, server.settings)
        quiet = await ws.nothing_within(POLL_INTERVAL * 4)
        own = await make_notification(tenant, "admin", "For the admin")
        await publish(own, server.settings)
        message = await ws.receive()

    assert quiet
    assert message == expected_next(own)


async def test_notification_before_subscription_not_delivered(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    old = await make_notification(tenant, "sales", "Created earlier")
    await Notification.filter(id=old.id).update(
        created_at=old.created_at.replace(year=old.created_at.year - 1)
    )
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        await publish(old, server.settings)
        quiet = await ws.nothing_within(POLL_INTERVAL * 3)

    assert quiet


async def test_hidden_contract_delivered_as_null(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    confidential = await make_contract(tenant, "Secret merger", confidential=True)
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        notification = await make_notification(
            tenant, "sales", "About a contract", contract=confidential
        )
        await publish(notification, server.settings)
        message = await ws.receive()

    assert message == expected_next(notification)


@pytest.mark.parametrize(
    "role",
    ["admin", "management", "finance", "account_manager", "sales", "project_staff"],
)
async def test_payload_has_no_financial_values(
    server: LiveServer, settings: Settings, tenant: Tenant, role: str
) -> None:
    contract = await make_contract(tenant, "Hosting", owner_role=role)
    token = token_for(settings, tenant, role)
    async with subscribed(server, token, ADDED) as ws:
        notification = await make_notification(
            tenant, role, "Hosting ends", contract=contract
        )
        await publish(notification, server.settings)
        text = await ws.receive_text()

    assert json.loads(text) == expected_next(notification, contract)
    assert AMOUNT not in text
    assert "98765" not in text
    assert "2100" not in text


async def test_financial_field_not_selectable(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    query = "subscription { notificationAdded { contract { id amount } } }"
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "finance")})
        await ws.subscribe(query)
        message = await ws.receive()

    assert message["type"] == "error"
    assert [error["message"] for error in message["payload"]] == [
        "Cannot query field 'amount' on type 'ContractSummary'."
    ]


async def test_deactivation_closes_open_subscription(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        await User.filter(id=tenant.user_ids["sales"]).update(is_active=False)
        # The credential is checked again after 12 poll intervals.
        code, _ = await ws.closed(timeout=POLL_INTERVAL * 12 + 5)

    assert code == 4403


async def test_completed_subscription_unregistered(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    hub: NotificationHub = server.app.state.notification_hub
    token = token_for(settings, tenant, "sales")
    async with subscribed(server, token, ADDED) as ws:
        during = hub.subscriber_count
        await ws.send({"id": "1", "type": "complete"})
        deadline = time.monotonic() + 5
        while hub.subscriber_count == during and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        after = hub.subscriber_count

    assert after == during - 1


# --- Redis ----------------------------------------------------------------------------


async def test_redis_delivers_between_processes(
    settings: Settings, tenant: Tenant
) -> None:
    prefix = f"contractgql-test-{uuid.uuid4().hex[:8]}:"
    # A poll interval longer than the test, so that only Redis can deliver in time.
    redis_settings = dataclasses.replace(
        settings,
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        notification_poll_interval=600.0,
    )
    listener = aioredis.Redis.from_url(REDIS_URL)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe(f"{prefix}*")
    token = token_for(settings, tenant, "sales")
    try:
        async with (
            serve(redis_settings) as live,
            subscribed(live, token, ADDED) as ws,
        ):
            # The server subscribes to Redis in the background.
            await asyncio.sleep(0.5)
            notification = await make_notification(tenant, "sales", "Via Redis")
            # A publisher of another process: it has Redis but no hub of its own.
            started = time.monotonic()
            await publish(notification, redis_settings)
            message = await ws.receive()
            elapsed = time.monotonic() - started
        seen = None
        # get_message returns None for the subscription's confirmation.
        for _ in range(3):
            seen = seen or await pubsub.get_message(timeout=2)
    finally:
        await pubsub.aclose()
        await listener.aclose()

    assert message == expected_next(notification)
    assert elapsed < 2
    assert seen is not None
    assert seen["channel"].decode() == (
        f"{prefix}notifications:{tenant.organization.id}:{tenant.user_ids['sales']}"
    )
    assert seen["data"].decode() == str(notification.id)


async def test_redis_down_falls_back_to_poll(
    settings: Settings, tenant: Tenant
) -> None:
    # Nothing listens on this loopback port, so every Redis call fails at once.
    down = live_settings(settings, redis_url="redis://127.0.0.1:1/0")
    token = token_for(settings, tenant, "sales")
    async with serve(down) as live, subscribed(live, token, ADDED) as ws:
        notification = await make_notification(tenant, "sales", "Redis is down")
        await publish(notification, down)
        message = await ws.receive(timeout=POLL_INTERVAL * 10)

    assert message == expected_next(notification)


# --- Limits and transports ------------------------------------------------------------


async def test_alias_limit_applies(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    aliases = " ".join(f"a{index}: id" for index in range(31))
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.subscribe(f"subscription {{ notificationAdded {{ {aliases} }} }}")
        message = await ws.receive()

    assert message == {
        "id": "1",
        "type": "error",
        "payload": [
            {
                "message": "The document contains 31 aliased fields, more than the "
                "maximum of 30: request fewer aliased fields, or split them over "
                "several requests. The aliases in a fragment count once for each "
                "spread of the fragment.",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }


async def test_cost_limit_applies(settings: Settings, tenant: Tenant) -> None:
    # notificationAdded { id title contract { id name } } costs 1 + 1 + 1 + 1 + 2.
    cheap = live_settings(settings, max_query_cost=5)
    query = "subscription { notificationAdded { id title contract { id name } } }"
    async with serve(cheap) as live, open_socket(live) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.subscribe(query)
        rejected = await ws.receive()
        completed = await ws.receive()
        hub_subscribers = live.app.state.notification_hub.subscriber_count

    # strawberry 0.341 reports an error of the execution step as a result.
    assert rejected == {
        "id": "1",
        "type": "next",
        "payload": {
            "data": None,
            "errors": [
                {
                    "message": "The query's estimated cost is 6, more than the maximum "
                    "of 5: request smaller pages with `first`, fewer nested lists or "
                    "fewer fields, or split the query into several requests.",
                    "locations": [{"line": 1, "column": 1}],
                    "extensions": {
                        "cost": 6,
                        "maxCost": 5,
                        "code": "QUERY_TOO_COMPLEX",
                    },
                }
            ],
        },
    }
    assert completed == {"id": "1", "type": "complete"}
    assert hub_subscribers == 0


async def test_fragment_cycle_rejected(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    # The subscription's types nest two levels only, so no document reaches the
    # depth limit of 12. Validation still runs, and rejects a fragment cycle.
    query = """
    subscription { notificationAdded { ...A } }
    fragment A on Notification { contract { id } ...B }
    fragment B on Notification { ...A }
    """
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.subscribe(query)
        message = await ws.receive()

    assert message["type"] == "error"
    assert message["payload"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert message["payload"][0]["message"].startswith("Cannot spread fragment 'A'")


async def test_token_limit_applies(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    fields = " ".join(["id"] * 4001)
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.subscribe(f"subscription {{ notificationAdded {{ {fields} }} }}")
        message = await ws.receive()

    assert message == {
        "id": "1",
        "type": "error",
        "payload": [
            {
                "message": "Syntax Error: Document contains more than 4000 tokens. "
                "Parsing aborted.",
                "locations": [{"line": 1, "column": 12024}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }


async def test_query_over_websocket_rejected(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "admin")})
        await ws.subscribe(
            'mutation { createTag(input: {name: "x"}) { errors { code } } }'
        )
        message = await ws.receive()

    assert message == {
        "id": "1",
        "type": "error",
        "payload": [
            {
                "message": "A websocket to /graphql runs subscriptions only: send "
                "queries and mutations as HTTP POST requests to /graphql.",
                "locations": [{"line": 1, "column": 1}],
                "extensions": {"code": "BAD_REQUEST"},
            }
        ],
    }


async def test_subscription_over_http_rejected(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.post(
            "/graphql",
            json={"query": ADDED},
            headers={"Authorization": f"Bearer {token_for(settings, tenant, 'sales')}"},
        )

    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert response.json()["errors"][0]["message"].startswith(
        "Subscriptions are served over a websocket only"
    )


async def test_message_too_big_closes_1009(
    server: LiveServer, settings: Settings, tenant: Tenant
) -> None:
    padding = "x" * server.settings.max_body_bytes
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.subscribe(f"subscription {{ notificationAdded {{ id }} }} # {padding}")
        code, reason = await ws.closed()

    assert (code, reason) == (1009, "Message too big")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([1, 2], "WebSocket message must be a JSON object with a string 'type'"),
        ({"type": 5}, "WebSocket message must be a JSON object with a string 'type'"),
        ({"id": "1", "type": "subscribe"}, "Invalid subscribe message"),
        (
            {"id": "1", "type": "subscribe", "payload": {"query": 5}},
            "Invalid subscribe message",
        ),
        (
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "{a}", "variables": []},
            },
            "Invalid subscribe message",
        ),
    ],
    ids=["list", "type-number", "no-payload", "query-number", "variables-list"],
)
async def test_malformed_message_closes_4400(
    server: LiveServer, settings: Settings, tenant: Tenant, message: Any, reason: str
) -> None:
    async with open_socket(server) as ws:
        await ws.init({"token": token_for(settings, tenant, "sales")})
        await ws.connection.send(json.dumps(message))
        closed = await ws.closed()

    assert closed == (4400, reason)
