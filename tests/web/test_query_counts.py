"""The busiest pages run a bounded number of queries, whatever the number of rows they show."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import make_user
from tracker.models import Artifact, FieldType, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.fields import add_field
from tracker.services.history_pages import HISTORY_PAGE_SIZE
from tracker.services.projects import set_member

# A fixed ceiling (today 9 and 18 queries: session, user, the page's reads), the same for 3 rows or 30:
# one query per row, changeset or field would blow it at 30.
TRACKER_PAGE_MAX_QUERIES = 12
# The artifact page's "Linked from" (1 or 2 queries) and its references (1) are counted in it too
# (tests/web/test_links.py asserts those alone).
ARTIFACT_PAGE_MAX_QUERIES = 25


def people(tracker: Tracker, count: int) -> list[User]:
    made = [make_user(f"person{number}") for number in range(count)]
    for user in made:
        set_member(tracker.project, user)
    return made


@pytest.mark.parametrize("count", [3, 30])
def test_the_tracker_page(
    client_as, bugs: Tracker, alice: User, bob: User, count: int, django_assert_max_num_queries
) -> None:
    assignees = people(bugs, count)
    statuses = ["New", "In progress", "Done"]
    for number in range(count):
        create_artifact(
            bugs,
            author=assignees[number],
            values={
                "title": f"Bug {number}",
                "status": statuses[number % 3],
                "assigned_to": assignees[number].pk,
            },
            notify=False,
        )
    client = client_as(bob)
    with django_assert_max_num_queries(TRACKER_PAGE_MAX_QUERIES):
        response = client.get(reverse("tracker:tracker-detail", args=[bugs.pk]), {"sort": "-updated"})
    assert response.content.decode().count('<td class="title">') == count
    assert "Person1 (person1)" in response.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_filtered_tracker_page(
    client_as, bugs: Tracker, alice: User, bob: User, count: int, django_assert_max_num_queries
) -> None:
    # Every filter, a search, a sort by a field and extra columns: still a fixed number of queries.
    assignees = people(bugs, count)
    create_artifact(bugs, author=assignees[0], values={"title": "Bug closed", "status": "Done"}, notify=False)
    for number in range(count):
        create_artifact(
            bugs,
            author=assignees[number],
            values={"title": f"Bug {number}", "status": "New", "assigned_to": assignees[number % 2].pk},
            comment=f"Seen {number} times",
            notify=False,
        )
    client = client_as(bob)
    params = {
        "state": "open",
        "status": "New",
        "assignee": [assignees[0].username, assignees[1].pk, "nobody"],
        "submitter": [u.username for u in assignees],
        "q": "bug",
        "submitted_after": "2000-01-01",
        "updated_before": "2999-12-31",
        "sort": "assignee",
        "columns": ["submitter", "submitted", "updated"],
    }
    with django_assert_max_num_queries(TRACKER_PAGE_MAX_QUERIES + 4):
        response = client.get(reverse("tracker:tracker-detail", args=[bugs.pk]), params)
    assert response.status_code == 200
    assert response.content.decode().count('<td class="title">') == count
    assert "Bug closed" not in response.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_artifact_page(
    client_as, bugs: Tracker, alice: User, bob: User, count: int, django_assert_max_num_queries
) -> None:
    for number in range(count):
        add_field(bugs, name=f"extra{number}", label=f"Extra {number}", type=FieldType.STRING)
    add_field(bugs, name="files", label="Files", type=FieldType.FILES)
    add_field(bugs, name="links", label="Links", type=FieldType.LINKS)
    watchers = people(bugs, count)
    target = create_artifact(bugs, author=alice, values={"title": "Target"}).artifact
    artifact: Artifact = create_artifact(
        bugs,
        author=alice,
        values={"title": "Busy", "links": [target.pk]},
        uploads={"files": [SimpleUploadedFile(f"file{number}.txt", b"x") for number in range(count)]},
    ).artifact
    statuses = ["New", "In progress", "Done"]
    for number in range(count):
        update_artifact(
            artifact,
            author=watchers[number],
            values={
                f"extra{number}": f"value {number}",
                "status": statuses[number % 3],
                "assigned_to": watchers[number].pk,
                "cc": [w.pk for w in watchers[: number + 1]],
            },
            comment=f"Change number {number}",
            notify=False,
        )
    client = client_as(bob)
    with django_assert_max_num_queries(ARTIFACT_PAGE_MAX_QUERIES):
        response = client.get(reverse("tracker:artifact-detail", args=[artifact.pk]))
    page = response.content.decode()
    # The latest changesets (HISTORY_PAGE_SIZE), older ones by page (tests/web/test_history_window.py).
    assert page.count('class="changeset"') == min(count + 1, HISTORY_PAGE_SIZE)
    assert f"Change number {count - 1}" in page
    assert "Save changes" in page
    assert page.count("/attachments/") == count
