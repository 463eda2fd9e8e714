"""Login rate limits per account and per client address.

Each limit counts in a fixed window that starts with the first counted request and
lasts `login_window` seconds:

- per account (the normalised e-mail address, whether or not a user has it): login
  attempts since the last successful one. An attempt counts before its password is
  verified, so parallel requests cannot verify more passwords than the limit allows.
  A successful login resets the count.
- per client address: every login attempt, successful or not. IPv6 addresses count
  per /64 network, because one host is usually given a whole /64.

An attempt above either limit is rejected with RateLimited before the user is looked
up or the password verified, so the reply is the same for every e-mail address.

The counters live in process memory, or in Redis when CONTRACTGQL_REDIS_URL is set,
so that several API processes share them. When Redis cannot be reached, each process
counts in its own memory until Redis responds again: logins stay available, and a
warning is logged once per outage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contractgql.config import Settings
from contractgql.errors import ContractGQLError

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds to wait for Redis before counting in memory instead.
REDIS_TIMEOUT = 1.0
# Seconds after a Redis failure during which requests count in memory without
# trying Redis, so that an outage does not add a timeout to every login.
REDIS_RETRY_INTERVAL = 5.0
# Maximum number of counters that the memory store keeps. Past it the counters whose
# window started first are dropped. tracemalloc measured about 300 bytes per
# counter on CPython 3.11, so the cap bounds the store at about 30 MB.
MAX_MEMORY_COUNTERS = 100_000


class RateLimited(ContractGQLError):
    """Too many login attempts. `retry_after` is in seconds."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # graphql-core copies an original error's `extensions` into the response.
        self.extensions = {"retryAfter": retry_after}


@dataclass(frozen=True)
class Limit:
    """A counter key and the maximum count it may reach within the window."""

    key: str
    maximum: int


@dataclass(frozen=True)
class Exceeded:
    """The first limit that a request went over, and the seconds its window has left."""

    index: int
    retry_after: int


class CounterStore(Protocol):
    async def hit(self, limits: Sequence[Limit], window: int) -> Exceeded | None:
        """Count one request against each limit in turn, stopping at the first one
        that the request exceeds."""

    async def reset(self, key: str) -> None: ...


