"""The other readers of history do not grow with it: the same queries, no changeset rows loaded.

Each test measures its page or report with an artifact of 1 changeset, then again once that
artifact has 500.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.history import artifact_with
from tests.support.loading import rows_loaded
from tracker.jira_import import runs
from tracker.models import Artifact, Changeset, ChangesetValue, Tracker, User
from tracker.services.artifacts import update_artifact
from tracker.system_check.service import run_system_check


def grow_to(artifact: Artifact, author: User, changesets: int) -> None:
    for number in range(artifact.changesets.count() + 1, changesets + 1):
        update_artifact(artifact, author=author, values={"description": f"Step {number}"}, notify=False)


def cost(action: Callable[[], object]) -> tuple[int, int]:
    """(queries, changeset and changeset value rows loaded) of one run of ``action``."""
    with CaptureQueriesContext(connection) as queries, rows_loaded(Changeset, ChangesetValue) as rows:
        action()
    return len(queries.captured_queries), sum(rows.values())


def test_the_tracker_list(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    artifact = artifact_with(bugs, [alice], 1)
    client = client_as(bob)

    def tracker_page() -> None:
        response = client.get(reverse("tracker:tracker-detail", args=[bugs.pk]))
        assert response.status_code == 200 and "Long lived" in response.content.decode()

    short = cost(tracker_page)
    grow_to(artifact, alice, 500)

    # It should read the artifacts' snapshot (current_values), never their changesets.
    assert cost(tracker_page) == short and short[1] == 0


def test_the_system_check(bugs: Tracker, alice: User, redis_clean) -> None:
    artifact = artifact_with(bugs, [alice], 1)

    short = cost(run_system_check)
    grow_to(artifact, alice, 500)

    assert cost(run_system_check) == short and short[1] == 0


def test_the_jira_import_end_report_counts(bugs: Tracker, alice: User) -> None:
    artifact = artifact_with(bugs, [alice], 1)

    short = cost(lambda: runs._counts([bugs]))
    grow_to(artifact, alice, 500)

    # Aggregates: the same queries, no rows, and the right figures.
    assert cost(lambda: runs._counts([bugs])) == short and short[1] == 0
    assert runs._counts([bugs])["changesets"] == 500
