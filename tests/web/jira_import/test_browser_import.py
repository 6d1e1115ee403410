"""End to end, in Debian's Chromium: alice imports a Jira project's stories through the wizard.

Everything is real: the live server, a fake Jira (a real HTTP server speaking Jira Cloud's API), a
``manage.py rqworker jira_import`` subprocess doing the import, Redis between them, and an SMTP
server (aiosmtpd) receiving the email the worker sends when the import ends.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks
from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJiraServer
from tests.support.smtp import SMTPServer
from tracker.models import Artifact, Attachment, Changeset, JiraImport, Project, User

SCREENSHOTS = Path("/tmp")
# DEMO's stories in the realistic dataset: DEMO-2 and DEMO-11, 14, 17, 20, 23 (fake_jira/model.py).
STORIES = 6

pytestmark = [*chromium_marks(), pytest.mark.slow]


def test_an_admin_imports_jira_stories_through_the_wizard_and_gets_an_email(
    live_server,
    page,
    jira: FakeJiraServer,
    smtp: SMTPServer,
    start_worker: Callable[[], subprocess.Popen[bytes]],
    redis_clean,
    public_project: Project,
    alice: User,
) -> None:
    from playwright.sync_api import expect

    # Alice logs in and goes to her project's tracker creation page.
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Demo").click()
    page.get_by_role("link", name="New tracker").click()
    page.get_by_role("link", name="From Jira").click()

    # Step 1: a Jira Cloud site, her email address and an API token.
    expect(page.get_by_role("heading", name="Connect to Jira")).to_be_visible()
    expect(page.locator("#permissions-note")).to_contain_text("Permissions are not imported")
    page.get_by_label("Jira URL").fill(jira.url)
    page.get_by_label("Jira Cloud: your Atlassian account's email address and an API token").check()
    page.get_by_label("Email address or user name").fill(CLOUD_EMAIL)
    # A wrong token first: the form says so, next to the token, and keeps no secret in the page.
    page.get_by_label("API token, personal access token or password").fill("a-wrong-token")
    page.get_by_role("button", name="Connect and list the projects").click()
    expect(page.locator(".has-error .errorlist")).to_contain_text("refused these credentials")
    assert "a-wrong-token" not in page.content()
    page.get_by_label("API token, personal access token or password").fill(CLOUD_API_TOKEN)
    page.screenshot(path=str(SCREENSHOTS / "jira_wizard_step1.png"), full_page=True)
    page.get_by_role("button", name="Connect and list the projects").click()

    # Step 2: the Jira projects her credentials can see.
    expect(page.get_by_role("heading", name="Choose the Jira project")).to_be_visible()
    page.get_by_role("combobox", name="Jira project").select_option(label="Demo Project (DEMO)")
    page.screenshot(path=str(SCREENSHOTS / "jira_wizard_step2.png"), full_page=True)
    page.get_by_role("button", name="Next: issue types").click()

    # Step 3: the issue types; the names follow the chosen type.
    expect(page.get_by_role("heading", name="Choose the issue types and name the trackers")).to_be_visible()
    page.get_by_role("link", name="Story", exact=True).click()
    expect(page.locator("#id_tracker_name")).to_have_value("Demo Project Story")
    expect(page.locator("#id_tracker_shortname")).to_have_value("demo-story")
    page.screenshot(path=str(SCREENSHOTS / "jira_wizard_step3.png"), full_page=True)
    page.get_by_role("button", name="Import the Story issues").click()

    # The import's page: pending until a worker takes it.
    expect(page.get_by_role("heading", name="Jira import: Demo Project Story")).to_be_visible()
    status = page.locator("#import-status")
    expect(status.locator("[data-field=status_label]")).to_have_text("Pending")
    expect(page.locator(".messages")).to_contain_text("The import of DEMO started")
    jira_import = JiraImport.objects.get()
    assert CLOUD_API_TOKEN not in page.content()

    # The project page shows it among the trackers, its names reserved.
    page.goto(f"{live_server.url}/projects/demo/")
    pending = page.locator(f"#pending-import-{jira_import.pk}")
    expect(pending).to_contain_text("Demo Project Story")
    expect(pending).to_contain_text("demo-story")
    expect(pending).to_contain_text("reserved")
    page.screenshot(path=str(SCREENSHOTS / "jira_import_project_page.png"), full_page=True)
    pending.get_by_role("link", name="Details").click()

    # A backend worker starts: the page follows the progress live, then shows the outcome.
    start_worker()
    expect(status.locator("[data-field=progress-text]")).to_have_text(
        re.compile(rf"Imported [0-{STORIES - 1}] / {STORIES} issues"), timeout=90_000
    )
    expect(status.locator("[data-field=status_label]")).to_have_text("Running")
    page.screenshot(path=str(SCREENSHOTS / "jira_import_running.png"), full_page=True)
    expect(page.locator("#import-outcome")).to_contain_text("The import is done", timeout=120_000)
    expect(page.locator("#import-counts")).to_contain_text("Issues")
    page.screenshot(path=str(SCREENSHOTS / "jira_import_done.png"), full_page=True)

    jira_import.refresh_from_db()
    assert jira_import.status == JiraImport.Status.DONE
    assert jira_import.token_encrypted == ""
    tracker = jira_import.tracker
    assert tracker is not None and tracker.shortname == "demo-story"
    assert Artifact.objects.filter(tracker=tracker).count() == STORIES

    # The tracker and its artifacts are there.
    page.locator("#tracker-link").click()
    expect(page.get_by_role("heading", name="Demo Project Story", exact=True)).to_be_visible()
    expect(page.locator("table.list tbody tr")).to_have_count(STORIES)
    page.get_by_role("link", name="Guest checkout").click()

    # The story's history, comments (their authors kept) and attachments came along.
    expect(page.locator("#artifact-title")).to_have_text("Guest checkout")
    story = Artifact.objects.get(tracker=tracker, title="Guest checkout")
    assert Changeset.objects.filter(artifact=story).count() >= 9
    expect(page.locator(".changeset")).to_have_count(Changeset.objects.filter(artifact=story).count())
    expect(page.locator(".comment").filter(has_text="Kick-off: please read the spec first.")).to_have_count(1)
    expect(page.locator(".comment").filter(has_text="QA note: guest flow fails on Safari")).to_have_count(1)
    assert page.locator(".comment script").count() == 0
    attachments = page.locator("#attachments")
    for name in ("screenshot.png", "design notes v2.txt", "résumé final.pdf"):
        expect(attachments).to_contain_text(name)
    notes = Attachment.objects.get(artifact=story, filename__startswith="design notes")
    download = page.request.get(f"{live_server.url}/attachments/{notes.pk}/")
    assert download.ok
    assert download.body().startswith(b"Design notes\n")

    # Alice was told by email, with a link to the tracker and what was imported.
    assert smtp.wait_for(lambda server: len(server.received) >= 1, timeout=30)
    [mail] = smtp.received
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.message["Subject"] == "Jira import done: DEMO (Story) is now the tracker Demo Project Story"
    text = mail.part("text/plain")
    assert f"{live_server.url}/trackers/{tracker.pk}/" in text
    assert "Permissions are not imported" in text
    assert CLOUD_API_TOKEN not in mail.content.decode(errors="replace")
