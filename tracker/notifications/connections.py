"""The Redis client of the notifications queue, one per process and URL."""

from __future__ import annotations

import functools

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

# Short: an unreachable Redis must not hold a request long before it falls back to sending inline.
REDIS_CONNECT_TIMEOUT = 2
REDIS_SOCKET_TIMEOUT = 5


@functools.lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    # One client (and connection pool) per process, instead of a new connection per request.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def notifications_redis() -> redis.Redis:
    return _client(settings.RQ_QUEUES[settings.NOTIFICATIONS_QUEUE]["URL"])
