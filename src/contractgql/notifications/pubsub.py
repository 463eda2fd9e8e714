"""Delivery of new notifications to the subscriptions of each API process.

Code that inserts Notification rows calls `publish(notification)` after the insert
has committed. With CONTRACTGQL_REDIS_URL set, `publish` sends the row's id on the Redis
channel `<prefix>notifications:<organization id>:<user id>`, and every API process
receives it through a pattern subscription. Without Redis, or while Redis cannot be
reached, it hands the id to the hubs of its own process only.

Each API process has one NotificationHub. The hub loads the rows of published ids,
and every `notification_poll_interval` seconds it also reads the rows created in the
last LOOKBACK seconds for the users it serves. The poll delivers rows that another
process inserted without Redis, or whose message was lost, within one interval.
Every row reaches each subscription of its user once, because the hub remembers the
ids it delivered.

The hub runs its tasks only while it has subscribers, so an idle process neither
polls nor holds a Redis connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contractgql.config import ConfigError, Settings, load_settings
from contractgql.models import Notification
from contractgql.notifications.store import NOTIFICATION_COLUMNS

logger = logging.getLogger(__name__)

# Rows created up to this many seconds before a poll are read again, for rows whose
# transaction committed after a later row was already seen.
LOOKBACK = timedelta(seconds=30)
# A subscription receives rows created up to this long before it started, because
# a row's created_at is set before its transaction commits. A client that
# subscribes and then queries `notifications` may see such a row twice, never zero
# times.
START_SLACK = timedelta(seconds=5)
# Rows one poll reads at most, newest first.
# NOTE: when the users of one process get more new rows than this within LOOKBACK,
# the oldest of them reach subscriptions only through `publish`.
POLL_LIMIT = 1000
# Rows waiting for one slow subscriber. Past it new rows are dropped for that
# subscriber, which still finds them with the `notifications` query.
SUBSCRIBER_QUEUE_SIZE = 100
# Published ids waiting for the hub to load them. Past it ids are dropped, and the
# next poll delivers their rows.
PUSHED_QUEUE_SIZE = 10_000
# Seconds to wait for Redis, and to wait after a failure before trying again.
REDIS_TIMEOUT = 2.0
REDIS_RETRY_INTERVAL = 5.0

# Hubs of this process, for `publish` without Redis.
_hubs: weakref.WeakSet[NotificationHub] = weakref.WeakSet()
# Settings that `publish` uses when the caller passes none (see configure_publishing).
_default_settings: Settings | None = None
# Redis clients of `publish`, one per URL and event loop, because a redis-py
# asyncio connection belongs to the loop that opened it.
_publishers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, aioredis.Redis]
] = weakref.WeakKeyDictionary()
_redis_down_since: float | None = None


def channel_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}notifications:"


def _channel(settings: Settings, organization_id: int, user_id: int) -> str:
    return f"{channel_prefix(settings)}{organization_id}:{user_id}"


def _glob_escape(text: str) -> str:
    """Escape the characters that a Redis PSUBSCRIBE pattern treats specially."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def configure_publishing(settings: Settings) -> None:
    """Set the settings that `publish` uses when its caller passes none.

    The API process calls it at start. A worker that inserts notifications calls it
    too, or `publish` reads the settings from the environment on first use.
    """
    global _default_settings
    _default_settings = settings


def _publishing_settings() -> Settings:
    global _default_settings
    if _default_settings is None:
        try:
            _default_settings = load_settings()
        except ConfigError as error:
            logger.warning(
                "Notification publishing uses no Redis, because the settings are "
                "invalid: %s",
                error,
            )
            _default_settings = Settings()
    return _default_settings


async def publish(notification: Notification, settings: Settings | None = None) -> None:
    """Send a new notification to its user's subscriptions in every API process.

    Call it after the transaction that inserted the row has committed. A hub that
    finds no committed row drops the id, and its poll delivers the row later.
    Without Redis only this process's subscriptions get the row at once, and the
    other processes deliver it at their next poll. A Redis failure is logged, not
    raised.
    """
    settings = settings or _publishing_settings()
    sent_to_redis = False
    if settings.redis_url:
        sent_to_redis = await _publish_to_redis(settings, notification)
    for hub in list(_hubs):
        if not (sent_to_redis and hub.listens_to_redis):
            hub.push(notification.user_id, notification.id)


