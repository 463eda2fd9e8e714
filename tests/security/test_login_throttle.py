"""Login rate limits per account and per client address, in memory and in Redis."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from starlette.datastructures import Headers

from contractgql.app import create_app
from contractgql.config import ConfigError, Settings, load_settings
from contractgql.graphql.mutations import auth
from contractgql.security import throttle as throttle_module
from contractgql.security.passwords import verify_password
from contractgql.security.throttle import (
    LoginThrottle,
    RateLimited,
    client_address,
)
from tests.conftest import PASSWORD, QueryCounter, Tenant

REDIS_URL = os.environ.get("CONTRACTGQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
"""
ACCOUNT_MESSAGE = (
    "Too many failed logins for this e-mail address: try again in 15 minutes."
)
ADDRESS_MESSAGE = (
    "Too many login attempts from your network address: try again in 15 minutes."
)
WRONG_PASSWORD = "wrong-password"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_throttle(
    settings: Settings, clock: FakeClock, **changes: Any
) -> LoginThrottle:
    return LoginThrottle(dataclasses.replace(settings, **changes), clock=clock)


async def attempts(
    throttle: LoginThrottle, email: str, address: str, count: int
) -> None:
    """Make `count` attempts that must all stay within the limits."""
    for _ in range(count):
        await throttle.check_attempt(email, address)


# --- Counting in memory ---------------------------------------------------------------


async def test_account_limited_after_five_attempts(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock())
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)

    with pytest.raises(RateLimited) as raised:
        await throttle.check_attempt("a@example.com", "127.0.0.1")

    assert raised.value.code == "RATE_LIMITED"
    assert raised.value.message == ACCOUNT_MESSAGE
    assert raised.value.retry_after == 900


async def test_account_limit_ignores_other_accounts(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock())
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)

    await attempts(throttle, "b@example.com", "127.0.0.1", 5)


async def test_window_end_resets_counts(settings: Settings) -> None:
    clock = FakeClock()
    throttle = make_throttle(settings, clock)
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)

    clock.now += 600
    with pytest.raises(RateLimited) as raised:
        await throttle.check_attempt("a@example.com", "127.0.0.1")
    clock.now += 300

    assert raised.value.retry_after == 300
    assert raised.value.message.endswith("try again in 5 minutes.")
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)


async def test_success_resets_account_count(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock())
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)

    await throttle.record_success("a@example.com")

    await attempts(throttle, "a@example.com", "127.0.0.1", 5)
    with pytest.raises(RateLimited):
        await throttle.check_attempt("a@example.com", "127.0.0.1")


async def test_address_limited_after_thirty_attempts(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock())
    for number in range(30):
        await throttle.check_attempt(f"user{number}@example.com", "127.0.0.2")

    with pytest.raises(RateLimited) as raised:
        await throttle.check_attempt("new@example.com", "127.0.0.2")
    await throttle.check_attempt("new@example.com", "127.0.0.3")

    assert raised.value.message == ADDRESS_MESSAGE
    assert raised.value.retry_after == 900


async def test_success_keeps_address_count(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock(), login_max_attempts_per_address=2)
    await throttle.check_attempt("a@example.com", "127.0.0.2")
    await throttle.record_success("a@example.com")
    await throttle.check_attempt("a@example.com", "127.0.0.2")
    await throttle.record_success("a@example.com")

    with pytest.raises(RateLimited) as raised:
        await throttle.check_attempt("a@example.com", "127.0.0.2")

    assert raised.value.message == ADDRESS_MESSAGE


async def test_blocked_address_leaves_account_count(settings: Settings) -> None:
    throttle = make_throttle(settings, FakeClock(), login_max_attempts_per_address=1)
    await throttle.check_attempt("other@example.com", "127.0.0.2")
    for _ in range(10):
        with pytest.raises(RateLimited):
            await throttle.check_attempt("a@example.com", "127.0.0.2")

    await attempts(throttle, "a@example.com", "127.0.0.3", 1)


async def test_zero_turns_limits_off(settings: Settings) -> None:
    throttle = make_throttle(
        settings,
        FakeClock(),
        login_max_failures=0,
        login_max_attempts_per_address=0,
    )

    await attempts(throttle, "a@example.com", "127.0.0.1", 100)


