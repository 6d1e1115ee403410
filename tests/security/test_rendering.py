"""Rendering once, at write time: the budget, sanitizing, remote images, and the migration of old rows."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.test import Client

from tests.support.smtp import SMTPServer
from tracker.models import Artifact, Changeset, ChangesetValue, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.rendering import Budget, render_comment, sanitize_html

PIXEL = "https://tracker.example.net/pixel.gif?reader=42"


def test_markdown_past_its_time_budget_is_kept_as_escaped_text_with_a_note() -> None:
    html = render_comment("<b>hi</b> [x](y) " * 200, "markdown", Budget(seconds=0))

    assert html.startswith('<p class="render-note"><em>Shown as plain text: it took too long to format.')
    assert "&lt;b&gt;hi&lt;/b&gt; [x](y)" in html
    assert "<b>" not in html


def test_markdown_past_its_output_budget_is_kept_as_text() -> None:
    html = render_comment("*a* " * 100, "markdown", Budget(max_output=100))

    assert "Shown as plain text: its formatted form is too large." in html
    assert "<em>a</em>" not in html


@pytest.mark.parametrize("nested", ["> " * 5000 + "deep", "- " * 30 + "deep", "1. " * 30 + "deep"])
def test_too_deep_nesting_is_kept_as_text_rather_than_cut(nested: str) -> None:
    html = render_comment(nested, "markdown")

    assert "Shown as plain text: it nests too deeply." in html
    assert "deep" in html  # markdown-it alone would drop what lies past its maxNesting


def test_nesting_within_the_budget_is_formatted() -> None:
    html = render_comment("> " * 8 + "quoted", "markdown")

    assert html.count("<blockquote>") == 8 and "quoted" in html


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        (PIXEL, False),
        ("http://tracker.example.net/a.png", False),
        ("//tracker.example.net/a.png", False),
        ("/attachments/3/", True),
        ("logo.png", True),
    ],
)
def test_only_this_sites_images_stay_images(source: str, kept: bool) -> None:
    html = sanitize_html(f'<p>See <img src="{source}" alt="the graph"></p>')

    if kept:
        assert html == f'<p>See <img src="{source}" alt="the graph"></p>'
    else:
        assert "<img" not in html
        link = f'<a href="{source}" rel="noopener noreferrer nofollow">[image: the graph]</a>'
        assert link in html


def test_sanitizing_drops_scripts_and_is_stable() -> None:
    dirty = '<p onclick="x()">a<script>alert(1)</script><a href="javascript:alert(2)">b</a><img src="%s"></p>'
    once = sanitize_html(dirty % PIXEL)

    assert "script" not in once and "onclick" not in once and "javascript" not in once
    # Sanitizing what was sanitized changes nothing (an unchanged description is not a change).
    assert sanitize_html(once) == once


def test_remote_images_are_links_on_the_page_and_in_the_email(
    saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Pixel"}).artifact
    saving(
        update_artifact, artifact, author=bob, comment=f"Look: ![chart]({PIXEL})", comment_format="markdown"
    )
    browser = Client()
    browser.force_login(alice)

    page = browser.get(f"/artifacts/{artifact.pk}/").content.decode()
    [email] = [item for item in smtp.received if item.rcpt_tos == ["alice@example.com"]]
    mailed = email.part("text/html")

    for html in (page, mailed):
        assert "tracker.example.net/pixel.gif" in html
        assert '<img src="https://tracker.example.net' not in html
        assert (
            '<a href="https://tracker.example.net/pixel.gif?reader=42" rel="noopener noreferrer nofollow">'
            in html
        )
        assert "[image: chart]" in html


def test_remote_images_of_imported_rich_text_are_links_on_the_page(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Imported"}, notify=False).artifact
    artifact.jira_issue_id = "10001"
    artifact.save(update_fields=["jira_issue_id"])
    update_artifact(
        artifact, author=alice, values={"description": f'<p>Steps <img src="{PIXEL}" alt="shot"></p>'}
    )
    browser = Client()
    browser.force_login(alice)

    page = browser.get(f"/artifacts/{artifact.pk}/").content.decode()

    assert '<img src="https://tracker.example.net' not in page
    assert "[image: shot]</a>" in page


def test_the_migration_renders_existing_comments_and_resanitizes_imported_text(
    bugs: Tracker, alice: User
) -> None:
    migration = importlib.import_module("tracker.migrations.0002_rendered_comments")
    plain = create_artifact(
        bugs, author=alice, values={"title": "Old"}, comment="**bold**", comment_format="markdown"
    ).artifact
    imported = create_artifact(bugs, author=alice, values={"title": "Imported"}, notify=False).artifact
    description = bugs.fields.get(name="description")
    Artifact.objects.filter(pk=imported.pk).update(
        jira_issue_id="10002",
        current_values={**imported.current_values, str(description.pk): f'<img src="{PIXEL}">'},
    )
    ChangesetValue.objects.create(
        changeset=imported.changesets.get(), field=description, value=f'<p>x<img src="{PIXEL}"></p>'
    )
    # Rows as they were before comments were rendered when stored.
    Changeset.objects.update(comment_html="")

    migration.render_stored(apps, None)

    assert plain.changesets.get().comment_html == "<p><strong>bold</strong></p>\n"
    value = ChangesetValue.objects.get(field=description, changeset__artifact=imported).value
    assert value == f'<p>x<a href="{PIXEL}" rel="noopener noreferrer nofollow">[image]</a></p>'
    imported.refresh_from_db()
    assert "<img" not in imported.current_values[str(description.pk)]
    # Plain artifacts' text is not HTML: left as it is.
    assert Changeset.objects.filter(artifact=plain).get().comment == "**bold**"
