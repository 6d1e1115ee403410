"""What every check shares: findings, their levels, and the context a run gives each check."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis

from tracker import queues


class Level(enum.StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return {Level.INFO: 0, Level.WARNING: 1, Level.ERROR: 2}[self]


@dataclass(frozen=True)
class Finding:
    """One line of a system check: which check said it, how bad it is, and what to look at.

    ``details`` holds the same facts as the message in a form scripts can read (``--format json``).
    """

    check: str
    level: Level
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "level": str(self.level),
            "message": self.message,
            "details": self.details,
        }

    @property
    def log_line(self) -> str:
        return f"[{self.level}] {self.check}: {self.message}"


class RedisUnavailable(Exception):
    """Redis could not be reached or refused our credentials; the message says which, without secrets."""


@dataclass
class CheckContext:
    """What one run of the system check hands to every check."""

    now: datetime
    redis_url: str
    requeue: bool = False
    # When the previous SYSTEM_CHECK event was created: "failed since the last check" starts there.
    previous_check_at: datetime | None = None
    _redis: redis.Redis | None = field(default=None, repr=False)
    _redis_error: RedisUnavailable | None = field(default=None, repr=False)

    @property
    def redacted_redis_url(self) -> str:
        # With Sentinel, the master's name and the sentinels: REDIS_URL's host is not used then.
        return queues.redis_label(self.redis_url)

    def redis(self) -> redis.Redis:
        """A client that answered PING, shared by the checks; raises RedisUnavailable otherwise.

        The outcome is remembered, so an unreachable Redis costs one connection timeout per run,
        not one per check.
        """
        if self._redis is not None:
            return self._redis
        if self._redis_error is not None:
            raise self._redis_error
        try:
            # A client of the run's own (closed at its end): rq's Worker.all() rewrites its pool's timeout.
            client = queues.new_client(self.redis_url, queues.SYSTEM_CHECK)
            client.ping()
        except redis.AuthenticationError as error:
            self._redis_error = RedisUnavailable(
                f"Redis at {self.redacted_redis_url} refused the credentials of REDIS_URL ({error})."
            )
            raise self._redis_error from None
        except (redis.RedisError, OSError, ValueError) as error:
            self._redis_error = RedisUnavailable(
                f"Redis at {self.redacted_redis_url} cannot be reached ({error})."
            )
            raise self._redis_error from None
        self._redis = client
        return client

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def humanize_duration(delta: timedelta) -> str:
    """``2 d 3 h``, ``4 h 12 min``, ``7 min 30 s``, ``45 s``: an age a person reads at a glance."""
    seconds = max(0, int(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


FIRST_IDS = 20


def first_ids(ids: list[int], total: int) -> str:
    """``3, 5, 8`` or ``1, 2, ..., 20 and 7 more`` (``ids`` holds the first FIRST_IDS of ``total``)."""
    shown = ", ".join(str(pk) for pk in ids[:FIRST_IDS])
    return f"{shown} and {total - FIRST_IDS} more" if total > FIRST_IDS else shown
