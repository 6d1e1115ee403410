"""The changesets API: cursor pages, oldest first, a comments-only filter, a cost bounded by the page."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.conftest import client_for
from tests.support.history import artifact_with
from tests.support.loading import rows_loaded
from tracker.api.pagination import ChangesetCursorPagination
from tracker.models import Changeset, ChangesetValue, Tracker, User

# Today 4 with a forced login (the artifact, its fields, the page, its values with their previous
# values), plus the renderer's reads of users or options when the page names some.
CHANGESETS_PAGE_MAX_QUERIES = 8


def all_pages(client, url: str) -> list[list[dict]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body["results"])
        url = body["next"]
    return pages


def steps(entries: list[dict]) -> list[int]:
    """Each entry's step (the description it set), from artifact_with's history."""
    return [
        int(change["new"].removeprefix("Step "))
        for entry in entries
        for change in entry["changes"]
        if change["field"] == "description"
    ]


@pytest.mark.parametrize("count", [1, 500])
def test_a_page_costs_the_same_for_1_or_500_changesets(
    bugs: Tracker, alice: User, bob: User, count: int, django_assert_max_num_queries
) -> None:
    artifact = artifact_with(bugs, [alice, bob], count)
    client = client_for(bob)

    with (
        django_assert_max_num_queries(CHANGESETS_PAGE_MAX_QUERIES),
        rows_loaded(Changeset, ChangesetValue) as rows,
    ):
        response = client.get(f"/api/artifacts/{artifact.pk}/changesets/")

    assert response.status_code == 200
    shown = min(count, ChangesetCursorPagination.page_size)
    assert steps(response.json()["results"]) == list(range(1, shown + 1))
    # Only the page's rows (one more changeset: the paginator's look-ahead for "next").
    assert rows["Changeset"] <= shown + 1 and rows["ChangesetValue"] <= 2 * (shown + 1)


def test_the_cursor_walks_the_whole_history_in_order_with_the_right_old_values(
    bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = artifact_with(bugs, [alice, bob], 120)

    pages = all_pages(client_for(bob), f"/api/artifacts/{artifact.pk}/changesets/?page_size=50")

    assert [len(page) for page in pages] == [50, 50, 20]
    entries = [entry for page in pages for entry in page]
    assert steps(entries) == list(range(1, 121))
    # The first entry of a page tells its old value, which the page before stored.
    (change,) = pages[1][0]["changes"]
    assert (change["old"], change["new"]) == ("Step 50", "Step 51")


def test_the_page_size_has_a_maximum(bugs: Tracker, alice: User) -> None:
    artifact = artifact_with(bugs, [alice], ChangesetCursorPagination.max_page_size + 5)

    response = client_for(alice).get(f"/api/artifacts/{artifact.pk}/changesets/?page_size=100000")

    assert len(response.json()["results"]) == ChangesetCursorPagination.max_page_size
    assert response.json()["next"]


def test_comments_only_keeps_the_commented_changesets_with_their_true_old_values(
    bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = artifact_with(bugs, [alice, bob], 30)  # odd steps from 3 on carry a comment

    pages = all_pages(
        client_for(bob), f"/api/artifacts/{artifact.pk}/changesets/?comments_only=1&page_size=5"
    )

    entries = [entry for page in pages for entry in page]
    assert [entry["comment"] for entry in entries] == [f"Comment {step}" for step in range(3, 30, 2)]
    # Step 4 (no comment) came between steps 3 and 5: the old value of step 5 is step 4's.
    assert entries[1]["changes"][0]["old"] == "Step 4"


def test_a_wrong_comments_only_value_is_a_400(bugs: Tracker, alice: User) -> None:
    artifact = artifact_with(bugs, [alice], 2)

    response = client_for(alice).get(f"/api/artifacts/{artifact.pk}/changesets/?comments_only=maybe")

    assert response.status_code == 400
    assert "comments_only" in response.json()


@pytest.mark.parametrize(
    "position",
    ["9999-12-31 23:59:59-05:00", "0001-01-01 00:00:00+05:00", "2026-02-30 10:00:00", "yesterday", ""],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_a_forged_cursor_is_an_invalid_cursor(
    bugs: Tracker, alice: User, bob: User, position: str, reverse: bool
) -> None:
    """A position past the calendar's end in UTC was an OverflowError, a 500."""
    artifact = artifact_with(bugs, [alice], 3)
    query = ("r=1&" if reverse else "") + urlencode({"p": position})
    cursor = base64.b64encode(query.encode()).decode()
    response = client_for(bob).get(f"/api/artifacts/{artifact.pk}/changesets/", {"cursor": cursor})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_a_cursor_the_api_gave_still_works(bugs: Tracker, alice: User, bob: User) -> None:
    artifact = artifact_with(bugs, [alice], 3)
    client = client_for(bob)
    first = client.get(f"/api/artifacts/{artifact.pk}/changesets/", {"page_size": 2}).json()
    second = client.get(first["next"])
    assert second.status_code == 200
    assert steps(first["results"]) + steps(second.json()["results"]) == [1, 2, 3]


def test_the_schema_documents_the_cursor_the_page_size_and_the_filter(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/artifacts/{id}/changesets/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "cursor",
        "page_size",
        "comments_only",
    }
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"next", "previous", "results"}
