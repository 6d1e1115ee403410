"""The artifact page shows the latest changesets; older ones come by page, server-rendered."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.history import artifact_with
from tests.support.loading import rows_loaded
from tracker.models import Artifact, Changeset, ChangesetValue, Tracker, User
from tracker.services.history_pages import HISTORY_PAGE_SIZE

# Today 13 (session, user, the artifact and its fields, the page, its values, the counts...), the
# same ceiling for 1 changeset or 500: one query per changeset would blow it.
ARTIFACT_PAGE_MAX_QUERIES = 16


def steps_shown(page: str) -> list[int]:
    """The changesets on the page, by their step number, in the page's order."""
    return [int(step) for step in re.findall(r'<pre class="new-value">Step (\d+)</pre>', page)]


def get(client: Client, artifact: Artifact, **query: object) -> str:
    response = client.get(reverse("tracker:artifact-detail", args=[artifact.pk]), query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("count", [1, 500])
def test_the_artifact_page_costs_the_same_for_1_or_500_changesets(
    client_as, bugs: Tracker, alice: User, bob: User, count: int, django_assert_max_num_queries
) -> None:
    artifact = artifact_with(bugs, [alice, bob], count)
    client = client_as(bob)

    with (
        django_assert_max_num_queries(ARTIFACT_PAGE_MAX_QUERIES),
        rows_loaded(Changeset, ChangesetValue) as rows,
    ):
        page = get(client, artifact)

    # It should read the page's changesets only, and show them with the current values.
    shown = min(count, HISTORY_PAGE_SIZE)
    assert rows["Changeset"] == shown and rows["ChangesetValue"] <= 2 * shown
    assert steps_shown(page) == list(range(count - shown + 1, count + 1))
    assert f"Step {count}" in page.split('id="current-values"')[1].split("</dl>")[0]


def test_show_older_pages_through_the_history_and_says_how_much_is_left(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = artifact_with(bugs, [alice, bob], 60)
    client = client_as(bob)

    latest = get(client, artifact)
    # It should show the latest 20, oldest first, and say what is older (and how many comments).
    assert steps_shown(latest) == list(range(41, 61))
    assert "40 older changesets, 19 with a comment." in latest
    assert "The latest 20 of 60 changesets." in latest
    cursor = re.search(r'href="\?before=(\d+)#history-heading" id="show-older"', latest).group(1)

    older = get(client, artifact, before=cursor)
    assert steps_shown(older) == list(range(21, 41))
    assert "20 older changesets, 9 with a comment." in older
    assert "Back to the latest" in older
    cursor = re.search(r'href="\?before=(\d+)#history-heading" id="show-older"', older).group(1)

    oldest = get(client, artifact, before=cursor)
    assert steps_shown(oldest) == list(range(1, 21))
    assert 'id="show-older"' not in oldest
    # The first change of a page tells its old value, which an earlier page stored.
    assert re.search(r'<pre class="old-value">Step 20</pre>\s*<pre class="new-value">Step 21</pre>', older)


def test_the_newest_first_preference_is_remembered(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    artifact = artifact_with(bugs, [alice], 25)
    client = client_as(bob)

    assert steps_shown(get(client, artifact, order="newest")) == list(range(25, 5, -1))
    # It should keep the order for the next visits, and put "show older" after the list.
    page = get(client, artifact)
    assert steps_shown(page) == list(range(25, 5, -1))
    assert page.index('id="history"') < page.index('id="show-older"')
    assert steps_shown(get(client, artifact, order="oldest")) == list(range(6, 26))
    assert steps_shown(get(client, artifact)) == list(range(6, 26))


@pytest.mark.parametrize("before", ["junk", "-3", "99999999999999999999999", "0", "²", "٣"])
def test_a_wrong_cursor_shows_the_latest(client_as, bugs: Tracker, alice: User, before: str) -> None:
    artifact = artifact_with(bugs, [alice], 3)

    assert steps_shown(get(client_as(alice), artifact, before=before)) == [1, 2, 3]


def test_a_cursor_of_another_artifact_shows_the_latest(client_as, bugs: Tracker, alice: User) -> None:
    artifact = artifact_with(bugs, [alice], 3)
    other = artifact_with(bugs, [alice], 3)
    foreign = other.changesets.order_by("-id").first()

    assert steps_shown(get(client_as(alice), artifact, before=foreign.pk)) == [1, 2, 3]
