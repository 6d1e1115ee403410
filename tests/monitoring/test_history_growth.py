"""/metrics does not grow with an artifact's history: the same queries, no changeset rows loaded."""

from __future__ import annotations

from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.monitoring.conftest import Scrape
from tests.support.history import artifact_with
from tests.support.loading import rows_loaded
from tracker.models import Changeset, ChangesetValue, Tracker, User
from tracker.services.artifacts import update_artifact


def test_a_scrape_costs_the_same_for_1_or_500_changesets(scrape, bugs: Tracker, alice: User) -> None:
    artifact = artifact_with(bugs, [alice], 1)

    def measured() -> tuple[int, int, Scrape]:
        for cache in caches.all():
            cache.clear()
        with CaptureQueriesContext(connection) as queries, rows_loaded(Changeset, ChangesetValue) as rows:
            result = scrape()
        return len(queries.captured_queries), sum(rows.values()), result

    short_queries, short_rows, _ = measured()
    for number in range(2, 501):
        update_artifact(artifact, author=alice, values={"description": f"Step {number}"}, notify=False)
    long_queries, long_rows, second = measured()

    assert (long_queries, long_rows) == (short_queries, short_rows) and short_rows == 0
    assert second.value("tuleap_tracker_artifact_changesets_count") == 500
