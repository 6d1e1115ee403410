"""Defect 5: an imported (Jira) description is edited as Markdown, never as raw HTML, and loses no text."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Field, Tracker, User
from tracker.services.artifacts import create_artifact

JIRA_HTML = (
    "<p>Steps &amp; notes: the <strong>save</strong> button fails with "
    '<a href="https://jira.example.com/browse/DEMO-1">DEMO-1</a>.</p>'
    "<ul><li>Open the editor</li><li>Press <em>Save</em> twice</li></ul>"
    "<h2>Expected</h2><p>It saves once.<br>Then it closes.</p>"
    "<table><thead><tr><th>Browser</th><th>Result</th></tr></thead>"
    "<tbody><tr><td>Firefox</td><td>fails</td></tr></tbody></table>"
)
TAG = re.compile(r"</?[a-z][a-z0-9]*[\s>/]", re.IGNORECASE)


@pytest.fixture
def imported(bugs: Tracker, alice: User) -> Artifact:
    """An artifact as the Jira import leaves it: its description is sanitized HTML."""
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Save fails", "description": JIRA_HTML}, notify=False
    ).artifact
    Artifact.objects.filter(pk=artifact.pk).update(jira_issue_id="10001")
    artifact.refresh_from_db()
    return artifact


def description_of(artifact: Artifact) -> str:
    artifact.refresh_from_db()
    return artifact.current_values[str(Field.objects.get(tracker=artifact.tracker, name="description").pk)]


def words(text: str) -> list[str]:
    # Tags become spaces: "editor</li><li>Press" is two words.
    return re.findall(r"\w+", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def url(artifact: Artifact) -> str:
    return reverse("tracker:artifact-detail", args=[artifact.pk])


def edit_form(client, artifact: Artifact) -> tuple[str, dict[str, object]]:
    response = client.get(url(artifact))
    textarea = re.search(
        r'<textarea name="description"[^>]*>(.*?)</textarea>', response.content.decode(), re.S
    )
    assert textarea, "no description box"
    form = response.context["form"]
    return html.unescape(textarea.group(1)), {k: v for k, v in form.initial.items() if v is not None}


def test_the_description_box_shows_markdown_not_tags(client_as, bob: User, imported: Artifact) -> None:
    shown, _ = edit_form(client_as(bob), imported)
    assert not TAG.search(shown), shown
    assert "**save**" in shown and "[DEMO-1](https://jira.example.com/browse/DEMO-1)" in shown
    assert "- Open the editor" in shown and "## Expected" in shown and "| Firefox | fails |" in shown
    # Every word of the imported text is in the box.
    assert words(shown.replace("https://jira.example.com/browse/DEMO-1", "")) == words(JIRA_HTML)
    page = client_as(bob).get(url(imported)).content.decode()
    assert "shown here as Markdown" in page


def test_an_edited_description_is_saved_formatted_with_every_word(
    client_as, bob: User, imported: Artifact
) -> None:
    client = client_as(bob)
    shown, posted = edit_form(client, imported)
    edited = shown.replace("It saves once.", "It saves exactly once.")
    response = client.post(url(imported), {**posted, "description": edited})
    assert response.status_code == 302

    stored = description_of(imported)
    # It should store HTML again (what the page, history and emails of an imported artifact read).
    assert "<strong>save</strong>" in stored and "<li>Open the editor</li>" in stored
    assert "<h2>Expected</h2>" in stored and "<td>Firefox</td>" in stored
    assert 'href="https://jira.example.com/browse/DEMO-1"' in stored
    expected = words(JIRA_HTML)
    expected.insert(expected.index("once"), "exactly")
    assert words(stored) == expected
    # And the next edit shows Markdown again, not the HTML just stored.
    again, _ = edit_form(client, imported)
    assert not TAG.search(again) and "It saves exactly once." in again


def test_saving_without_touching_the_description_keeps_it_as_imported(
    client_as, bob: User, imported: Artifact
) -> None:
    client = client_as(bob)
    _, posted = edit_form(client, imported)
    client.post(url(imported), {**posted, "comment": "Seen again"})
    assert description_of(imported) == JIRA_HTML
    assert not imported.changesets.order_by("-id").first().values.exists()


def test_markdown_typed_into_an_imported_description_cannot_inject_html(
    client_as, bob: User, imported: Artifact
) -> None:
    client = client_as(bob)
    _, posted = edit_form(client, imported)
    client.post(
        url(imported), {**posted, "description": "Hello <script>alert(1)</script> [x](javascript:alert(1))"}
    )
    stored = description_of(imported)
    assert "<script" not in stored and 'href="javascript' not in stored
    assert "Hello" in stored and "alert(1)" in stored  # kept as text, not markup


def browser(test):  # type: ignore[no-untyped-def]
    for mark in chromium_marks():
        test = mark(test)
    return test


@browser
def test_in_a_browser_a_member_edits_an_imported_description_as_markdown(
    live_server, monkeypatch, bob: User, imported: Artifact
) -> None:
    from playwright.sync_api import expect

    with chromium_page(monkeypatch) as page:
        page.goto(f"{live_server.url}/login/?next={url(imported)}")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()

        box = page.locator("textarea[name=description]")
        shown = box.input_value()
        assert not TAG.search(shown), shown
        # A comment alone, the description untouched: the browser's round trip of the box is no change.
        page.locator("textarea[name=comment]").fill("Seen again")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".messages")).to_contain_text("Changes saved.")
        assert description_of(imported) == JIRA_HTML

        box.fill(shown.replace("twice", "two times"))
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".messages")).to_contain_text("Changes saved.")
        assert "two times" in page.locator("textarea[name=description]").input_value()

    assert "<em>Save</em> two times" in description_of(imported)
