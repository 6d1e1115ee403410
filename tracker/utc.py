"""Times people or Jira give with an offset, as the UTC the database stores: or None, past the calendar.

``datetime`` holds the years 1 to 9999 in each offset, so ``0001-01-01T00:00+05:00`` and
``9999-12-31T23:59-14:00`` exist but have no UTC: ``astimezone`` raises OverflowError, a 500 where a
clear "out of range" was meant. Pure Python, no Django.
"""

from __future__ import annotations

import datetime as dt


def in_utc(moment: dt.datetime) -> dt.datetime | None:
    """``moment`` in UTC (a naive one read as UTC), or None when UTC has no such time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return None
