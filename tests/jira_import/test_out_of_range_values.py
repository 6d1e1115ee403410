"""Values Jira may send past what the database holds: the issue is imported without them."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.support.jira import TASK, artifact_by_key, new_import
from tracker.jira_import import services
from tracker.jira_import.fetch import parse_timestamp
from tracker.models import TimeEntry


def test_a_work_log_longer_than_the_column_holds_is_skipped_and_the_others_kept(
    cloud, public_project, alice
) -> None:
    """10**12 seconds was the database's "integer out of range" on PostgreSQL: the import failed."""
    issue = cloud.data.edit("DEMO-12").issue
    kept = len(issue.worklogs) - 1
    issue.worklogs[0] = dataclasses.replace(issue.worklogs[0], seconds=10**12)

    jira_import = services.run_import(new_import(cloud, public_project, alice, TASK, name="Jira tasks"))

    assert jira_import.status == "done", jira_import.error
    entries = TimeEntry.objects.filter(artifact=artifact_by_key(jira_import.tracker, "DEMO-12"))
    assert entries.count() == kept
    assert sorted(entry.seconds for entry in entries) == sorted(w.seconds for w in issue.worklogs[1:])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T09:00:00.000+0000", dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)),
        ("2024-01-02T09:00:00.000-0500", dt.datetime(2024, 1, 2, 14, tzinfo=dt.UTC)),
        # Past the calendar's end in UTC: an OverflowError that failed the import.
        ("9999-12-31T23:59:59.000-1400", None),
        ("0001-01-01T00:00:00.000+0500", None),
        ("0000-00-00T00:00:00.000+0000", None),
        ("", None),
    ],
)
def test_timestamps_the_calendar_cannot_hold_are_none(text: str, expected: dt.datetime | None) -> None:
    assert parse_timestamp(text) == expected
