"""The retry schedule of a notification, like a mail transfer agent's: growing pauses, then give up.

After the n-th failed attempt the record waits ``NOTIFICATION_RETRY_INTERVALS[n-1]`` seconds (5, 10, 20,
40 by default), then twice the previous pause, never more than ``NOTIFICATION_RETRY_MAX_INTERVAL`` (30
min): 5 s, 10 s, 20 s, 40 s, 80 s, 160 s, 320 s, 640 s, 1280 s, then every 30 min. It gives up once
``NOTIFICATION_GIVE_UP_AFTER`` (24 h) has passed since the record was created or re-opened (Postfix keeps
trying for 5 days by default; a notification is stale long before). The next attempt's time is written
on the record (``next_attempt_at``), so the schedule survives Redis losing the scheduled job.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings


def pause_after(failed_attempts: int) -> float:
    """Seconds to wait after the ``failed_attempts``-th failed attempt (1 for the first failure)."""
    intervals = settings.NOTIFICATION_RETRY_INTERVALS
    ceiling = settings.NOTIFICATION_RETRY_MAX_INTERVAL
    index = max(failed_attempts, 1) - 1
    if index < len(intervals):
        return float(min(intervals[index], ceiling))
    doublings = index - len(intervals) + 1
    # Capped before it is computed: 2 ** 1000 is fine for Python, not for a timedelta.
    return float(min(intervals[-1] * 2 ** min(doublings, 40), ceiling))


def clock_start(created_at: dt.datetime, reopened_at: dt.datetime | None) -> dt.datetime:
    return reopened_at if reopened_at is not None and reopened_at > created_at else created_at


def give_up_at(created_at: dt.datetime, reopened_at: dt.datetime | None) -> dt.datetime:
    """When a record still failing for transient reasons ends failed."""
    return clock_start(created_at, reopened_at) + dt.timedelta(seconds=settings.NOTIFICATION_GIVE_UP_AFTER)


def _words(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def describe() -> str:
    """The schedule in words, for the logs and the system check: ``5 s, 10 s, ..., then every 30 min``."""
    ceiling = float(settings.NOTIFICATION_RETRY_MAX_INTERVAL)
    steps: list[str] = []
    for failed in range(1, 64):
        pause = pause_after(failed)
        if pause >= ceiling:
            break
        steps.append(_words(pause))
    steps.append(f"then every {_words(ceiling)}")
    return ", ".join(steps) + f", for {_words(float(settings.NOTIFICATION_GIVE_UP_AFTER))}"
