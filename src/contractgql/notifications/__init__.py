"""Delivery of notifications: live subscriptions, e-mail digests and calendar feeds.

Code that inserts Notification rows calls `publish(notification)` once the insert
has committed, so that subscribed users get the row at once.
"""

from contractgql.notifications.digest import DigestRun, send_daily_digests
from contractgql.notifications.pubsub import (
    NotificationHub,
    configure_publishing,
    publish,
)

__all__ = [
    "DigestRun",
    "NotificationHub",
    "configure_publishing",
    "publish",
    "send_daily_digests",
]
