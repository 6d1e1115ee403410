"""axe-core, in Debian's Chromium, on every page type: no serious or critical accessibility violation.

axe-core is vendored from npm under tests/support/vendor/axe-core/ (the application never serves it) and
injected into each page once it has loaded. One browser serves the whole module; each test has its own
context (cookies, session), so that the users of two tests never share a login.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone
from PIL import Image

from tests.conftest import PASSWORD
from tests.support.browser import ARGS, CHROMIUM, chromium_marks
from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJiraServer
from tests.support.jira import pending_import
from tests.support.world import typed_tracker
from tracker.models import Artifact, FieldType, JiraImport, Project, SystemEvent, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.fields import add_field
from tracker.services.notification_list import add_entry
from tracker.services.saved_queries import save_query

AXE = Path(__file__).resolve().parents[1] / "support" / "vendor" / "axe-core" / "axe.min.js"
# axe-core's impacts are minor, moderate, serious and critical; the issue asks for none of the last two.
BLOCKING = {"serious", "critical"}

pytestmark = chromium_marks()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module: launching it is the slowest part of a browser test."""
    from playwright.sync_api import sync_playwright

    # As in tests/support/browser.py: the test's ORM calls run beside Playwright's event loop; restored
    # when the module ends, so that `check --deploy` in later tests does not see it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
                connections.close_all()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: Playwright's add_script_tag(path=...) inserts the file's text as an inline <script>,
    # which the app's Content-Security-Policy (script-src 'self', settings.py) rightly refuses. Only this
    # audit context bypasses it; every other browser test runs under the real policy.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


