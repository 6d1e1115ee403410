"""Time tracking: an artifact's time entries on its page and in the API; members add their own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.conftest import client_for
from tracker.models import Artifact, TimeEntry, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.time_entries import InvalidTimeEntry, format_duration, parse_duration


@pytest.fixture
def artifact(bugs: Tracker, alice: User) -> Artifact:
    return create_artifact(bugs, author=alice, values={"title": "Slow search"}, notify=False).artifact


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h 30m", 5400),
        ("45m", 2700),
        ("1.5h", 5400),
        ("2d", 2 * 8 * 3600),
        ("1w", 5 * 8 * 3600),
        ("90", 5400),
    ],
)
def test_durations_are_read_the_way_jira_writes_them(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_a_duration_that_is_not_one_is_refused_with_an_example() -> None:
    with pytest.raises(InvalidTimeEntry, match="1h 30m"):
        parse_duration("soon")
    with pytest.raises(InvalidTimeEntry, match="1h 30m"):
        parse_duration("²")  # str.isdigit() says yes, int() says no
    with pytest.raises(InvalidTimeEntry, match="1h 30m"):
        parse_duration("٣h")  # not a number of hours one can read here
    assert format_duration(5400) == "1h 30m" and format_duration(0) == "0m"


def test_a_member_logs_time_on_the_page_and_sees_the_total(artifact: Artifact, bob: User) -> None:
    client = Client()
    client.force_login(bob)
    response = client.post(
        f"/artifacts/{artifact.pk}/time-entries/", {"spent": "1h 30m", "comment": "profiling"}
    )
    assert response.status_code == 302
    client.post(f"/artifacts/{artifact.pk}/time-entries/", {"spent": "30m"})
    page = client.get(f"/artifacts/{artifact.pk}/").content.decode()
    assert 'id="time-total">2h in all' in page
    assert "profiling" in page and "1h 30m" in page
    assert list(TimeEntry.objects.values_list("user__username", "seconds")) == [("bob", 5400), ("bob", 1800)]


def test_a_start_before_the_calendars_first_day_in_utc_is_refused_on_the_page(
    artifact: Artifact, bob: User
) -> None:
    """0001-01-01 at 00:00 in UTC+5 is in year 0 in UTC: it was an OverflowError, a 500."""
    client = Client()
    client.force_login(bob)
    for started in ("0001-01-01T00:00:00+05:00", "0001-01-01 00:00:00+05:00"):
        response = client.post(
            f"/artifacts/{artifact.pk}/time-entries/", {"spent": "1h", "started_on": started}, follow=True
        )
        assert response.status_code == 200
        assert "This date is out of range." in response.content.decode()
    assert not TimeEntry.objects.exists()
    # The control: the same day in UTC is a day one may log time on.
    response = client.post(
        f"/artifacts/{artifact.pk}/time-entries/", {"spent": "1h", "started_on": "0001-01-01T05:00:00+00:00"}
    )
    assert response.status_code == 302
    assert TimeEntry.objects.get().started_on == dt.datetime(1, 1, 1, 5, tzinfo=dt.UTC)


def test_someone_who_may_only_read_cannot_log_time(artifact: Artifact, dave: User) -> None:
    client = Client()
    client.force_login(dave)  # the project is public: dave reads it, but is no member
    assert "Log time" not in client.get(f"/artifacts/{artifact.pk}/").content.decode()
    assert client.post(f"/artifacts/{artifact.pk}/time-entries/", {"spent": "1h"}).status_code == 403
    response = client_for(dave).post(
        f"/api/artifacts/{artifact.pk}/time-entries/", {"seconds": 60}, format="json"
    )
    assert response.status_code == 403
    assert not TimeEntry.objects.exists()


def test_the_api_lists_the_entries_with_their_total_and_adds_ones_own(artifact: Artifact, bob: User) -> None:
    api = client_for(bob)
    url = f"/api/artifacts/{artifact.pk}/time-entries/"
    started = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    response = api.post(
        url, {"seconds": 3600, "started_on": started.isoformat(), "comment": "review"}, format="json"
    )
    assert response.status_code == 201 and response.json()["user"] == "bob"
    assert api.post(url, {"seconds": 0}, format="json").status_code == 400
    data = api.get(url).json()
    assert data["total_seconds"] == 3600
    assert [(e["user"], e["seconds"], e["comment"], e["started_on"]) for e in data["entries"]] == [
        ("bob", 3600, "review", "2026-11-02T09:00:00Z")
    ]


def test_entries_of_an_artifact_one_may_not_read_are_not_found(
    tasks: Tracker, alice: User, carol: User
) -> None:
    secret = create_artifact(tasks, author=alice, values={"title": "Secret"}, notify=False).artifact
    assert client_for(carol).get(f"/api/artifacts/{secret.pk}/time-entries/").status_code == 404
