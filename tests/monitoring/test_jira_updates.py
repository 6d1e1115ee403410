"""Updates from Jira in ``/metrics``: listed before any has run, then counted by how they ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.monitoring.conftest import Scrape
from tests.support.fake_jira import FakeJiraServer
from tests.support.jira import new_import, token_of
from tracker.jira_import import services, update_service
from tracker.models import JiraSyncRun, Project, User

pytestmark = pytest.mark.slow


def test_updates_are_counted_by_how_they_ended_apart_from_the_imports(
    scrape: Callable[[], Scrape],
    jira_settings: None,
    cloud: FakeJiraServer,
    public_project: Project,
    alice: User,
) -> None:
    before = scrape()
    assert "tuleap_jira_updates" in before.families
    assert before.total("tuleap_jira_updates_total") == 0
    jira_import = services.run_import(new_import(cloud, public_project, alice))
    assert jira_import.status == "done", jira_import.error

    def update(token: str) -> JiraSyncRun:
        return update_service.create_update(jira_import, requested_by=alice, token=token)

    done = update_service.run_update(update(token_of(cloud)))
    refused = update_service.run_update(update("revoked"))
    pending = update(token_of(cloud))
    update_service.cancel_update(pending, by=alice)
    stuck = update(token_of(cloud))
    JiraSyncRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))
    [cancelled_by_check] = update_service.cancel_stale_updates(timedelta(hours=1))
    assert [done.status, refused.status, pending.status, cancelled_by_check.status] == [
        "done",
        "failed",
        "cancelled",
        "cancelled",
    ]

    after = scrape()

    # It should count each update once, by its end; the import is counted apart, once.
    assert after.value("tuleap_jira_updates_total", status="done") == 1
    assert after.value("tuleap_jira_updates_total", status="failed") == 1
    assert after.value("tuleap_jira_updates_total", status="cancelled") == 2
    assert after.total("tuleap_jira_updates_total") == 4
    assert after.value("tuleap_jira_imports_total", status="done") == 1
    assert after.total("tuleap_jira_imports_total") == 1
