"""End to end, in Debian's Chromium: alice imports several issue types of a Jira project at once,
follows one progress bar across them, and cancels in the middle: no tracker is left, of any type."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks
from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJiraServer
from tracker.models import Artifact, JiraImport, JiraImportTracker, Project, Tracker, User

# DEMO's bugs (7), stories (6) and sub-tasks (2) in the realistic dataset (fake_jira/model.py).
CHOSEN = 7 + 6 + 2

pytestmark = [*chromium_marks(), pytest.mark.slow]


def test_several_issue_types_one_progress_and_a_cancel_that_leaves_nothing(
    live_server,
    page,
    jira: FakeJiraServer,
    start_worker: Callable[[], subprocess.Popen[bytes]],
    redis_clean,
    public_project: Project,
    alice: User,
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/projects/demo/trackers/new/jira/")
    page.get_by_label("Jira URL").fill(jira.url)
    page.get_by_label("Jira Cloud: your Atlassian account's email address and an API token").check()
    page.get_by_label("Email address or user name").fill(CLOUD_EMAIL)
    page.get_by_label("API token, personal access token or password").fill(CLOUD_API_TOKEN)
    page.get_by_role("button", name="Connect and list the projects").click()
    page.get_by_role("combobox", name="Jira project").select_option(label="Demo Project (DEMO)")
    page.get_by_role("button", name="Next: issue types").click()

    # Step 3: all issue types by default; she keeps three, one tracker each, named after them.
    expect(page.get_by_role("heading", name="Choose the issue types and name the trackers")).to_be_visible()
    expect(page.get_by_label("All issue types")).to_be_checked()
    page.get_by_label("All issue types").uncheck()
    form = page.locator("#jira-project-import-form")
    for name in ("Bug", "Story", "Sub-task"):
        form.get_by_label(name, exact=True).check()
    expect(form.get_by_label("Story: tracker name")).to_have_value("Story")
    form.get_by_label("One tracker per issue type, linked to each other").check()
    page.screenshot(path="/tmp/jira_wizard_whole_project.png", full_page=True)
    page.get_by_role("button", name="Import the project").click()

    # One import, one page, one progress bar across the three types.
    expect(page.locator("#import-trackers")).to_contain_text("Sub-task")
    jira_import = JiraImport.objects.get()
    planned = JiraImportTracker.objects.filter(jira_import=jira_import, role="issues")
    assert sorted(t.name for t in planned) == ["Bug", "Story", "Sub-task"]
    start_worker()
    status = page.locator("#import-status")
    expect(status.locator("[data-field=progress-text]")).to_have_text(
        re.compile(rf"Imported ([2-9]|1[0-3]) / {CHOSEN} issues"), timeout=90_000
    )
    assert Tracker.objects.filter(project=public_project).count() >= 1  # trackers being filled
    page.screenshot(path="/tmp/jira_import_whole_project_running.png", full_page=True)

    # She cancels in the middle: the import stops and removes every tracker it had made.
    page.get_by_role("button", name="Cancel the import").click()
    expect(page.locator("#import-outcome")).to_contain_text(
        "cancelled and nothing of it was kept", timeout=60_000
    )
    jira_import.refresh_from_db()
    assert jira_import.status == JiraImport.Status.CANCELLED and jira_import.token_encrypted == ""
    assert not Tracker.objects.filter(project=public_project).exists()
    assert not Artifact.objects.exists()
    # The names are free again.
    assert not JiraImportTracker.objects.filter(active=True).exists()
