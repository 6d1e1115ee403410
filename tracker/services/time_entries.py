"""Time tracking: the time people spent on an artifact (entered here, or imported from Jira work logs).

:func:`add_time_entry` is the one way to record time from the pages and the API: members of the
project (those who may edit its artifacts) add their own entries. Imports write theirs in bulk
(:mod:`tracker.services.bulk_import`), keeping who logged them in the source.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone

from tracker import permissions
from tracker.models import Artifact, TimeEntry, User
from tracker.plain_numbers import is_plain_number
from tracker.utc import in_utc

MAX_SECONDS = 1000 * 3600  # one entry: at most 1000 hours
COMMENT_MAX_LENGTH = 5000
# Jira's notation ("1w 2d 3h 30m"), with Jira's default of 8-hour days and 5-day weeks.
UNITS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([wdhms])", re.IGNORECASE | re.ASCII)  # "٣h" is no duration


class InvalidTimeEntry(Exception):
    """``errors`` maps a field (``seconds``, ``started_on``, ``comment``) to a message for the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def parse_duration(text: str) -> int:
    """Seconds from "1h 30m", "90m", "1.5h" or "2d" (8-hour days); raises InvalidTimeEntry."""
    text = (text or "").strip()
    if is_plain_number(text, max_digits=9):
        return int(text) * 60  # a bare number is minutes, as in Jira's dialog
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip():
        raise InvalidTimeEntry({"seconds": 'Write the time like "1h 30m", "45m" or "2d" (a day is 8 hours).'})
    return round(sum(float(number.replace(",", ".")) * UNITS[unit.lower()] for number, unit in parts))


def format_duration(seconds: int) -> str:
    """ "1h 30m" for 5400; "0m" for nothing."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours}h {minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"


@dataclass
class TimeSheet:
    entries: list[TimeEntry]

    @property
    def total_seconds(self) -> int:
        return sum(entry.seconds for entry in self.entries)

    @property
    def total(self) -> str:
        return format_duration(self.total_seconds)


def time_sheet(artifact: Artifact) -> TimeSheet:
    """The artifact's time entries, oldest first, with their authors (one query)."""
    return TimeSheet(list(TimeEntry.objects.filter(artifact=artifact).select_related("user")))


def add_time_entry(
    artifact: Artifact, *, user: User, seconds: int, started_on: dt.datetime | None = None, comment: str = ""
) -> TimeEntry:
    """Record time ``user`` spent on the artifact; only the project's members may (PermissionDenied)."""
    permissions.access_to(user, artifact.tracker.project).require_write()
    errors: dict[str, str] = {}
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_SECONDS:
        errors["seconds"] = f"Give a time between 1 second and {MAX_SECONDS // 3600} hours."
    # Stored in UTC: 0001-01-01T00:00+05:00 is before the calendar's first day there.
    started_on = in_utc(started_on or timezone.now())
    if started_on is None:
        errors["started_on"] = "This date is out of range."
    elif started_on > timezone.now() + dt.timedelta(days=1):
        errors["started_on"] = "The work cannot start in the future."
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        errors["comment"] = f"Write at most {COMMENT_MAX_LENGTH} characters."
    if errors:
        raise InvalidTimeEntry(errors)
    return TimeEntry.objects.create(
        artifact=artifact, user=user, seconds=seconds, started_on=started_on, comment=comment
    )