class MemoryCounters:
    """Counters in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> [count, end of window]. Every window has the same length, so the
        # insertion order is also the order in which the windows end.
        self._counters: OrderedDict[str, list[float]] = OrderedDict()

    async def hit(self, limits: Sequence[Limit], window: int) -> Exceeded | None:
        now = self._clock()
        counters = self._counters
        while counters and next(iter(counters.values()))[1] <= now:
            counters.popitem(last=False)

        exceeded = None
        for index, limit in enumerate(limits):
            counter = counters.get(limit.key)
            if counter is None:
                counter = [0, now + window]
                counters[limit.key] = counter
            counter[0] += 1
            if counter[0] > limit.maximum:
                exceeded = Exceeded(index, max(1, math.ceil(counter[1] - now)))
                break

        # NOTE: past the cap, counters are dropped before their window ends, so a
        # flood of distinct e-mail addresses from many client addresses can reset
        # the count of an account being attacked.
        while len(counters) > MAX_MEMORY_COUNTERS:
            counters.popitem(last=False)
        return exceeded

    async def reset(self, key: str) -> None:
        self._counters.pop(key, None)


# KEYS are the counter keys. ARGV contains the maximum of each key, then the window
# in seconds. Returns {index of the exceeded key (1-based) or 0, seconds left}.
_HIT_SCRIPT = """
local window = tonumber(ARGV[#KEYS + 1])
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = window
  end
  if count > tonumber(ARGV[i]) then
    return {i, ttl}
  end
end
return {0, 0}
"""


class RedisCounters:
    """Counters in Redis, shared by every process that uses the same keys.

    One Lua script increments the counters and sets their expiry, so the count and
    the window stay consistent even when several processes count at once.
    """

    def __init__(self, url: str) -> None:
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._script = self._client.register_script(_HIT_SCRIPT)

    async def hit(self, limits: Sequence[Limit], window: int) -> Exceeded | None:
        keys = [limit.key for limit in limits]
        arguments = [limit.maximum for limit in limits] + [window]
        index, ttl = await self._script(keys=keys, args=arguments)
        if int(index) == 0:
            return None
        return Exceeded(int(index) - 1, max(1, int(ttl)))

    async def reset(self, key: str) -> None:
        await self._client.delete(key)

    async def close(self) -> None:
        await self._client.aclose()


class LoginThrottle:
    """The login rate limits of one API process."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = settings.login_max_failures
        self.max_attempts_per_address = settings.login_max_attempts_per_address
        self.window = settings.login_window
        self._prefix = f"{settings.redis_key_prefix}login:"
        self._clock = clock
        self._memory = MemoryCounters(clock)
        self._redis = RedisCounters(settings.redis_url) if settings.redis_url else None
        # Until this clock time the counters stay in memory after a Redis failure.
        self._redis_retry_at: float | None = None

    def account_key(self, email: str) -> str:
        # A hash keeps e-mail addresses out of Redis and bounds the key length.
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return f"{self._prefix}account:{digest}"

    def address_key(self, address: str) -> str:
        return f"{self._prefix}address:{address}"

    async def check_attempt(self, email: str, address: str) -> None:
        """Count a login attempt, and raise RateLimited when it goes over a limit.

        `email` must be normalised as the login looks it up.
        """
        limits = []
        kinds = []
        if self.max_attempts_per_address:
            limits.append(
                Limit(self.address_key(address), self.max_attempts_per_address)
            )
            kinds.append("address")
        if self.max_failures:
            limits.append(Limit(self.account_key(email), self.max_failures))
            kinds.append("account")
        if not limits:
            return

        window = self.window
        exceeded = await self._with_store(lambda store: store.hit(limits, window))
        if exceeded is None:
            return
        wait = _describe_wait(exceeded.retry_after)
        if kinds[exceeded.index] == "account":
            message = (
                f"Too many failed logins for this e-mail address: try again in {wait}."
            )
        else:
            message = (
                f"Too many login attempts from your network address: try again in "
                f"{wait}."
            )
        raise RateLimited(message, exceeded.retry_after)

    async def record_success(self, email: str) -> None:
        """Reset the account's count after a successful login."""
        key = self.account_key(email)
        await self._with_store(lambda store: store.reset(key))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()

    async def _with_store(self, action: Callable[[CounterStore], Awaitable[T]]) -> T:
        """Run `action` on Redis, or on the memory store while Redis is down."""
        redis = self._redis
        now = self._clock()
        if redis is None or (
            self._redis_retry_at is not None and now < self._redis_retry_at
        ):
            return await action(self._memory)
        try:
            result = await action(redis)
        except (RedisError, OSError) as error:
            if self._redis_retry_at is None:
                logger.warning(
                    "Redis cannot be reached for the login rate limits (%s): each "
                    "process counts in its own memory until Redis is reachable again",
                    error,
                )
            self._redis_retry_at = now + REDIS_RETRY_INTERVAL
            return await action(self._memory)
        if self._redis_retry_at is not None:
            logger.info("Redis is reachable again: the login rate limits use it again")
            self._redis_retry_at = None
        return result


def _describe_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def client_address(request: Any, trusted_proxies: Sequence[str]) -> str:
    """Return the address that the login rate limit counts a request under.

    That is the peer address of the connection, unless the peer is a trusted proxy:
    then the X-Forwarded-For header is read from the right, and the first address
    that is not a trusted proxy is the client.
    """
    client = getattr(request, "client", None)
    peer = client.host if client is not None else "unknown"
    networks = [ipaddress.ip_network(network) for network in trusted_proxies]
    if not networks or not _is_trusted(peer, networks):
        return _counted_address(peer)

    header = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return _counted_address(hop)
    return _counted_address(hops[0] if hops else peer)


def _is_trusted(address: str, networks: Sequence[Any]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def _counted_address(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        # Such as "unknown", or what a proxy wrote in place of an address.
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