async def test_short_wait_named_in_seconds(settings: Settings) -> None:
    clock = FakeClock()
    throttle = make_throttle(settings, clock)
    await attempts(throttle, "a@example.com", "127.0.0.1", 5)
    clock.now += 899

    with pytest.raises(RateLimited) as raised:
        await throttle.check_attempt("a@example.com", "127.0.0.1")

    assert raised.value.retry_after == 1
    assert raised.value.message.endswith("try again in 1 second.")


async def test_memory_counters_bounded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle_module, "MAX_MEMORY_COUNTERS", 10)
    memory = throttle_module.MemoryCounters(FakeClock())
    limits = [throttle_module.Limit(f"key{n}", 5) for n in range(25)]

    for limit in limits:
        await memory.hit([limit], 900)

    assert len(memory._counters) == 10
    assert list(memory._counters) == [f"key{n}" for n in range(15, 25)]


# --- Client address -------------------------------------------------------------------


class FakeRequest:
    def __init__(self, peer: str, forwarded: list[str] | None = None) -> None:
        self.client = type("Client", (), {"host": peer})()
        raw = [(b"x-forwarded-for", value.encode()) for value in forwarded or []]
        self.headers = Headers(raw=raw)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.5", [], (), "127.0.0.5"),
        ("127.0.0.5", ["127.0.0.9"], (), "127.0.0.5"),
        ("127.0.0.1", ["127.0.0.9"], ("127.0.0.1/32",), "127.0.0.9"),
        ("127.0.0.1", [], ("127.0.0.1/32",), "127.0.0.1"),
        # The left entry is what the client sent, so the right one counts.
        ("127.0.0.1", ["127.0.0.7, 127.0.0.9"], ("127.0.0.1/32",), "127.0.0.9"),
        ("127.0.0.1", ["127.0.0.7", "127.0.0.9"], ("127.0.0.1/32",), "127.0.0.9"),
        # Proxies of the trusted network are skipped from the right.
        (
            "127.0.0.1",
            ["127.0.0.7, 127.0.0.9, 127.0.1.2"],
            ("127.0.0.1/32", "127.0.1.0/24"),
            "127.0.0.9",
        ),
        ("127.0.0.1", ["127.0.1.2"], ("127.0.0.0/16",), "127.0.1.2"),
        ("::1", [], (), "::/64"),
        ("2001:db8:1:2:3:4:5:6", [], (), "2001:db8:1:2::/64"),
        ("::ffff:127.0.0.8", [], (), "127.0.0.8"),
    ],
)
def test_client_address(
    peer: str, forwarded: list[str], trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(FakeRequest(peer, forwarded), trusted) == expected


def test_trusted_proxies_setting_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_TRUSTED_PROXIES", " 127.0.0.1, 127.0.1.0/24 ,")
    monkeypatch.setenv("CONTRACTGQL_LOGIN_MAX_FAILURES", "0")

    settings = load_settings()

    assert settings.trusted_proxies == ("127.0.0.1/32", "127.0.1.0/24")
    assert settings.login_max_failures == 0
    assert settings.login_max_attempts_per_address == 30
    assert settings.login_window == 900


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONTRACTGQL_TRUSTED_PROXIES", "127.0.0.1, proxy.local", "'proxy.local'"),
        ("CONTRACTGQL_LOGIN_MAX_FAILURES", "-1", "=-1 is out of range"),
        ("CONTRACTGQL_LOGIN_WINDOW", "0", "=0 is out of range: use 1 or more"),
    ],
)
def test_invalid_login_setting_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert name in str(raised.value)
    assert message in str(raised.value)


# --- Login over HTTP ------------------------------------------------------------------


def _services(app: Any) -> Any:
    graphql_route = next(route for route in app.routes if route.path == "/graphql")
    return graphql_route.endpoint.services


@asynccontextmanager
async def serving(
    settings: Settings, **changes: Any
) -> AsyncIterator[tuple[Any, Settings]]:
    """Yield a new app, with its own rate limit counters, and its settings."""
    app_settings = dataclasses.replace(settings, **changes)
    app = create_app(app_settings, manage_database=False)
    try:
        yield app, app_settings
    finally:
        await _services(app).throttle.close()


@asynccontextmanager
async def client_of(
    app: Any, host: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(host, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    response = await client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"email": email, "password": password}},
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    return response


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


