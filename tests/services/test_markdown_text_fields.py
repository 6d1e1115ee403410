"""A description (any text field) written in Markdown: chosen next to the box, stored with the value,
rendered once by the comments' renderer and budget, shown as HTML on the page and as its source where
text is read (the edit box, the history, the plain-text email); plain text stays what it was."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from django.test import Client

from tests.conftest import PASSWORD, client_for
from tests.support.browser import chromium_marks, chromium_page
from tests.support.smtp import SMTPServer, smtp_for
from tracker.models import Artifact, Field, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.history import entries_for
from tuleap_backend.env import AsyncEmails

SOURCE = "Steps:\n\n1. Press **Save**\n2. See <script>alert(1)</script>\n"


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())  # sent inline, after the commit
    yield from smtp_for(settings)


def stored_description(artifact: Artifact) -> object:
    artifact.refresh_from_db()
    return artifact.current_values.get(
        str(Field.objects.get(tracker=artifact.tracker, name="description").pk)
    )


def description_value_html(page: str) -> str:
    found = re.search(r'<dd id="value-description">(.*?)</dd>', page, re.S)
    assert found, "no description on the page"
    return found.group(1)


def description_box(page: str) -> tuple[str, str]:
    """The description textarea's opening tag and its text."""
    found = re.search(r'(<textarea name="description"[^>]*>)(.*?)</textarea>', page, re.S)
    assert found, "no description box"
    return found.group(1), html.unescape(found.group(2))


def checked_format(page: str) -> str:
    radios = re.findall(r'<input[^>]*name="description__format"[^>]*>', page)
    checked = [re.search(r'value="(\w+)"', radio).group(1) for radio in radios if " checked" in radio]
    return checked[0] if len(checked) == 1 else f"{len(checked)} checked"


def post_form(client: Client, artifact: Artifact, **changes: str):  # type: ignore[no-untyped-def]
    """The edit form sent back as shown, with some inputs changed."""
    form = client.get(artifact.get_absolute_url()).context["form"]
    values = {k: v for k, v in form.initial.items() if v is not None}
    values.update({name: form.fields[name].initial for name in form.fields if name.endswith("__format")})
    return client.post(artifact.get_absolute_url(), {**values, **changes})


def create_in_browser_form(client: Client, bugs: Tracker, **values: str) -> Artifact:
    response = client.post(f"/trackers/{bugs.pk}/artifacts/new/", values)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Artifact.objects.latest("pk")


# The page ---------------------------------------------------------------------------------------------


def test_a_markdown_description_renders_as_html_and_its_script_stays_text(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Save", "description": {"format": "markdown", "source": SOURCE}}
    ).artifact

    shown = description_value_html(client_as(bob).get(artifact.get_absolute_url()).content.decode())

    # It should show the formatting, and the tag the person typed as text, never as a tag.
    assert "<strong>Save</strong>" in shown
    assert "<ol>" in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<script" not in shown
    assert "rich-text" in shown


def test_a_plain_description_is_shown_as_typed(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Save", "description": SOURCE}).artifact

    shown = description_value_html(client_as(bob).get(artifact.get_absolute_url()).content.decode())

    assert "**Save**" in shown
    assert "<strong>" not in shown


def test_choosing_markdown_in_the_new_artifact_form_stores_it_formatted(
    client_as, bugs: Tracker, bob: User
) -> None:
    client = client_as(bob)
    page = client.get(f"/trackers/{bugs.pk}/artifacts/new/").content.decode()
    # It should offer the choice, text by default, and tabs previewing only while Markdown is chosen.
    assert checked_format(page) == "text"
    tag, _ = description_box(page)
    assert 'data-format-input="description__format"' in tag
    assert "tracker/js/markdown_preview.js" in page

    artifact = create_in_browser_form(
        client, bugs, title="Save", description=SOURCE, description__format="markdown"
    )

    stored = stored_description(artifact)
    assert isinstance(stored, dict) and stored["source"] == SOURCE
    assert "<strong>Save</strong>" in stored["html"]


def test_editing_shows_the_markdown_source_and_keeps_the_format(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Save", "description": {"format": "markdown", "source": SOURCE}}
    ).artifact
    client = client_as(bob)

    page = client.get(artifact.get_absolute_url()).content.decode()
    _, text = description_box(page)
    assert text.strip() == SOURCE.strip()
    assert checked_format(page) == "markdown"

    # Sent back as shown, it should be no change at all.
    response = post_form(client, artifact)
    assert response.status_code == 302
    assert artifact.changesets.count() == 1

    # Only the format changed: the same words, now plain text.
    post_form(client, artifact, description__format="text")
    assert stored_description(artifact) == SOURCE


def test_switching_a_plain_description_to_markdown_is_a_change(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Save", "description": "**hi**"}).artifact

    post_form(client_as(bob), artifact, description__format="markdown")

    stored = stored_description(artifact)
    assert isinstance(stored, dict)
    assert stored["html"] == "<p><strong>hi</strong></p>\n"


# The history and the email ----------------------------------------------------------------------------


def test_the_history_quotes_the_markdown_source(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Save", "description": "old words"}
    ).artifact
    update_artifact(artifact, author=alice, values={"description": {"format": "markdown", "source": SOURCE}})

    entries = entries_for(artifact, list(artifact.changesets.order_by("pk")))

    change = next(c for c in entries[-1].changes if c.field.name == "description")
    assert (change.old_text, change.new_text) == ("old words", SOURCE)
    assert change.multiline


def test_the_email_text_part_reads_as_the_source(
    django_capture_on_commit_callbacks, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        creation = create_artifact(
            bugs,
            author=alice,
            values={"title": "Save", "cc": ["bob"], "description": {"format": "markdown", "source": SOURCE}},
        )
    to_bob = next(
        item
        for item in smtp.received
        if item.message["X-Tuleap-Changeset-Id"] == str(creation.pk) and item.rcpt_tos == ["bob@example.com"]
    )

    text = to_bob.part("text/plain")
    # It should quote what was written, line by line, not a stored structure or HTML.
    assert "1. Press **Save**" in text
    assert "2. See <script>alert(1)</script>" in text
    assert "'format'" not in text and "<strong>" not in text
    # The HTML part shows it formatted, the typed tag as text.
    assert "<strong>Save</strong>" in to_bob.part("text/html")
    assert "<script>" not in to_bob.part("text/html")


def test_the_html_email_of_a_change_shows_the_new_markdown_formatted(
    django_capture_on_commit_callbacks, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Save", "cc": ["bob"]}, notify=False
    ).artifact
    with django_capture_on_commit_callbacks(execute=True):
        change = update_artifact(
            artifact,
            author=alice,
            values={"description": {"format": "markdown", "source": "one **bold** line"}},
        )
    to_bob = next(item for item in smtp.received if item.message["X-Tuleap-Changeset-Id"] == str(change.pk))

    assert "<strong>bold</strong>" in to_bob.part("text/html")
    assert "one **bold** line" in to_bob.part("text/plain")


# The API ----------------------------------------------------------------------------------------------


def test_the_api_still_reads_plain_text_as_a_string(bugs: Tracker, alice: User, bob: User) -> None:
    client = client_for(bob)
    created = client.post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "Save", "description": "plain words"}},
        format="json",
    )
    assert created.status_code == 201

    body = client.get(f"/api/artifacts/{created.json()['id']}/").json()

    assert body["values"]["description"] == "plain words"


