"""Links you can follow: link values, "Linked from" and `bug #42` references, as each reader may see them.

bob is a member of both projects, carol of the public one only: a private artifact is a link with its
title for bob, and for carol a bare "#42" (links) or the plain text as written (references).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tests.support.world import typed_tracker
from tracker.models import Artifact, JiraIssueRecord, Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


@pytest.fixture
def linked(public_project: Project) -> Tracker:
    """A public tracker with a links field."""
    return typed_tracker(public_project, "links", "details", shortname="linked")


@pytest.fixture
def secret(tasks: Tracker, alice: User) -> Artifact:
    return create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact


@pytest.fixture
def neighbour(bugs: Tracker, alice: User) -> Artifact:
    return create_artifact(bugs, author=alice, values={"title": "Public bug"}).artifact


def page_of(client_as, user: User, artifact: Artifact) -> str:
    response = client_as(user).get(reverse("tracker:artifact-detail", args=[artifact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def link_to(artifact: Artifact) -> str:
    return f'href="{artifact.get_absolute_url()}"'


# -- Link values (defect 3) ------------------------------------------------------------------------


def test_a_link_the_reader_may_read_is_a_link_with_its_title(
    client_as, linked: Tracker, alice: User, bob: User, secret: Artifact, neighbour: Artifact
) -> None:
    artifact = create_artifact(
        linked,
        author=alice,
        values={"title": "Public", "links": [{"artifact": secret.pk, "type": "blocks"}, neighbour.pk]},
    ).artifact

    page = page_of(client_as, bob, artifact)

    # bob reads the private project too: it should not say "an artifact of another project".
    assert "an artifact of another project" not in page
    secret_link = (
        f'<a href="{secret.get_absolute_url()}" class="artifact-link">task #{secret.pk} Secret plan</a>'
    )
    assert f"blocks {secret_link}" in page
    assert (
        f'<a href="{neighbour.get_absolute_url()}" class="artifact-link">bug #{neighbour.pk} Public bug</a>'
        in page
    )
    # The history's creation shows the same links.
    history = page[page.index('id="history"') :]
    assert link_to(secret) in history and link_to(neighbour) in history


def test_a_link_the_reader_may_not_read_shows_its_number_only(
    client_as, linked: Tracker, alice: User, carol: User, dave: User, secret: Artifact, neighbour: Artifact
) -> None:
    artifact = create_artifact(
        linked,
        author=alice,
        values={"title": "Public", "links": [{"artifact": secret.pk, "type": "blocks"}, neighbour.pk]},
    ).artifact

    for reader in (carol, dave):
        page = page_of(client_as, reader, artifact)
        # It should name the number only: no title, no tracker, no link to a page that answers 404.
        assert f"blocks #{secret.pk}," in page
        assert "Secret plan" not in page and "task #" not in page
        assert link_to(secret) not in page
        assert link_to(neighbour) in page


def test_a_deleted_target_is_a_number_too(client_as, linked: Tracker, alice: User, bob: User) -> None:
    gone = create_artifact(linked, author=alice, values={"title": "Soon gone"}).artifact
    artifact = create_artifact(linked, author=alice, values={"title": "Public", "links": [gone.pk]}).artifact
    gone_pk = gone.pk
    gone.delete()
    page = page_of(client_as, bob, artifact)
    assert f'<dd id="value-links"><span class="links">#{gone_pk}</span></dd>' in page


def test_a_title_is_escaped_in_a_link(client_as, linked: Tracker, alice: User, bob: User) -> None:
    hostile = create_artifact(linked, author=alice, values={"title": "<script>alert(1)</script>"}).artifact
    artifact = create_artifact(
        linked, author=alice, values={"title": "Public", "links": [hostile.pk]}
    ).artifact
    page = page_of(client_as, bob, artifact)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</a>" in page


def test_a_link_change_in_the_history_is_a_link_for_a_reader_only(
    client_as, linked: Tracker, alice: User, bob: User, carol: User, secret: Artifact, neighbour: Artifact
) -> None:
    artifact = create_artifact(
        linked, author=alice, values={"title": "Public", "links": [neighbour.pk]}
    ).artifact
    update_artifact(artifact, author=alice, values={"links": [neighbour.pk, secret.pk]})

    bob_history = page_of(client_as, bob, artifact).split('id="history"', 1)[1]
    assert bob_history.count(link_to(secret)) == 1  # the new value only
    carol_history = page_of(client_as, carol, artifact).split('id="history"', 1)[1]
    assert link_to(secret) not in carol_history and "Secret plan" not in carol_history
    assert f"#{secret.pk}</span>" in carol_history


# -- Linked from -----------------------------------------------------------------------------------


def test_the_target_lists_what_links_to_it_for_those_who_may_read_it(
    client_as, linked: Tracker, private_project: Project, alice: User, bob: User, carol: User
) -> None:
    target = create_artifact(linked, author=alice, values={"title": "Target"}).artifact
    public_one = create_artifact(
        linked,
        author=alice,
        values={"title": "Public linker", "links": [{"artifact": target.pk, "type": "blocks"}]},
    ).artifact
    hidden = typed_tracker(private_project, "links", shortname="hidden")
    private_one = create_artifact(
        hidden, author=alice, values={"title": "Private linker", "links": [target.pk]}
    ).artifact
    # Not links: a link to another artifact (420 is not 42), and a text that merely mentions it.
    other = create_artifact(linked, author=alice, values={"title": "Other"}).artifact
    create_artifact(linked, author=alice, values={"title": "Unrelated", "links": [other.pk]})
    create_artifact(
        linked, author=alice, values={"title": "Prose", "details": f'{{"artifact": {target.pk}}}'}
    )

    bob_page = page_of(client_as, bob, target)
    backlinks = bob_page.split('id="backlinks"', 1)[1].split("</section>", 1)[0]
    assert f'<a href="{public_one.get_absolute_url()}">linked #{public_one.pk} Public linker</a>' in backlinks
    assert "(blocks this)" in backlinks
    assert link_to(private_one) in backlinks
    assert "Unrelated" not in backlinks and "Prose" not in backlinks

    carol_page = page_of(client_as, carol, target)
    carol_backlinks = carol_page.split('id="backlinks"', 1)[1].split("</section>", 1)[0]
    # carol may not read the private project: it should not even hint at it.
    assert link_to(public_one) in carol_backlinks
    assert "Private linker" not in carol_page and link_to(private_one) not in carol_page


def test_an_artifact_nothing_links_to_says_so(client_as, neighbour: Artifact, bob: User) -> None:
    assert "No artifact you can read links here." in page_of(client_as, bob, neighbour)


def test_a_link_removed_leaves_the_list(client_as, linked: Tracker, alice: User, bob: User) -> None:
    target = create_artifact(linked, author=alice, values={"title": "Target"}).artifact
    linker = create_artifact(linked, author=alice, values={"title": "Linker", "links": [target.pk]}).artifact
    assert link_to(linker) in page_of(client_as, bob, target)
    update_artifact(linker, author=alice, values={"links": None})
    assert link_to(linker) not in page_of(client_as, bob, target)


def count_queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_linked_from_costs_the_same_for_1_and_20_linking_artifacts(
    client_as, linked: Tracker, alice: User, bob: User
) -> None:
    target = create_artifact(linked, author=alice, values={"title": "Target"}).artifact
    client = client_as(bob)
    url = reverse("tracker:artifact-detail", args=[target.pk])
    create_artifact(linked, author=alice, values={"title": "Linker 0", "links": [target.pk]})
    client.get(url)  # the session's first reads are not the page's
    with_one, page = count_queries(client, url)
    assert page.count("Linker ") == 1
    for number in range(1, 20):
        create_artifact(linked, author=alice, values={"title": f"Linker {number}", "links": [target.pk]})
    with_twenty, page = count_queries(client, url)
    assert page.count("Linker ") == 20
    assert with_twenty == with_one


# -- References in comments and descriptions -------------------------------------------------------


def test_references_in_a_comment_are_links_for_what_the_reader_may_read(
    client_as, bugs: Tracker, alice: User, bob: User, carol: User, secret: Artifact, neighbour: Artifact
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Talking"}).artifact
    update_artifact(
        artifact,
        author=alice,
        comment=f"Same as bug #{neighbour.pk}, see also task #{secret.pk} and art #{secret.pk}.",
    )

    bob_page = page_of(client_as, bob, artifact)
    title = f'title="bug #{neighbour.pk} Public bug"'
    assert (
        f'<a href="{neighbour.get_absolute_url()}" class="reference" {title}>bug #{neighbour.pk}</a>'
        in bob_page
    )
    assert f'title="task #{secret.pk} Secret plan">task #{secret.pk}</a>' in bob_page
    assert f'title="task #{secret.pk} Secret plan">art #{secret.pk}</a>' in bob_page

    carol_page = page_of(client_as, carol, artifact)
    # A private target stays the text as written, its title unsaid.
    assert f"see also task #{secret.pk} and art #{secret.pk}." in carol_page
    assert link_to(secret) not in carol_page and "Secret plan" not in carol_page
    assert link_to(neighbour) in carol_page


def test_references_in_a_markdown_comment_and_a_description(
    client_as, bugs: Tracker, alice: User, bob: User, neighbour: Artifact
) -> None:
    artifact = create_artifact(
        bugs,
        author=alice,
        values={"title": "Talking", "description": f"Caused by #{neighbour.pk}.\nSecond line"},
    ).artifact
    update_artifact(
        artifact,
        author=alice,
        comment=f"**Duplicate** of #{neighbour.pk}; not `#{neighbour.pk}` in code.",
        comment_format="markdown",
    )
    page = page_of(client_as, bob, artifact)
    description = page.split('id="value-description"', 1)[1].split("</dd>", 1)[0]
    assert f'Caused by <a href="{neighbour.get_absolute_url()}" class="reference"' in description
    assert "Second line" in description
    comment = page.split('class="comment"', 1)[1].split("</div>", 1)[0]
    assert f'<strong>Duplicate</strong> of <a href="{neighbour.get_absolute_url()}"' in comment
    assert f"<code>#{neighbour.pk}</code>" in comment


def test_a_jira_key_of_an_imported_issue_is_a_link(
    client_as, bugs: Tracker, tasks: Tracker, alice: User, bob: User, carol: User
) -> None:
    imported = create_artifact(tasks, author=alice, values={"title": "From Jira"}).artifact
    JiraIssueRecord.objects.create(
        jira_site="https://jira.example.com", jira_issue_id="10007", jira_issue_key="DI-7", artifact=imported
    )
    artifact = create_artifact(bugs, author=alice, values={"title": "Talking"}).artifact
    update_artifact(artifact, author=alice, comment="It was DI-7 in Jira, not DI-8.")

    assert f'title="task #{imported.pk} From Jira">DI-7</a> in Jira, not DI-8.' in page_of(
        client_as, bob, artifact
    )
    carol_page = page_of(client_as, carol, artifact)
    assert "It was DI-7 in Jira" in carol_page and "From Jira" not in carol_page


def test_a_hostile_title_stays_escaped_in_a_reference(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    hostile = create_artifact(bugs, author=alice, values={"title": '"><script>alert(1)</script>'}).artifact
    artifact = create_artifact(bugs, author=alice, values={"title": "Talking"}).artifact
    update_artifact(artifact, author=alice, comment=f"See #{hostile.pk} <script>alert(2)</script>")
    page = page_of(client_as, bob, artifact)
    assert "<script>alert(" not in page
    assert (
        f'title="bug #{hostile.pk} &quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">#{hostile.pk}</a>' in page
    )


def test_references_cost_one_query_whatever_their_number(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    targets = [
        create_artifact(bugs, author=alice, values={"title": f"Target {n}"}).artifact for n in range(20)
    ]
    artifact = create_artifact(bugs, author=alice, values={"title": "Talking"}).artifact
    client = client_as(bob)
    url = reverse("tracker:artifact-detail", args=[artifact.pk])
    update_artifact(artifact, author=alice, comment=f"See #{targets[0].pk}.")
    client.get(url)
    with_one, page = count_queries(client, url)
    assert page.count('class="reference"') == 1
    update_artifact(artifact, author=alice, comment=" ".join(f"#{t.pk}" for t in targets[1:10]))
    update_artifact(artifact, author=alice, comment=" ".join(f"bug #{t.pk}" for t in targets[10:]))
    with_twenty, page = count_queries(client, url)
    assert page.count('class="reference"') == 20
    assert with_twenty == with_one


# -- In a browser ----------------------------------------------------------------------------------


def _browser(test: Callable[..., None]) -> Callable[..., None]:
    """The browser marks for one test (a module's ``pytestmark`` would mark them all)."""
    for mark in reversed(chromium_marks()):
        test = mark(test)
    return test


@_browser
def test_following_a_link_shows_the_backlink(
    live_server, monkeypatch: pytest.MonkeyPatch, linked: Tracker, alice: User, bob: User
) -> None:
    from playwright.sync_api import expect

    target = create_artifact(linked, author=alice, values={"title": "The cause"}).artifact
    source = create_artifact(
        linked,
        author=alice,
        values={"title": "The symptom", "links": [{"artifact": target.pk, "type": "is caused by"}]},
    ).artifact
    update_artifact(source, author=alice, comment=f"Same root as linked #{target.pk}.")

    with chromium_page(monkeypatch) as page:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}{source.get_absolute_url()}")

        # The comment's reference is a link too, titled with what it names.
        expect(page.locator(".comment a.reference")).to_have_attribute(
            "title", f"linked #{target.pk} The cause"
        )
        page.locator("#value-links").get_by_role("link", name=f"linked #{target.pk} The cause").click()

        expect(page.locator("#artifact-title")).to_have_text("The cause")
        backlink = page.locator("#backlinks-list li")
        expect(backlink).to_have_count(1)
        expect(backlink).to_contain_text("(is caused by this)")
        backlink.get_by_role("link", name=f"linked #{source.pk} The symptom").click()
        expect(page.locator("#artifact-title")).to_have_text("The symptom")


def test_an_outside_link_is_a_link_to_its_url(client_as, linked: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(
        linked,
        author=alice,
        values={
            "title": "Imported",
            "links": [{"key": "OPS-1", "url": "https://jira.example.com/browse/OPS-1", "type": "relates"}],
        },
    ).artifact
    page = page_of(client_as, bob, artifact)
    assert (
        'relates <a href="https://jira.example.com/browse/OPS-1" rel="noopener noreferrer nofollow">OPS-1</a>'
        in page
    )


def test_linked_from_reads_the_index_on_postgresql(linked: Tracker, alice: User) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the index of link targets is PostgreSQL's (migration 0014)")
    from tracker.services.references import _pointing_at

    target = create_artifact(linked, author=alice, values={"title": "Target"}).artifact
    create_artifact(linked, author=alice, values={"title": "Linker", "links": [target.pk]})
    with connection.cursor() as cursor:
        # A handful of rows: the planner would rather scan them; the test asks whether it can use it.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = _pointing_at(Artifact.objects.all(), target.pk).explain()
    assert "artifact_link_targets" in plan
    assert [a.title for a in _pointing_at(Artifact.objects.all(), target.pk)] == ["Linker"]
