"""A Markdown comment that is slow to render cannot take an artifact offline: it is rendered once, when
stored, under a time budget, and pages, the API and emails read the stored HTML."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.test import Client

from tests.conftest import client_for
from tests.support.smtp import SMTPServer
from tracker.models import Changeset, Tracker, User
from tracker.services import rendering
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.history_pages import HISTORY_PAGE_SIZE

# 20,000 characters (the Markdown limit): about 0.5 s for markdown-it-py on this machine, unbudgeted,
# as each "[" scans the rest for its label; the nesting check stops it at the 21st.
BOMB = "**_~~[" * 3333 + "**"
# Slow without nesting deeply (about 0.3 s here): a time limit shorter than that stops it.
SLOW = "*_" * 10_000
COMMENTS = 60


def test_an_artifact_with_sixty_markdown_bombs_reads_without_rendering(
    bugs: Tracker, alice: User, bob: User, renderer_calls: Counter[str]
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Bombed"}).artifact
    first = update_artifact(artifact, author=bob, comment=BOMB, comment_format="markdown")
    # The write rendered it, within the budget, and fell back to plain text with a note.
    assert renderer_calls["markdown"] == 1
    assert "Shown as plain text: it nests too deeply." in first.comment_html
    assert "**_~~[**_~~[" in first.comment_html
    # The other 59 as the service stores them (rendering each again would only make the test slow).
    Changeset.objects.bulk_create(
        Changeset(
            artifact=artifact,
            author=bob,
            submitted_on=first.submitted_on,
            comment=first.comment,
            comment_format=first.comment_format,
            comment_html=first.comment_html,
        )
        for _ in range(COMMENTS - 1)
    )
    renderer_calls.clear()
    browser = Client()
    browser.force_login(bob)

    started = time.perf_counter()
    page = browser.get(f"/artifacts/{artifact.pk}/")
    page_seconds = time.perf_counter() - started
    started = time.perf_counter()
    api = client_for(bob).get(f"/api/artifacts/{artifact.pk}/changesets/")
    api_seconds = time.perf_counter() - started

    assert page.status_code == 200
    # The page shows the latest changesets (the older ones by page): all bombs.
    assert page.content.decode().count("Shown as plain text: it nests too deeply.") == HISTORY_PAGE_SIZE
    assert api.status_code == 200
    entries = api.json()["results"]  # the first page (the default size): the creation and the comments
    assert len(entries) == HISTORY_PAGE_SIZE
    assert sum("Shown as plain text" in entry["comment_html"] for entry in entries) == len(entries) - 1
    # It should never render when reading: the whole point.
    assert renderer_calls == Counter()
    # The goal, with margin (it took 24 s for 30 such comments when rendered on each view).
    assert page_seconds < 1 and api_seconds < 1, (page_seconds, api_seconds)


def test_the_email_about_a_bomb_is_sent_with_the_stored_html(
    saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User, renderer_calls: Counter[str]
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Bombed"}).artifact
    renderer_calls.clear()

    changeset = saving(update_artifact, artifact, author=bob, comment=BOMB, comment_format="markdown")

    [email] = [item for item in smtp.received if item.rcpt_tos == ["alice@example.com"]]
    assert email.message["X-Tuleap-Changeset-Id"] == str(changeset.pk)
    assert "Shown as plain text: it nests too deeply." in email.part("text/html")
    assert BOMB in email.part("text/plain")
    # Rendered once, by the save; the email read what was stored.
    assert renderer_calls["markdown"] == 1


def test_a_slow_comment_is_stopped_by_the_time_limit(
    monkeypatch: pytest.MonkeyPatch, bugs: Tracker, alice: User
) -> None:
    # A limit well below what SLOW takes on any machine, so the test does not depend on its speed.
    monkeypatch.setattr(rendering, "DEFAULT_BUDGET", rendering.Budget(seconds=0.01))
    artifact = create_artifact(bugs, author=alice, values={"title": "Slow"}).artifact

    changeset = update_artifact(artifact, author=alice, comment=SLOW, comment_format="markdown")

    assert "Shown as plain text: it took too long to format." in changeset.comment_html
    assert SLOW in changeset.comment_html


def test_a_comment_within_budget_is_formatted(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Fine"}).artifact

    changeset = update_artifact(
        artifact,
        author=alice,
        comment="**Fixed** in `main`; see [the log](https://ci.example.com/1)",
        comment_format="markdown",
    )

    assert changeset.comment_html == (
        '<p><strong>Fixed</strong> in <code>main</code>; see <a href="https://ci.example.com/1" '
        'rel="noopener noreferrer nofollow">the log</a></p>\n'
    )
