"""The Markdown preview endpoint, the "Write | Preview" tabs, and the remembered comment format."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.services.test_markdown_fields import CHECKED_BOX, inputs_of
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Changeset, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.values import TEXT_MAX_LENGTH

BROWSER, NEEDS_CHROMIUM = chromium_marks()


def preview_url(tracker: Tracker) -> str:
    return reverse("tracker:markdown-preview", args=[tracker.pk])


# The endpoint -----------------------------------------------------------------------------------------


def test_a_member_gets_the_markdown_rendered_as_it_will_be_stored(
    client_as, bugs: Tracker, bob: User
) -> None:
    answer = client_as(bob).post(preview_url(bugs), {"text": "**Bold**\n\n- [x] done\n\n<script>x</script>"})

    assert answer.status_code == 200
    html = answer.json()["html"]
    assert "<strong>Bold</strong>" in html
    assert inputs_of(html).inputs == [CHECKED_BOX]
    # It should escape raw HTML, as the stored comment does.
    assert "<script" not in html and "&lt;script&gt;" in html
    # Nobody's draft is kept by a cache on the way.
    assert "no-cache" in answer["Cache-Control"] or "max-age=0" in answer["Cache-Control"]


def test_the_preview_says_when_the_text_is_past_the_budget(client_as, bugs: Tracker, bob: User) -> None:
    answer = client_as(bob).post(preview_url(bugs), {"text": "> " * 60 + "deep"})

    assert answer.status_code == 200
    assert "Shown as plain text: it nests too deeply." in answer.json()["html"]


def test_a_text_longer_than_a_text_field_takes_is_refused_clearly(
    client_as, bugs: Tracker, bob: User
) -> None:
    answer = client_as(bob).post(preview_url(bugs), {"text": "a" * (TEXT_MAX_LENGTH + 1)})

    assert answer.status_code == 400
    assert f"at most {TEXT_MAX_LENGTH} characters" in answer.json()["error"]


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, bugs: Tracker) -> None:
    answer = client.post(preview_url(bugs), {"text": "hi"})

    assert answer.status_code == 302
    assert answer["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_a_non_member_of_a_private_project_finds_no_tracker(client_as, tasks: Tracker, dave: User) -> None:
    assert client_as(dave).post(preview_url(tasks), {"text": "hi"}).status_code == 404


def test_a_reader_who_may_not_write_is_refused(client_as, bugs: Tracker, dave: User) -> None:
    # dave may read the public project but is not a member: he has no form to preview.
    answer = client_as(dave).post(preview_url(bugs), {"text": "hi"})

    assert answer.status_code == 403
    assert "Only members of Demo" in answer.json()["error"]


def test_the_preview_needs_the_csrf_token(bugs: Tracker, bob: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)

    assert client.post(preview_url(bugs), {"text": "hi"}).status_code == 403


def test_the_preview_only_answers_posts(client_as, bugs: Tracker, bob: User) -> None:
    assert client_as(bob).get(preview_url(bugs), {"text": "hi"}).status_code == 405


# The form ---------------------------------------------------------------------------------------------


def test_the_comment_box_offers_a_preview_and_loads_the_script(client_as, crash: Artifact, bob: User) -> None:
    page = client_as(bob).get(crash.get_absolute_url()).content.decode()

    assert f'data-markdown-preview="{preview_url(crash.tracker)}"' in page
    assert 'data-format-input="comment_format"' in page
    assert "tracker/js/markdown_preview.js" in page
    assert "tracker/markdown.css" in page


def post_comment(client: Client, artifact: Artifact, comment: str, comment_format: str) -> HttpResponse:
    """The edit form sent back as shown, with a comment."""
    form = client.get(artifact.get_absolute_url()).context["form"]
    values = {k: v for k, v in form.initial.items() if v is not None}
    return client.post(
        artifact.get_absolute_url(), {**values, "comment": comment, "comment_format": comment_format}
    )


def test_the_comment_format_chosen_last_is_the_next_forms_choice(
    client_as, crash: Artifact, bob: User
) -> None:
    client = client_as(bob)

    def checked_format() -> str:
        page = client.get(crash.get_absolute_url()).content.decode()
        radios = re.findall(r'<input[^>]*name="comment_format"[^>]*>', page)
        checked = [re.search(r'value="(\w+)"', radio).group(1) for radio in radios if " checked" in radio]
        return checked[0] if len(checked) == 1 else f"{len(checked)} checked"

    # It should start as plain text.
    assert checked_format() == "text"

    post_comment(client, crash, "**first**", "markdown")
    assert crash.changesets.last().comment_format == Changeset.CommentFormat.MARKDOWN
    assert checked_format() == "markdown"

    post_comment(client, crash, "plain again", "text")
    assert checked_format() == "text"


def test_a_forged_comment_format_is_not_remembered(client_as, crash: Artifact, bob: User) -> None:
    client = client_as(bob)
    post_comment(client, crash, "x", "markdown")
    # Refused by the form (not a choice), and not remembered either.
    assert post_comment(client, crash, "y", "<b>").status_code == 200

    assert client.session["comment_format"] == "markdown"


# In a browser -----------------------------------------------------------------------------------------


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


@BROWSER
@NEEDS_CHROMIUM
def test_a_member_types_markdown_and_sees_the_preview(live_server, page, crash: Artifact, bob: User) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}{crash.get_absolute_url()}")

    comment = page.locator("textarea[name=comment]")
    preview_tab = page.get_by_role("tab", name="Preview")
    # Plain text is the format at first: nothing to preview.
    expect(preview_tab).to_be_hidden()

    # The comment's format (each text field has its own Text | Markdown choice too).
    comment_markdown = page.locator("input[name=comment_format][value=markdown]")
    comment_markdown.check()
    comment.fill("Steps:\n\n- [x] open\n- [ ] **save**\n\n| a | b |\n| - | - |\n| 1 | 2 |")
    preview_tab.click()

    # It should show the rendered Markdown in place of the textarea.
    panel = page.get_by_role("tabpanel")
    expect(panel.locator("strong")).to_have_text("save")
    expect(panel.locator("input[type=checkbox]")).to_have_count(2)
    expect(panel.locator("input[type=checkbox]").first).to_be_checked()
    expect(panel.locator("input[type=checkbox]").first).to_be_disabled()
    expect(comment).to_be_hidden()
    # Markdown tables have borders.
    border = "getComputedStyle(document.querySelector('.md-preview td')).borderTopStyle"
    assert page.evaluate(border) == "solid"

    # Back to writing, the text is as typed, and saving stores it as Markdown.
    page.get_by_role("tab", name="Write").click()
    expect(comment).to_be_visible()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages")).to_contain_text("Changes saved.")
    expect(page.locator(".changeset .comment input[type=checkbox]")).to_have_count(2)
    # The next comment starts in Markdown, the format bob chose.
    expect(comment_markdown).to_be_checked()
    expect(page.get_by_role("tab", name="Preview")).to_be_visible()


def test_an_imported_description_box_is_previewed_as_markdown(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    # Imported rich text is edited as Markdown (tracker.services.rich_text): its box gets the tabs,
    # always (it has no format to choose), while a typed text field's box gets them only while its
    # format choice is Markdown.
    imported = create_artifact(
        bugs, author=alice, values={"title": "Imported", "description": "<p>Hi</p>"}, notify=False
    ).artifact
    Artifact.objects.filter(pk=imported.pk).update(jira_issue_id="10001")
    plain = create_artifact(bugs, author=alice, values={"title": "Typed", "description": "Hi"}).artifact
    client = client_as(bob)

    def description_box(artifact: Artifact) -> str:
        page = client.get(artifact.get_absolute_url()).content.decode()
        return re.search(r'<textarea name="description"[^>]*>', page).group(0)

    assert f'data-markdown-preview="{preview_url(bugs)}"' in description_box(imported)
    assert "data-format-input" not in description_box(imported)
    assert 'data-format-input="description__format"' in description_box(plain)