async def fail_logins(client: httpx.AsyncClient, email: str, count: int) -> None:
    for _ in range(count):
        error = error_of(await login(client, email, WRONG_PASSWORD))
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_login_limited_after_five_failures(
    settings: Settings, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]
    async with serving(settings) as (app, _), client_of(app) as client:
        await fail_logins(client, email, 5)

        response = await login(client, email, PASSWORD)

    error = error_of(response)
    retry_after = error["extensions"]["retryAfter"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    # The window began with the first failure, a few Argon2 checks earlier.
    assert 880 <= retry_after <= 900
    assert error["message"] == ACCOUNT_MESSAGE
    assert error["path"] == ["login"]
    assert response.headers["retry-after"] == str(retry_after)


async def test_limit_same_for_unknown_account(
    settings: Settings, tenant: Tenant
) -> None:
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    async with (
        serving(settings, login_max_failures=2) as (app, _),
        client_of(app) as client,
    ):
        await fail_logins(client, tenant.emails["finance"], 2)
        await fail_logins(client, unknown, 2)

        existing = error_of(await login(client, tenant.emails["finance"], PASSWORD))
        missing = error_of(await login(client, unknown, PASSWORD))

    # retryAfter counts down while the test runs, so it may differ by a second.
    assert existing["message"] == ACCOUNT_MESSAGE
    assert missing["message"] == ACCOUNT_MESSAGE
    assert existing["extensions"]["code"] == "RATE_LIMITED"
    assert missing["extensions"]["code"] == "RATE_LIMITED"
    assert set(existing) == set(missing)


async def test_limit_applies_to_normalised_email(
    settings: Settings, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]
    async with serving(settings) as (app, _), client_of(app) as client:
        await fail_logins(client, email, 3)
        await fail_logins(client, f"  {email.upper()} ", 2)

        error = error_of(await login(client, email, PASSWORD))

    assert error["extensions"]["code"] == "RATE_LIMITED"


async def test_limited_login_checks_nothing(
    settings: Settings,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    count_queries: QueryCounter,
) -> None:
    email = tenant.emails["sales"]
    verified: list[str] = []

    def counting_verify(password_hash: str | None, password: str) -> bool:
        verified.append(password)
        return verify_password(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting_verify)
    async with serving(settings) as (app, _), client_of(app) as client:
        await fail_logins(client, email, 5)
        checks_before = len(verified)
        statements_before = len(count_queries.statements)
        verified.clear()
        count_queries.statements.clear()

        error = error_of(await login(client, email, PASSWORD))

    assert checks_before == 5
    assert statements_before >= 5
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert verified == []
    assert count_queries.statements == []


async def test_success_resets_failures_over_http(
    settings: Settings, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]
    async with (
        serving(settings, login_max_failures=2) as (app, _),
        client_of(app) as client,
    ):
        await fail_logins(client, email, 1)
        success = await login(client, email, PASSWORD)
        await fail_logins(client, email, 2)

        limited = error_of(await login(client, email, PASSWORD))

    assert "errors" not in success.json()
    assert limited["extensions"]["code"] == "RATE_LIMITED"


async def test_address_limited_over_http(settings: Settings, tenant: Tenant) -> None:
    emails = [tenant.emails[role] for role in ("sales", "finance", "admin")]
    async with serving(settings, login_max_attempts_per_address=3) as (app, _):
        async with client_of(app, "127.0.0.2") as client:
            await fail_logins(client, emails[0], 1)
            success = await login(client, emails[1], PASSWORD)
            await fail_logins(client, emails[2], 1)
            limited = error_of(await login(client, emails[1], PASSWORD))
        async with client_of(app, "127.0.0.3") as other_client:
            elsewhere = await login(other_client, emails[1], PASSWORD)

    assert "errors" not in success.json()
    assert limited["extensions"]["code"] == "RATE_LIMITED"
    assert limited["message"] == ADDRESS_MESSAGE
    assert "errors" not in elsewhere.json()


async def test_forwarded_for_ignored_by_default(
    settings: Settings, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]
    async with (
        serving(settings, login_max_attempts_per_address=3) as (app, _),
        client_of(app) as client,
    ):
        for number in range(3):
            headers = {"X-Forwarded-For": f"127.0.0.{number + 10}"}
            await login(client, email, WRONG_PASSWORD, headers)

        limited = error_of(
            await login(client, email, PASSWORD, {"X-Forwarded-For": "127.0.0.20"})
        )

    assert limited["message"] == ADDRESS_MESSAGE


async def test_forwarded_for_read_behind_trusted_proxy(
    settings: Settings, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]
    changes = {
        "login_max_attempts_per_address": 2,
        "trusted_proxies": ("127.0.0.1/32",),
    }
    async with serving(settings, **changes) as (app, _), client_of(app) as client:
        first = {"X-Forwarded-For": "127.0.0.21"}
        await login(client, email, PASSWORD, first)
        await login(client, email, PASSWORD, first)
        # A client that writes its own header cannot move to another counter.
        spoofed = {"X-Forwarded-For": "127.0.0.99, 127.0.0.21"}
        limited = error_of(await login(client, email, PASSWORD, spoofed))
        other = await login(client, email, PASSWORD, {"X-Forwarded-For": "127.0.0.22"})

    assert limited["message"] == ADDRESS_MESSAGE
    assert "errors" not in other.json()


# --- Redis ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """Yield a key prefix of its own in the test Redis and delete its keys after."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as error:
        await client.aclose()
        message = f"Redis at {REDIS_URL} is not reachable ({error})"
        if os.environ.get("CI"):
            pytest.fail(message + ": .ci/run starts it.")
        pytest.skip(message + ": start it, or set CONTRACTGQL_TEST_REDIS_URL.")
    prefix = f"contractgql-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_counts_shared_between_apps(
    settings: Settings, tenant: Tenant, redis_prefix: str
) -> None:
    email = tenant.emails["sales"]
    changes = {"redis_url": REDIS_URL, "redis_key_prefix": redis_prefix}
    async with (
        serving(settings, **changes) as (first_app, first_settings),
        serving(settings, **changes) as (second_app, _),
        client_of(first_app) as first,
        client_of(second_app) as second,
    ):
        await fail_logins(first, email, 3)
        await fail_logins(second, email, 2)

        limited_first = error_of(await login(first, email, PASSWORD))
        limited_second = error_of(await login(second, email, PASSWORD))
        throttle = LoginThrottle(dataclasses.replace(first_settings, redis_url=None))
        account_key = throttle.account_key(email)
        address_key = throttle.address_key("127.0.0.1")

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = sorted(
            [key.decode() async for key in client.scan_iter(match=f"{redis_prefix}*")]
        )
        account_count = int(await client.get(account_key))
        address_count = int(await client.get(address_key))
        ttl = await client.ttl(account_key)
    finally:
        await client.aclose()
    assert limited_first["message"] == ACCOUNT_MESSAGE
    assert limited_second["message"] == ACCOUNT_MESSAGE
    assert keys == sorted([account_key, address_key])
    assert all(email not in key for key in keys)
    assert account_count == 7
    assert address_count == 7
    assert 0 < ttl <= 900


