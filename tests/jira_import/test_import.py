"""Importing from the fake Jira, Cloud and Server: fields, history, comments, attachments, links, people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.fake_jira import FakeJiraData, FakeJiraServer
from tests.support.jira import (
    BUG,
    STORY,
    TASK,
    artifact_by_key,
    changesets_of,
    new_import,
    readable,
    replayed,
    values_of,
)
from tracker.jira_import import services
from tracker.models import Artifact, Attachment, Changeset, Field, FieldType, NotificationRecord, User

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def imported(jira: FakeJiraServer, project, requester, issue_type_id: str, **kwargs):
    jira_import = services.run_import(new_import(jira, project, requester, issue_type_id, **kwargs))
    assert jira_import.status == "done", jira_import.error
    return jira_import


def test_a_bug_import_creates_the_fields_of_the_issue_type(jira, public_project, alice, mailoutbox) -> None:
    jira_import = imported(jira, public_project, alice, BUG)

    fields = {f.name: f for f in Field.objects.filter(tracker=jira_import.tracker)}
    # It should map each Jira field type to ours, per the issue's table.
    assert {name: f.type for name, f in fields.items()} == {
        "title": FieldType.STRING,
        "status": FieldType.SELECT,
        "reporter": FieldType.USER,
        "description": FieldType.TEXT,
        "priority": FieldType.SELECT,
        "labels": FieldType.OPEN_LIST,
        "components": FieldType.MULTI_SELECT,
        "fix_versions": FieldType.MULTI_SELECT,
        "assigned_to": FieldType.USER,
        "due_date": FieldType.DATE,
        "affects_versions": FieldType.MULTI_SELECT,
        "resolution": FieldType.SELECT,
        "region": FieldType.SELECT,
        "environment": FieldType.TEXT,
        "flagged": FieldType.MULTI_SELECT,
        "original_estimate_hours": FieldType.FLOAT,
        "remaining_estimate_hours": FieldType.FLOAT,
        "customer": FieldType.STRING,
        "acceptance_criteria": FieldType.TEXT,
        "story_points": FieldType.FLOAT,
        "target_date": FieldType.DATE,
        "deployed_at": FieldType.DATETIME,
        "severity": FieldType.SELECT,
        "environment_type": FieldType.SELECT,
        "platforms": FieldType.MULTI_SELECT,
        "browsers": FieldType.MULTI_SELECT,
        "reviewer": FieldType.USER,
        "watchers_team": FieldType.USERS,
        "tags": FieldType.OPEN_LIST,
        "affected_release": FieldType.SELECT,
        "target_releases": FieldType.MULTI_SELECT,
        # Always created:
        "jira_key": FieldType.STRING,
        "jira_url": FieldType.STRING,
        "created_by": FieldType.USER,
        "created_on": FieldType.DATETIME,
        "last_update": FieldType.DATETIME,
        "resolution_date": FieldType.DATETIME,
        "attachments": FieldType.FILES,
        "links": FieldType.LINKS,
    }
    assert fields["title"].is_title and fields["title"].label == "Summary"
    assert fields["assigned_to"].notify
    # The status takes the values of the workflow; the "done" category means closed.
    statuses = {o.label: o.is_closed for o in fields["status"].options.all()}
    assert statuses == {
        "To Do": False,
        "In Progress": False,
        "In Review": False,
        "Done": True,
        "Won't Fix": True,
    }
    assert [o.label for o in fields["severity"].options.order_by("rank")] == [
        "Critical",
        "Major",
        "Minor",
        "Trivial",
    ]
    assert [o.label for o in fields["priority"].options.order_by("rank")][:2] == ["Highest", "High"]
    # The epic link became links, the cascading select one "Parent / Child" select: nothing is left out.
    assert jira_import.skipped == []
    assert [o.label for o in fields["region"].options.order_by("rank")][:3] == [
        "EMEA",
        "EMEA / France",
        "EMEA / Germany",
    ]
    assert jira_import.flavor == jira.flavor
    assert jira_import.token_encrypted == ""


def test_a_bug_import_keeps_the_whole_history(jira, public_project, alice, bob, mailoutbox) -> None:
    jira_import = imported(jira, public_project, alice, BUG)
    tracker = jira_import.tracker
    # Carol hides her email: a placeholder account stands for her, named "Carol Diaz (Jira)".
    importer = User.objects.get(jira_person__display_name="Carol Diaz")

    keys = sorted(readable(a)["jira_key"] for a in Artifact.objects.filter(tracker=tracker))
    assert keys == sorted(["DEMO-3", "DEMO-6", "DEMO-13", "DEMO-16", "DEMO-19", "DEMO-22", "DEMO-25"])
    bug = artifact_by_key(tracker, "DEMO-3")
    history = changesets_of(bug)
    changes = [c for c in history if not c.comment]
    # One changeset for the creation, then one per changelog entry: all 55 of them.
    assert len(changes) == 1 + 55
    if jira.cloud:
        # Cloud embeds the latest 40 entries only: the rest came from the changelog endpoint.
        assert jira.requests_to(r"/issue/DEMO-3/changelog$")

    # The first changeset is the issue as created by carol, whose email Jira hides.
    creation = history[0]
    assert creation.is_creation and creation.submitted_on == T0 + DAY
    assert creation.author == importer and creation.imported_author_name == "Carol Diaz"
    assert values_of(creation) == {
        "title": "Totals wrong when a coupon is applied twice",
        "status": "To Do",
        "reporter": "Carol Diaz (Jira)",
        "description": (
            "<p>Steps:</p>\n<ol>\n\t<li>add coupon</li>\n\t<li>add it again</li>\n</ol>\n"
            "<p>Total is negative.</p>"
        ),
        "priority": "High",
        "components": ["Backend"],
        "affects_versions": ["1.1"],
        "severity": "Major",
        "environment_type": "Production",
        "platforms": ["Linux"],
        "jira_key": "DEMO-3",
        "jira_url": f"{jira.url}/browse/DEMO-3",
        "created_by": "Carol Diaz (Jira)",
        "created_on": (T0 + DAY).isoformat(),
        "last_update": (T0 + 9 * DAY + timedelta(hours=1)).isoformat(),
        "links": [
            {"key": "DEMO-2", "url": f"{jira.url}/browse/DEMO-2", "type": "blocks"},
            {"artifact": artifact_by_key(tracker, "DEMO-6").pk, "type": "is duplicated by"},
        ],
    }
    # Then each entry: its author, its date, only what it changed.
    first_change = history[1]
    assert (first_change.author, first_change.submitted_on) == (alice, T0 + DAY + timedelta(hours=3))
    assert values_of(first_change) == {"status": "In Progress"}
    assert values_of(history[2]) == {"assigned_to": "bob"} and history[2].author == bob
    # The last entry resolved it: the resolution date comes with it.
    last = changes[-1]
    assert values_of(last) == {
        "status": "Done",
        "resolution": "Done",
        "resolution_date": last.submitted_on.isoformat(),
    }
    # Comments sit in the timeline at their dates, with their authors.
    comments = [
        (c.submitted_on, c.author, c.imported_author_name, c.comment_format) for c in history if c.comment
    ]
    assert comments == [
        (T0 + 9 * DAY, alice, "", "html"),
        (T0 + 9 * DAY + timedelta(hours=1), importer, "Carol Diaz", "html"),
    ]
    assert "Reproduced on staging." in history[-2].comment
    assert [c.submitted_on for c in history] == sorted(c.submitted_on for c in history)

    # The artifact holds what the history adds up to, as the artifact service would store it.
    bug.refresh_from_db()
    for artifact in Artifact.objects.filter(tracker=tracker):
        assert artifact.current_values == replayed(artifact)
        assert artifact.title == readable(artifact)["title"]
    now = readable(bug)
    assert now["title"] == "Totals wrong when a coupon is applied twice (v53)"
    assert (now["status"], now["assigned_to"]) == ("Done", "bob")
    assert bug.submitted_by == importer and bug.last_updated_on == history[-1].submitted_on

    # Links between imported issues are artifact links; the others keep the Jira key and URL.
    duplicate = artifact_by_key(tracker, "DEMO-6")
    assert readable(duplicate)["links"] == [{"artifact": bug.pk, "type": "duplicates"}]
    assert jira_import.counts == {
        "issues": 7,
        "changesets": 81,
        "comments": 8,
        "attachments": 0,
        "links": 3,
        "sprints": 0,
        "time_entries": 0,
        "time_spent_seconds": 0,
    }


def test_a_story_import_brings_descriptions_comments_attachments_and_people(
    jira, public_project, alice, bob, carol, dave, mailoutbox
) -> None:
    jira_import = imported(jira, public_project, alice, STORY, name="Stories", shortname="story")
    tracker = jira_import.tracker
    # Carol hides her email: a placeholder account stands for her, named "Carol Diaz (Jira)".
    importer = User.objects.get(jira_person__display_name="Carol Diaz")
    story = artifact_by_key(tracker, "DEMO-2")
    now = readable(story)

    # Rendered HTML, sanitized: the planted script and event handler are gone.
    assert now["description"].startswith("<h2>")
    assert "Checkout flow" in now["description"] and "<b>new</b>" in now["description"]
    assert "<script" not in now["description"] and "onerror" not in now["description"]

    # The attachments' bytes, downloaded with the import's credentials.
    expected = {a.filename: a.content for a in jira.data.get_issue("DEMO-2").attachments}
    attachments = list(Attachment.objects.filter(artifact=story).order_by("pk"))
    assert [a.filename for a in attachments] == ["screenshot.png", "design notes v2.txt", "résumé final.pdf"]
    for attachment in attachments:
        with attachment.file.open("rb") as handle:
            assert handle.read() == expected[attachment.filename]
        assert attachment.size == len(expected[attachment.filename])
    assert [a.submitted_by for a in attachments] == [alice, bob, importer]
    assert attachments[0].content_type == "image/png"
    assert now["attachments"] == [a.pk for a in attachments]
    history = changesets_of(story)
    # The first file came with the issue; the two others are changelog entries of their own.
    assert values_of(history[0])["attachments"] == [attachments[0].pk]
    assert [values_of(c).get("attachments") for c in history[1:3]] == [
        [attachments[0].pk, attachments[1].pk],
        [a.pk for a in attachments],
    ]

    # Seven comments at their dates; carol's hidden email makes her the importer, her name kept.
    comments = [c for c in history if c.comment]
    assert [c.submitted_on for c in comments] == [T0 + timedelta(hours=8 + i) for i in range(7)]
    assert [c.author for c in comments] == [alice, bob, importer, alice, bob, dave, alice]
    assert comments[2].imported_author_name == "Carol Diaz"
    assert (
        "QA note: guest flow fails on Safari" in comments[2].comment and "<script" not in comments[2].comment
    )
    assert comments[6].comment == "<p>Thanks all &lt;b&gt;not bold&lt;/b&gt; &amp; done.</p>"

    # Sub-tasks and links to issues of other types stay as the Jira key and URL.
    # Its epic (an Epic, imported into no tracker of this single-type import) stays a key and a URL.
    assert sorted(now["links"], key=lambda link: link["key"]) == [
        {"key": "DEMO-1", "url": f"{jira.url}/browse/DEMO-1", "type": "child of"},
        {"key": "DEMO-3", "url": f"{jira.url}/browse/DEMO-3", "type": "is blocked by"},
        {"key": "DEMO-4", "url": f"{jira.url}/browse/DEMO-4", "type": "parent of"},
        {"key": "DEMO-5", "url": f"{jira.url}/browse/DEMO-5", "type": "parent of"},
        {"key": "DEMO-8", "url": f"{jira.url}/browse/DEMO-8", "type": "relates to"},
    ]
    assert jira_import.user_report == {
        "matched": [
            {"jira": "Alice Martin", "user": "alice"},
            {"jira": "Bob Nguyen", "user": "bob"},
            {"jira": "Dave Former", "user": "dave"},
        ],
        "email_hidden": ["Carol Diaz"],
        "no_account": [],
    }

    # An import notifies nobody: the only email is the requester's, about the import.
    assert not NotificationRecord.objects.exists()
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["alice@example.com"]
    assert email.subject == "Jira import done: DEMO (Story) is now the tracker Stories"
    body = email.body
    assert f"https://tuleap.example.com/trackers/{tracker.pk}/" in body
    counts = jira_import.counts
    assert (
        counts["issues"] == 6
        and counts["comments"]
        == Changeset.objects.filter(artifact__tracker=tracker).exclude(comment="").count()
    )
    for label in ("Issues", "Changesets", "Comments", "Attachments", "Links"):
        assert f"- {label}: {counts[label.lower()]}" in body
    # Two stories carry the app's field "Team": the one thing not imported, said with its count.
    assert "- Team: its type (com.example.teams:team) has no equivalent here (2 issues)" in body
    assert "Every field was imported" not in body
    assert "Alice Martin is alice" in body and "Dave Former is dave" in body
    assert "hidden in Jira" in body and "Carol Diaz" in body
    assert "Permissions are not imported" in body
    html = email.alternatives[0].content
    assert f'href="https://tuleap.example.com/trackers/{tracker.pk}/"' in html


def test_a_task_import_keeps_every_kind_of_value_and_links_outside_the_project(
    jira, public_project, alice, bob, mailoutbox
) -> None:
    jira_import = imported(jira, public_project, alice, TASK, name="Tasks", shortname="jtask")
    tracker = jira_import.tracker

    # DEMO-7 relates to OPS-1, in another Jira project: kept as its key and URL.
    assert readable(artifact_by_key(tracker, "DEMO-7"))["links"] == [
        {"key": "OPS-1", "url": f"{jira.url}/browse/OPS-1", "type": "relates to"}
    ]
    sink = artifact_by_key(tracker, "DEMO-9")
    now = readable(sink)
    assert {name: now[name] for name in now if name not in ("description", "jira_url", "links")} == {
        "title": "Kitchen sink: every field set",
        "status": "To Do",
        "reporter": "alice",
        "priority": "Low",
        "labels": ["all-fields", "demo"],
        "components": ["Backend", "API"],
        "fix_versions": ["1.1", "2.0"],
        "assigned_to": "Carol Diaz (Jira)",
        "due_date": "2024-03-08",
        "customer": "Globex Corp",
        "acceptance_criteria": "<p>Works with <b>every</b> field.</p>",
        "story_points": 3.0,
        "target_date": "2024-02-20",
        "deployed_at": "2024-02-21T14:30:00+00:00",
        "severity": "Critical",
        "environment_type": "Staging",
        "platforms": ["Linux", "Windows", "macOS"],
        "browsers": ["Firefox", "Safari"],
        "reviewer": "alice",
        "watchers_team": ["alice", "Carol Diaz (Jira)"],
        "region": "EMEA / France",
        "tags": ["tag-a"],
        "affected_release": "1.0",
        "target_releases": ["2.0"],
        "jira_key": "DEMO-9",
        "created_by": "alice",
        "created_on": (T0 + 5 * DAY).isoformat(),
        "last_update": sink.last_updated_on.isoformat(),
    }
    # The history holds the values before each change.
    first, second, third = (values_of(c) for c in changesets_of(sink))
    assert (first["severity"], first["platforms"], first["story_points"]) == (
        "Minor",
        ["Linux", "macOS"],
        2.5,
    )
    assert (
        first["customer"] == "Globex" and first["tags"] == ["tag-a", "tag-b"] and first["reviewer"] == "bob"
    )
    assert second == {"severity": "Critical", "platforms": ["Linux", "Windows", "macOS"], "story_points": 3.0}
    assert third == {
        "customer": "Globex Corp",
        "tags": ["tag-a"],
        "reviewer": "alice",
        "due_date": "2024-03-08",
    }


def test_old_servers_give_their_fields_through_the_old_create_metadata(
    public_project, alice, mailoutbox
) -> None:
    from tests.support.fake_jira import FakeJiraData

    with FakeJiraServer(FakeJiraData.realistic(), flavor="server", server_version=(8, 0, 0)) as old:
        jira_import = imported(old, public_project, alice, BUG)
        assert old.requests_to(r"/rest/api/2/issue/createmeta$")
        assert not old.requests_to(r"/issue/createmeta/DEMO/issuetypes/")
    assert Field.objects.filter(tracker=jira_import.tracker, name="severity").exists()
    assert jira_import.counts["issues"] == 7


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_comments_beyond_those_the_search_embeds_are_paged_in(flavor, public_project, alice) -> None:
    # Jira may embed only the first comments of an issue in a search answer: the rest must be fetched.
    with FakeJiraServer(FakeJiraData.realistic(), flavor=flavor, comment_embed_limit=2) as srv:
        jira_import = imported(srv, public_project, alice, STORY, name="Stories", shortname="story")
        comment_requests = srv.requests_to(r"/issue/DEMO-2/comment$")
    story = artifact_by_key(jira_import.tracker, "DEMO-2")
    comments = [c for c in changesets_of(story) if c.comment]
    assert len(comments) == 7
    assert comment_requests, "the importer should have read the comment endpoint"
    assert all("<script" not in c.comment for c in comments)


def test_server_basic_authentication_works_too(server, public_project, alice, mailoutbox) -> None:
    from tests.support.fake_jira import SERVER_PASSWORD, SERVER_USERNAME

    jira_import = imported(
        server, public_project, alice, BUG, username=SERVER_USERNAME, token=SERVER_PASSWORD
    )
    assert {r.auth_scheme for r in server.requests} == {"basic"}
    assert jira_import.counts["issues"] == 7


def test_attachments_over_the_size_limit_are_skipped_and_listed(
    cloud, public_project, alice, settings, mailoutbox
) -> None:
    settings.JIRA_ATTACHMENT_MAX_SIZE = 60
    jira_import = imported(cloud, public_project, alice, STORY, name="Stories", shortname="story")

    story = artifact_by_key(jira_import.tracker, "DEMO-2")
    kept = list(Attachment.objects.filter(artifact=story))
    assert [a.filename for a in kept] == ["design notes v2.txt", "résumé final.pdf"]
    assert readable(story)["attachments"] == sorted(a.pk for a in kept)
    assert {
        "field": "Attachment",
        "reason": "screenshot.png on DEMO-2: 99 bytes, over the 60-byte limit",
    } in (jira_import.skipped)
    assert "screenshot.png on DEMO-2: 99 bytes, over the 60-byte limit" in mailoutbox[0].body


def test_values_jira_no_longer_offers_become_options_too(cloud, public_project, alice, mailoutbox) -> None:
    # Version 1.0 is archived: create metadata leaves it out, but the issues still name it.
    project = cloud.data.projects["DEMO"]
    project.versions[0] = type(project.versions[0])(
        project.versions[0].id, "1.0", released=True, archived=True
    )
    cloud.data.edit("DEMO-3").change("alice", versions=["1.0", "1.1"])
    jira_import = imported(cloud, public_project, alice, BUG)

    versions = Field.objects.get(tracker=jira_import.tracker, name="affects_versions")
    assert "1.0" in {o.label for o in versions.options.all()}
    assert readable(artifact_by_key(jira_import.tracker, "DEMO-3"))["affects_versions"] == ["1.0", "1.1"]