async def _publish_to_redis(settings: Settings, notification: Notification) -> bool:
    global _redis_down_since
    assert settings.redis_url is not None
    now = time.monotonic()
    if _redis_down_since is not None and now - _redis_down_since < REDIS_RETRY_INTERVAL:
        return False

    loop = asyncio.get_running_loop()
    clients = _publishers.setdefault(loop, {})
    client = clients.get(settings.redis_url)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        clients[settings.redis_url] = client

    channel = _channel(settings, notification.organization_id, notification.user_id)
    try:
        await client.publish(channel, str(notification.id))
    except (RedisError, OSError) as error:
        if _redis_down_since is None:
            logger.warning(
                "Redis cannot be reached to publish notification %s (%s): only "
                "this process delivers it at once, the others at their next poll. "
                "Retrying Redis in %.0f seconds.",
                notification.id,
                error,
                REDIS_RETRY_INTERVAL,
            )
        _redis_down_since = now
        return False

    if _redis_down_since is not None:
        logger.info("Redis is reachable again for publishing notifications")
        _redis_down_since = None
    return True


@dataclass(eq=False)
class Subscriber:
    """One subscription's place in the hub: its user and the rows waiting for it."""

    organization_id: int
    user_id: int
    started_at: datetime
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
    )
    dropped: int = 0

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """Return the next row, or None when none arrives within `timeout` seconds."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class NotificationHub:
    """Fans new notification rows out to the subscriptions of one API process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)
        # Ids of delivered rows, with the monotonic time of delivery.
        self._delivered: dict[int, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pushed: asyncio.Queue[int] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._redis_failed = False
        _hubs.add(self)

    @property
    def listens_to_redis(self) -> bool:
        return self.settings.redis_url is not None

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    @contextlib.asynccontextmanager
    async def subscribe(
        self, organization_id: int, user_id: int
    ) -> AsyncIterator[Subscriber]:
        """Register a subscription of `user_id` for the duration of the block."""
        subscriber = Subscriber(organization_id, user_id, datetime.now(UTC))
        self._subscribers[user_id].add(subscriber)
        self._start()
        try:
            yield subscriber
        finally:
            subscribers = self._subscribers.get(user_id)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[user_id]
            if not self._subscribers:
                self._stop()

    def push(self, user_id: int, notification_id: int) -> None:
        """Queue a published id for loading; safe to call from any thread."""
        loop, pushed = self._loop, self._pushed
        if loop is None or pushed is None or user_id not in self._subscribers:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(pushed, notification_id)
        else:
            loop.call_soon_threadsafe(self._put, pushed, notification_id)

    async def close(self) -> None:
        """Stop the hub's tasks and wait for them to end."""
        tasks = self._tasks
        self._stop()
        # _log_task_failure has logged any error that ended a task.
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _put(pushed: asyncio.Queue[int], notification_id: int) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            pushed.put_nowait(notification_id)

    def _start(self) -> None:
        if self._tasks and not any(task.done() for task in self._tasks):
            return
        # A task ended by an unexpected error is started again with the others.
        self._stop()
        self._loop = asyncio.get_running_loop()
        self._pushed = asyncio.Queue(PUSHED_QUEUE_SIZE)
        self._tasks.append(asyncio.create_task(self._dispatch()))
        if self.settings.redis_url:
            self._tasks.append(asyncio.create_task(self._listen()))
        for task in self._tasks:
            task.add_done_callback(_log_task_failure)

    def _stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        self._loop = None
        self._pushed = None
        for task in tasks:
            task.cancel()

    # --- Loading and fan-out ----------------------------------------------------------

    async def _dispatch(self) -> None:
        """Load published ids as they arrive, and poll every interval, while the hub
        has subscribers."""
        assert self._pushed is not None and self._loop is not None
        pushed, loop = self._pushed, self._loop
        interval = self.settings.notification_poll_interval
        next_poll = loop.time() + interval
        while self._subscribers:
            ids = await _drain(pushed, max(0.0, next_poll - loop.time()))
            try:
                if ids:
                    rows = await self._load(ids)
                else:
                    next_poll = loop.time() + interval
                    rows = await self._poll()
            except Exception:  # noqa: BLE001 - the loop serves every subscriber
                logger.exception(
                    "Loading new notifications failed; retrying in %.1f seconds",
                    interval,
                )
                await asyncio.sleep(interval)
                continue
            self._fan_out(rows)

    async def _load(self, ids: list[int]) -> list[dict[str, Any]]:
        fresh = [pk for pk in set(ids) if pk not in self._delivered]
        if not fresh:
            return []
        return await (
            Notification.filter(id__in=fresh, user_id__in=list(self._subscribers))
            .order_by("id")
            .values(*NOTIFICATION_COLUMNS)
        )

    async def _poll(self) -> list[dict[str, Any]]:
        self._forget_old_deliveries()
        users = list(self._subscribers)
        if not users:
            return []
        since = datetime.now(UTC) - LOOKBACK
        rows = await (
            Notification.filter(user_id__in=users, created_at__gte=since)
            .order_by("-id")
            .limit(POLL_LIMIT)
            .values(*NOTIFICATION_COLUMNS)
        )
        return sorted(rows, key=lambda row: int(row["id"]))

    def _fan_out(self, rows: Iterable[dict[str, Any]]) -> None:
        now = time.monotonic()
        for row in rows:
            if row["id"] in self._delivered:
                continue
            self._delivered[row["id"]] = now
            for subscriber in list(self._subscribers.get(row["user_id"], ())):
                if subscriber.organization_id != row["organization_id"]:
                    continue
                if row["created_at"] < subscriber.started_at - START_SLACK:
                    continue
                try:
                    subscriber.queue.put_nowait(row)
                except asyncio.QueueFull:
                    subscriber.dropped += 1
                    if subscriber.dropped == 1:
                        logger.warning(
                            "A subscription of user %s reads too slowly: new "
                            "notifications beyond %d waiting ones are dropped for it",
                            subscriber.user_id,
                            SUBSCRIBER_QUEUE_SIZE,
                        )

    def _forget_old_deliveries(self) -> None:
        # A row older than LOOKBACK is never polled again, so its id can go.
        horizon = time.monotonic() - 2 * LOOKBACK.total_seconds()
        for pk in [pk for pk, at in self._delivered.items() if at < horizon]:
            del self._delivered[pk]

    # --- Redis ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Receive published ids from Redis while the hub has subscribers.

        After a failure it waits REDIS_RETRY_INTERVAL seconds and subscribes again,
        and the poll delivers the rows published in between.
        """
        assert self.settings.redis_url is not None
        pattern = _glob_escape(channel_prefix(self.settings)) + "*"
        while self._subscribers:
            client = aioredis.Redis.from_url(
                self.settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(pattern)
                if self._redis_failed:
                    logger.info("Redis is reachable again for notifications")
                    self._redis_failed = False
                while self._subscribers:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._receive(message)
            except (RedisError, OSError) as error:
                if not self._redis_failed:
                    logger.warning(
                        "Redis cannot be reached for notifications (%s): "
                        "subscriptions get new rows from the poll every %.1f "
                        "seconds. Retrying in %.0f seconds.",
                        error,
                        self.settings.notification_poll_interval,
                        REDIS_RETRY_INTERVAL,
                    )
                    self._redis_failed = True
                await asyncio.sleep(REDIS_RETRY_INTERVAL)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                    await client.aclose()

    def _receive(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        data = _text(message.get("data"))
        _, _, user_part = channel.rpartition(":")
        try:
            user_id, notification_id = int(user_part), int(data)
        except ValueError:
            logger.warning("Ignored a malformed notification message on %r", channel)
            return
        self.push(user_id, notification_id)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


async def _drain(queue: asyncio.Queue[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds for one id, then take every id already queued."""
    ids = []
    if queue.empty():
        try:
            ids.append(await asyncio.wait_for(queue.get(), timeout))
        except TimeoutError:
            return []
    while not queue.empty():
        ids.append(queue.get_nowait())
    return ids


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error("The notification hub's task failed", exc_info=error)