class Audit:
    """Runs axe on the pages a test visits and keeps the serious and critical violations of each."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.failures: list[str] = []
        self.audited: list[str] = []

    def goto(self, path: str, name: str) -> None:
        self.page.goto(f"{self.base_url}{path}")
        self.check(name)

    def check(self, name: str) -> None:
        """Audit the page as it is now (after a form error, say)."""
        self.page.wait_for_load_state("load")
        self.page.add_script_tag(path=str(AXE))
        results = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        self.audited.append(name)
        for violation in results["violations"]:
            if violation["impact"] not in BLOCKING:
                continue
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:8])
            self.failures.append(
                f"{name} ({self.page.url}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']} -> {targets}"
            )

    def fail_form(self, form: str, name: str) -> None:
        """Submit the ``form`` (a CSS selector) as it is, wait for the error it shows, and audit that."""
        self.page.locator(f"{form} button[type=submit]").last.click()
        self.page.locator(".has-error, .errorlist, .messages .error").first.wait_for()
        self.check(name)

    def log_in(self, username: str) -> None:
        self.page.goto(f"{self.base_url}/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{self.base_url}/")

    def assert_clean(self) -> None:
        assert not self.failures, "axe-core found serious or critical violations:\n" + "\n".join(
            self.failures
        )


@pytest.fixture
def audit(live_server, page: Any) -> Audit:
    return Audit(page, live_server.url)


@pytest.fixture
def documented(bugs: Tracker, alice: User, bob: User, carol: User) -> Artifact:
    """An artifact with a history, comments and an attachment."""
    add_field(bugs, name="files", label="Files", type=FieldType.FILES)
    artifact = create_artifact(
        bugs,
        author=alice,
        values={"title": "Crash on save", "status": "New", "description": "Steps:\n1. save\n2. crash"},
        uploads={"files": [SimpleUploadedFile("trace.txt", b"Traceback", content_type="text/plain")]},
        notify=False,
    ).artifact
    update_artifact(
        artifact,
        author=bob,
        values={"status": "In progress", "assigned_to": carol.pk},
        comment="Reproduced on **Firefox**.",
        comment_format="markdown",
        notify=False,
    )
    update_artifact(artifact, author=carol, comment="Fixed in the next build.", notify=False)
    return artifact


def test_the_login_page_with_and_without_an_error(audit: Audit) -> None:
    audit.goto("/login/", "login")
    audit.page.get_by_label("Username").fill("nobody")
    audit.page.get_by_label("Password").fill("wrong")
    audit.page.get_by_role("button", name="Log in").click()
    audit.check("login with an error")
    audit.goto("/no-such-page/", "not found")
    audit.assert_clean()


def test_a_members_pages(audit: Audit, bugs: Tracker, documented: Artifact, bob: User) -> None:
    audit.log_in("bob")
    audit.check("project list")
    audit.goto("/projects/demo/", "project page")
    audit.goto(f"/trackers/{bugs.pk}/", "artifact list")
    audit.goto(f"/artifacts/{documented.pk}/", "artifact page")

    # The edit form on the artifact page, with an error shown.
    audit.page.locator("#id_title").fill("")
    audit.fail_form("#artifact-form", "artifact page with an edit error")

    audit.goto(f"/trackers/{bugs.pk}/artifacts/new/", "artifact create form")
    audit.fail_form("#artifact-form", "artifact create form with errors")

    audit.goto("/account/", "profile")
    audit.fail_form("form[action$='/account/password/']", "profile with a password error")

    # On a phone (390 px wide), where the list and the artifact page change their layout.
    audit.page.set_viewport_size({"width": 390, "height": 844})
    audit.goto(f"/trackers/{bugs.pk}/", "artifact list at 390 px")
    audit.goto(f"/artifacts/{documented.pk}/", "artifact page at 390 px")
    audit.assert_clean()


def test_a_project_admins_pages(
    audit: Audit, bugs: Tracker, documented: Artifact, alice: User, bob: User
) -> None:
    entry = add_entry(bugs, "bob", added_by=alice).entry
    add_entry(bugs, "team@example.com", added_by=alice)
    audit.log_in("alice")
    audit.goto("/projects/demo/members/", "project members")
    audit.fail_form("form[action$='/members/']", "project members with an error")
    audit.goto(f"/projects/demo/members/{bob.pk}/remove/", "member removal confirmation")
    audit.goto(f"/notifications/{entry.pk}/remove/", "notification-list removal confirmation")
    audit.goto(f"/trackers/{bugs.pk}/admin/", "tracker admin (fields, notification list)")

    audit.fail_form("form[action$='/admin/fields/']", "tracker admin with a field error")
    audit.goto(f"/trackers/{bugs.pk}/admin/", "tracker admin")
    audit.fail_form("form[action$='/admin/notifications/']", "tracker admin with a notification-list error")

    status = bugs.fields.get(name="status")
    audit.goto(f"/fields/{status.pk}/", "field page")
    audit.fail_form("form[action$='/options/']", "field page with a new-value error")
    audit.goto("/projects/new/", "project creation")
    audit.goto("/projects/demo/trackers/new/", "tracker creation")
    audit.assert_clean()


def test_a_site_admins_pages(audit: Audit, admin_user: User) -> None:
    SystemEvent.objects.create(
        status=SystemEvent.Status.WARNING,
        ended_at=timezone.now(),
        findings=[{"check": "pending_notifications", "level": "WARNING", "message": "3 notifications stuck"}],
        log="checked everything",
    )
    audit.log_in("root")
    audit.goto("/system/events/", "system events")
    # The API docs are Swagger UI's page (drf-spectacular): our template, settings and colours.
    audit.page.goto(f"{audit.base_url}/api/docs/")
    audit.page.locator(".swagger-ui .opblock").first.wait_for()
    audit.check("API docs")
    audit.assert_clean()


@pytest.mark.slow
def test_the_jira_import_wizard(
    audit: Audit, jira_settings: None, cloud: FakeJiraServer, public_project: Project
) -> None:
    audit.log_in("alice")
    audit.goto("/projects/demo/trackers/new/jira/", "Jira wizard: connect")
    audit.page.get_by_label("Jira URL").fill(cloud.url)
    audit.page.get_by_label("Jira Cloud: your Atlassian account's email address and an API token").check()
    audit.page.get_by_label("Email address or user name").fill(CLOUD_EMAIL)
    audit.page.get_by_label("API token, personal access token or password").fill("a-wrong-token")
    audit.page.get_by_role("button", name="Connect and list the projects").click()
    audit.page.locator(".has-error .errorlist").wait_for()
    audit.check("Jira wizard: connect, with an error")

    audit.page.get_by_label("API token, personal access token or password").fill(CLOUD_API_TOKEN)
    audit.page.get_by_role("button", name="Connect and list the projects").click()
    audit.page.get_by_role("heading", name="Choose the Jira project").wait_for()
    audit.check("Jira wizard: project")

    audit.page.get_by_role("combobox", name="Jira project").select_option(label="Demo Project (DEMO)")
    audit.page.get_by_role("button", name="Next: issue types").click()
    audit.page.get_by_role("link", name="Story", exact=True).click()
    audit.page.locator("#id_tracker_name").wait_for()
    audit.check("Jira wizard: issue types")

    audit.page.get_by_role("button", name="Import the Story issues").click()
    audit.page.get_by_role("heading", name="Jira import: Demo Project Story").wait_for()
    audit.check("Jira import page")
    audit.goto("/projects/demo/", "project page with a pending import")
    audit.assert_clean()


def test_the_pages_of_finished_jira_imports(
    audit: Audit, bugs: Tracker, public_project: Project, alice: User
) -> None:
    done = pending_import(
        public_project,
        alice,
        status=JiraImport.Status.DONE,
        tracker=bugs,
        token_encrypted="",
        counts={"issues": 3, "comments": 2},
        skipped=[{"field": "Story points", "reason": "no such field type here", "issues": 2}],
        notes=["Two issues had no summary: their key is the title."],
        ended_at=timezone.now(),
    )
    failed = pending_import(
        public_project,
        alice,
        status=JiraImport.Status.FAILED,
        token_encrypted="",
        tracker_shortname="demo-failed",
        error="Jira answered 503 three times: try again later.",
        ended_at=timezone.now(),
    )
    audit.log_in("alice")
    audit.goto(f"/jira-imports/{done.pk}/", "Jira import page, done (with its updates)")
    audit.goto(f"/jira-imports/{failed.pk}/", "Jira import page, failed")
    audit.assert_clean()


def test_the_pages_that_find_artifacts(
    audit: Audit, bugs: Tracker, documented: Artifact, alice: User, bob: User
) -> None:
    # Something for each part of bob's "My work": assigned to him, and submitted by him.
    create_artifact(
        bugs, author=alice, values={"title": "Assigned to bob", "assigned_to": bob.pk}, notify=False
    )
    create_artifact(bugs, author=bob, values={"title": "Submitted by bob"}, notify=False)
    save_query(bob, bugs, name="Open bugs", params={"state": "open"}, shared=True)
    save_query(bob, bugs, name="Mine", params={"assignee": "me"}, shared=False)
    audit.log_in("bob")
    # The filters open (the URL has some), with the saved queries and the "Save this query as" form.
    audit.goto(f"/trackers/{bugs.pk}/?state=open&assignee=me&columns=submitter", "list with the filters open")
    audit.page.locator("#saved-queries a", has_text="Open bugs").wait_for()
    audit.page.locator("#saved-query-name").wait_for()
    audit.goto(f"/trackers/{bugs.pk}/?q=zebra", "list with a search that finds nothing")
    audit.page.locator("#no-match").wait_for()
    audit.goto(f"/trackers/{bugs.pk}/?assignee=nosuchuser", "list with a filter error")
    audit.goto("/my-work/", "my work")
    audit.page.get_by_text("Assigned to bob").first.wait_for()
    audit.page.set_viewport_size({"width": 390, "height": 844})
    audit.goto(f"/trackers/{bugs.pk}/?state=open&assignee=me", "list with the filters open at 390 px")
    audit.goto("/my-work/", "my work at 390 px")
    audit.assert_clean()


def png(width: int = 320, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_an_artifact_page_with_backlinks_a_thumbnail_and_a_markdown_preview(
    audit: Audit, public_project: Project, alice: User, bob: User
) -> None:
    from playwright.sync_api import expect

    linked = typed_tracker(public_project, "files", "links", shortname="linked")
    image = SimpleUploadedFile("chart.png", png(), content_type="image/png")
    target = create_artifact(
        linked, author=alice, values={"title": "Target"}, uploads={"files": [image]}, notify=False
    ).artifact
    create_artifact(
        linked,
        author=alice,
        values={"title": "Source", "links": [{"artifact": target.pk, "type": "blocks"}]},
        notify=False,
    )
    audit.log_in("bob")
    audit.goto(f"/artifacts/{target.pk}/", "artifact page with a backlink and a thumbnail")
    expect(audit.page.get_by_role("img", name="chart.png")).to_be_visible()
    expect(audit.page.get_by_role("link", name=f"linked #{target.pk + 1} Source")).to_be_visible()

    # The comment box's Preview tab shown, with rendered Markdown in it.
    audit.page.get_by_label("Markdown").check()
    audit.page.locator("textarea[name=comment]").fill("- [x] **done**\n\n| a | b |\n| - | - |\n| 1 | 2 |")
    audit.page.get_by_role("tab", name="Preview").click()
    expect(audit.page.get_by_role("tabpanel").locator("strong")).to_have_text("done")
    audit.check("artifact page with the Markdown preview tab shown")
    audit.assert_clean()


def test_the_field_and_value_administration_pages(
    audit: Audit, bugs: Tracker, documented: Artifact, alice: User
) -> None:
    status = bugs.fields.get(name="status")
    unused = add_field(bugs, name="severity", label="Severity", type=FieldType.STRING)
    used_value = status.options.get(label="In progress")
    unused_value = status.options.get(label="Done")
    audit.log_in("alice")
    # The value rows: rename, colour, move, hide and delete forms.
    audit.goto(f"/fields/{status.pk}/", "field page with its value rows")
    # Renaming a value to nothing: the page again, with the refusal in its messages.
    audit.page.locator(f"#option-{used_value.pk}-label").fill("")
    audit.fail_form(f"#option-{used_value.pk} form.option-edit", "field page with a rename error")
    audit.goto(f"/fields/{status.pk}/delete/", "field deletion refused (the field is used)")
    audit.goto(f"/fields/{unused.pk}/delete/", "field deletion confirmation")
    audit.page.locator("#confirm-removal").wait_for()
    audit.goto(f"/options/{used_value.pk}/delete/", "value deletion refused (the value is used)")
    audit.goto(f"/options/{unused_value.pk}/delete/", "value deletion confirmation")
    audit.page.locator("#confirm-removal").wait_for()
    audit.assert_clean()