async def test_redis_success_resets_shared_count(
    settings: Settings, tenant: Tenant, redis_prefix: str
) -> None:
    email = tenant.emails["sales"]
    changes = {
        "redis_url": REDIS_URL,
        "redis_key_prefix": redis_prefix,
        "login_max_failures": 2,
    }
    async with (
        serving(settings, **changes) as (first_app, _),
        serving(settings, **changes) as (second_app, _),
        client_of(first_app) as first,
        client_of(second_app) as second,
    ):
        await fail_logins(first, email, 1)
        success = await login(second, email, PASSWORD)
        await fail_logins(first, email, 2)

        limited = error_of(await login(second, email, PASSWORD))

    assert "errors" not in success.json()
    assert limited["message"] == ACCOUNT_MESSAGE


def _closed_port() -> int:
    """Return a loopback TCP port on which nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_redis_down_counts_in_memory(
    settings: Settings, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    email = tenant.emails["sales"]
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    caplog.set_level(logging.WARNING, logger="contractgql.security.throttle")
    async with serving(settings, redis_url=url) as (app, _), client_of(app) as client:
        await fail_logins(client, email, 5)
        limited = error_of(await login(client, email, PASSWORD))

    warnings = [
        record
        for record in caplog.records
        if record.name == "contractgql.security.throttle"
    ]
    assert limited["message"] == ACCOUNT_MESSAGE
    assert len(warnings) == 1
    assert "counts in its own memory" in warnings[0].getMessage()