def test_the_api_writes_markdown_and_never_stores_the_html_it_is_sent(bugs: Tracker, bob: User) -> None:
    client = client_for(bob)
    created = client.post(
        "/api/artifacts/",
        {
            "tracker": bugs.pk,
            "values": {
                "title": "Save",
                "description": {"format": "markdown", "source": "*hi*", "html": "<script>x()</script>"},
            },
        },
        format="json",
    )
    assert created.status_code == 201

    body = client.get(f"/api/artifacts/{created.json()['id']}/").json()

    assert body["values"]["description"] == {
        "format": "markdown",
        "source": "*hi*",
        "html": "<p><em>hi</em></p>\n",
    }


@pytest.mark.parametrize(
    "value, message",
    [
        ({"format": "html", "source": "<b>x</b>"}, "Markdown"),
        ({"format": "markdown", "source": 42}, "Markdown"),
        ({"format": "markdown", "source": "y" * 200_001}, "at most 200000"),
    ],
)
def test_a_bad_markdown_value_is_refused_next_to_its_field(
    bugs: Tracker, bob: User, value: object, message: str
) -> None:
    response = client_for(bob).post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "Save", "description": value}},
        format="json",
    )

    assert response.status_code == 400
    assert message in str(response.json())


# The budget -------------------------------------------------------------------------------------------


def test_past_the_budget_the_text_is_kept_escaped_with_a_note(bugs: Tracker, alice: User) -> None:
    nested = "> " * 40 + "deep <b>quote</b>"
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Deep", "description": {"format": "markdown", "source": nested}}
    ).artifact

    stored = stored_description(artifact)

    assert isinstance(stored, dict) and stored["source"] == nested
    assert "Shown as plain text: it nests too deeply." in stored["html"]
    assert "deep &lt;b&gt;quote&lt;/b&gt;" in stored["html"]


def test_an_imported_artifact_with_a_markdown_value_is_edited_as_its_source(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Imported"}, notify=False).artifact
    Artifact.objects.filter(pk=artifact.pk).update(jira_issue_id="10001")
    update_artifact(artifact, author=alice, values={"description": {"format": "markdown", "source": SOURCE}})

    page = client_as(bob).get(artifact.get_absolute_url()).content.decode()

    # It should show the HTML on the page and the source in the box (no format choice: always Markdown).
    assert "<strong>Save</strong>" in description_value_html(page)
    assert description_box(page)[1].strip() == SOURCE.strip()
    assert "description__format" not in page


# In a browser -----------------------------------------------------------------------------------------

BROWSER, NEEDS_CHROMIUM = chromium_marks()


@BROWSER
@NEEDS_CHROMIUM
def test_a_member_writes_a_markdown_description_with_its_preview(
    live_server, monkeypatch: pytest.MonkeyPatch, bugs: Tracker, alice: User, bob: User
) -> None:
    from playwright.sync_api import expect

    artifact = create_artifact(bugs, author=alice, values={"title": "Save"}).artifact
    with chromium_page(monkeypatch, timeout_ms=20_000) as page:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}{artifact.get_absolute_url()}")

        preview_tab = page.locator("#id_description-preview-tab")
        # Text is the format at first: nothing to preview.
        expect(preview_tab).to_be_hidden()
        page.locator("input[name=description__format][value=markdown]").check()
        page.locator("textarea[name=description]").fill("- [x] open\n- [ ] **save**")
        preview_tab.click()

        # It should preview the rendered Markdown, then store and show it so.
        expect(page.locator("#id_description-preview strong")).to_have_text("save")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".messages")).to_contain_text("Changes saved.")
        expect(page.locator("#value-description strong")).to_have_text("save")
        expect(page.locator("#value-description input[type=checkbox]")).to_have_count(2)
