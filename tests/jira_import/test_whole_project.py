"""A whole Jira project in one import, compared field by field with what the fake Jira served.

The fake's model is what Jira said: every issue's initial values and ordered changes. For every
issue and every field the fake serves that became a field here, the artifact's final value and the
values of its history must be Jira's, in both layouts and both dialects.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.support.fake_jira import FakeJiraServer
from tests.support.fake_jira.model import LINK_CHANGE
from tests.support.jira import artifact_by_key, changesets_of, credentials_for
from tracker.jira_import import services
from tracker.models import Artifact, ChangesetValue, Field, JiraImport, JiraImportedItem, TimeEntry, Tracker
from tracker.services.history import history
from tracker.services.value_rendering import ValueRenderer

pytestmark = pytest.mark.slow

# What each person of the fake is here: alice, bob and dave share their email with an account; carol
# hides hers in Jira, so a placeholder stands for her, named after her.
PEOPLE = {"alice": "alice", "bob": "bob", "dave": "dave", "carol": "Carol Diaz (Jira)"}
HOURS = {"timeoriginalestimate", "timeestimate", "timespent"}
# Fields the import holds elsewhere (links, attachments, the key...) or that have no value shape here.
NOT_FIELDS = {"readonly", "project", "epiclink", "sprints", "attachments", "text"}


def run_whole_import(jira: FakeJiraServer, project: Any, requester: Any, layout: str) -> JiraImport:
    jira_import = services.create_import(
        project=project,
        requested_by=requester,
        credentials=credentials_for(jira),
        jira_project_key="DEMO",
        issue_type_ids=[],  # every issue type
        layout=layout,
    )
    jira_import = services.run_import(jira_import)
    assert jira_import.status == "done", jira_import.error
    return jira_import


def expected(kind: str, field_id: str, value: Any) -> Any:
    """A fake model value as the API shows ours: labels, usernames or "<name> (Jira)", ISO dates."""
    if value is None or value == [] or value == "":
        return None
    if field_id in HOURS:
        return round(value / 3600, 4)
    if kind == "string":
        return " ".join(str(value).split())
    if kind == "number":
        return float(value)
    if kind == "datetime":
        return value.isoformat()
    if kind == "user":
        return PEOPLE[value]
    if kind == "users":
        return sorted(PEOPLE[v] for v in value)
    if kind in ("options", "versions", "components"):
        return sorted(value)
    if kind == "cascading":
        return f"{value[0]} / {value[1]}" if value[1] else value[0]
    if kind in ("labels", "strings"):
        return list(value)
    return value  # date, option, version, status, priority, resolution, issuetype: the label


def shown(renderer: ValueRenderer, field_: Field, value: Any) -> Any:
    out = renderer.api(field_, value)
    if isinstance(out, list) and field_.type in ("msb", "users"):
        out = sorted(out)
    return out if out not in ([], "") else None


def field_for(tracker: Tracker, label: str) -> Field | None:
    fields = Field.objects.filter(tracker=tracker)
    return next((f for f in fields if f.label in (label, f"{label} (hours)")), None)


@pytest.mark.parametrize("layout", ["multi", "mono"])
def test_every_issue_and_field_is_what_jira_said(jira, public_project, alice, bob, dave, layout) -> None:
    jira.worklog_page_cap = 10  # DEMO-12's 25 work logs: 20 in the search, then 3 pages of the endpoint
    jira_import = run_whole_import(jira, public_project, alice, layout)
    assert len(jira.requests_to(r"/issue/DEMO-12/worklog$")) == 3
    data = jira.data
    trackers = {t.tracker.name: t.tracker for t in jira_import.planned_trackers.exclude(tracker=None)}
    issue_trackers = [
        t.tracker for t in jira_import.planned_trackers.filter(role="issues").exclude(tracker=None)
    ]
    assert len(issue_trackers) == (5 if layout == "multi" else 1)
    issues = [h for h in data.headers() if h.project_key == "DEMO"]
    assert Artifact.objects.filter(tracker__in=issue_trackers).count() == len(issues) == 25

    mismatches: dict[str, list[str]] = defaultdict(list)
    checked: set[str] = set()
    for header in issues:
        issue = data.get_issue(header.key)
        tracker = next(
            t
            for t in issue_trackers
            if Artifact.objects.filter(tracker=t, jira_issue_id=str(issue.id)).exists()
        )
        artifact = Artifact.objects.get(tracker=tracker, jira_issue_id=str(issue.id))
        values = {v.field_id: v for c in changesets_of(artifact) for v in c.values.all()}
        renderer = ValueRenderer.for_values(
            list(Field.objects.filter(tracker=tracker)),
            [artifact.current_values] + [{str(v.field_id): v.value} for v in values.values()],
        )
        for f in data.catalog.fields:
            if f.kind in NOT_FIELDS or f.id == "customfield_10028":  # the app's field: not imported
                continue
            if f.id == "timespent":  # Jira computes it from the work logs: checked as time entries below
                continue
            if f.kind == "issuetype" and layout == "multi":
                continue  # one tracker per issue type
            label = "Issue type" if f.kind == "issuetype" else "Summary" if f.id == "summary" else f.name
            field_ = field_for(tracker, label)
            if field_ is None:
                # Fine only if no issue of the tracker ever had a value (nothing was lost).
                had = [issue.initial.get(f.id)] + [
                    c.new for h in issue.histories for c in h.changes if c.field == f.id
                ]
                if any(value not in (None, [], "") for value in had):
                    mismatches[f.kind].append(f"{f.name}: no field in {tracker.name} for {issue.key}")
                continue
            checked.add(f.kind)
            # The final value.
            want = expected(f.kind, f.id, issue.current.get(f.id))
            got = shown(renderer, field_, artifact.current_values.get(str(field_.pk)))
            if want != got:
                mismatches[f.kind].append(f"{f.name} of {issue.key}: Jira {want!r}, here {got!r}")
            # The history: the value at creation, then after each change of the field.
            jira_steps = [expected(f.kind, f.id, issue.initial.get(f.id))]
            jira_steps += [
                expected(f.kind, f.id, change.new)
                for h in issue.histories
                for change in h.changes
                if change.field == f.id
            ]
            jira_steps = [step for n, step in enumerate(jira_steps) if n == 0 or step != jira_steps[n - 1]]
            ours = [None]
            for changeset in changesets_of(artifact):
                for value in changeset.values.all():
                    if value.field_id == field_.pk:
                        step = shown(
                            ValueRenderer.for_values([field_], [{str(field_.pk): value.value}]),
                            field_,
                            value.value,
                        )
                        if changeset.is_creation:
                            ours[0] = step
                        else:
                            ours.append(step)
            if ours != jira_steps:
                mismatches[f.kind].append(
                    f"history of {f.name} of {issue.key}: Jira {jira_steps!r}, here {ours!r}"
                )
    assert checked >= {
        "string", "number", "date", "datetime", "option", "options", "user", "users", "labels", "strings",
        "version", "versions", "components", "status", "priority", "resolution", "cascading",
    }  # fmt: skip
    # One assertion per field type: a failure names the field.
    for kind in sorted(checked):
        assert not mismatches[kind], f"{kind} fields differ: " + "; ".join(mismatches[kind][:5])

    # Links across trackers: the story's epic is "child of" (not "sub-task of"), its sub-tasks and
    # the blocking bug are artifacts of the other trackers; OPS-1 was never imported: key and URL.
    story = artifact_by_key(next(t for t in issue_trackers if t.name in ("Story", "Demo Project")), "DEMO-2")
    links = story.current_values[str(Field.objects.get(tracker=story.tracker, name="links").pk)]
    targets = {
        Artifact.objects.get(pk=link["artifact"]).jira_record.jira_issue_key: link["type"] for link in links
    }
    assert targets == {
        "DEMO-1": "child of",
        "DEMO-3": "is blocked by",
        "DEMO-4": "parent of",
        "DEMO-5": "parent of",
        "DEMO-8": "relates to",
    }
    subtask = Artifact.objects.get(jira_record__jira_issue_key="DEMO-4")
    sub_links = subtask.current_values[str(Field.objects.get(tracker=subtask.tracker, name="links").pk)]
    assert [(link["type"], link["artifact"]) for link in sub_links] == [("sub-task of", story.pk)]
    task = Artifact.objects.get(jira_record__jira_issue_key="DEMO-7")
    task_links = task.current_values[str(Field.objects.get(tracker=task.tracker, name="links").pk)]
    assert task_links == [{"key": "OPS-1", "url": f"{jira.url}/browse/OPS-1", "type": "relates to"}]
    # The late link is a changeset of its own, on both sides.
    blocker = Artifact.objects.get(jira_record__jira_issue_key="DEMO-12")
    late = [
        entry
        for entry in history(blocker)
        for change in entry.changes
        if change.field.name == "links" and "blocks" in change.new_text and "blocks" not in change.old_text
    ]
    assert len(late) == 1 and not late[0].changeset.is_creation
    assert any(
        s.field.startswith(LINK_CHANGE) for h in data.get_issue("DEMO-15").histories for s in h.changes
    )

    # Sprints: the issues' two and the board's future one; DEMO-11 is in both it was in.
    sprints = trackers["Sprints"]
    assert sorted(Artifact.objects.filter(tracker=sprints).values_list("title", flat=True)) == [
        "Sprint 1", "Sprint 2", "Sprint 3",
    ]  # fmt: skip
    eleven = Artifact.objects.get(jira_record__jira_issue_key="DEMO-11")
    eleven_links = eleven.current_values[str(Field.objects.get(tracker=eleven.tracker, name="links").pk)]
    in_sprints = sorted(
        Artifact.objects.get(pk=link["artifact"]).title
        for link in eleven_links
        if link["type"] == "in sprint"
    )
    assert in_sprints == ["Sprint 1", "Sprint 2"]

    # Work logs: all 25 (more than a search embeds), their total, carol's name.
    entries = TimeEntry.objects.filter(artifact=blocker)
    worklogs = data.get_issue("DEMO-12").worklogs
    assert entries.count() == 25 and sum(e.seconds for e in entries) == sum(w.seconds for w in worklogs)
    assert jira_import.counts["time_entries"] == 25 and jira_import.counts["sprints"] == 3

    # Authors keep their names: carol's changes read "Carol Diaz (Jira)".
    names = {
        entry.author_name for a in Artifact.objects.filter(tracker__in=issue_trackers) for entry in history(a)
    }
    assert "Carol Diaz (Jira)" in names and "Jira importer" not in " ".join(names)

    # What each entry, comment, work log and file became is kept by its Jira id (for updates from Jira),
    # with when Jira last changed it: bob's comment was edited 20 minutes after he wrote it.
    items = JiraImportedItem.objects.filter(artifact=story)
    jira_story = data.get_issue("DEMO-2")
    assert {i.jira_id for i in items if i.kind == "comment"} == {str(c.id) for c in jira_story.comments}
    assert {i.jira_id for i in items if i.kind == "changelog"} == {str(h.id) for h in jira_story.histories}
    assert {i.jira_id for i in items if i.kind == "attachment"} == {str(a.id) for a in jira_story.attachments}
    edited = [i for i in items if i.kind == "comment" and i.jira_updated > i.changeset.submitted_on]
    assert len(edited) == 1 and (edited[0].jira_updated - edited[0].changeset.submitted_on).seconds == 20 * 60
    assert JiraImportedItem.objects.filter(artifact=blocker, kind="worklog").count() == 25

    # The comment an app wrote in ADF only arrives as HTML.
    fourteen = Artifact.objects.get(jira_record__jira_issue_key="DEMO-14")
    adf_comment = next(c for c in changesets_of(fourteen) if "Findings" in c.comment)
    assert "<h2>Findings</h2>" in adf_comment.comment and "<li>slow query</li>" in adf_comment.comment


def test_the_not_imported_list_is_exactly_the_fields_with_values_left_out(
    jira, public_project, alice, mailoutbox
) -> None:
    jira_import = run_whole_import(jira, public_project, alice, "multi")
    carried = sorted(
        {
            h.key
            for h in jira.data.headers()
            if h.project_key == "DEMO" and jira.data.get_issue(h.key).current.get("customfield_10028")
        }
    )
    assert len(carried) == 2
    # It should list the app's field, the only one with values that has no equivalent, once per
    # tracker that had it, with the count; and the email must not say every field was imported.
    assert jira_import.skipped == [
        {"field": "Team", "reason": "its type (com.example.teams:team) has no equivalent here", "issues": 2}
    ]
    body = mailoutbox[-1].body
    assert "Team: its type (com.example.teams:team) has no equivalent here (2 issues)" in body
    assert "Every field was imported" not in body
    # Without those values there is nothing left out, and the email says so.
    for key in carried:
        jira.data.edit(key).change("alice", {"Team": None})
    mailoutbox.clear()
    again = services.create_import(
        project=public_project,
        requested_by=alice,
        credentials=credentials_for(jira),
        jira_project_key="DEMO",
        issue_type_ids=["10003"],
        layout="mono",
        trackers={"mono": services.TrackerNames("Stories again", "stories-again")},
        sprints_tracker=services.TrackerNames("Sprints again", "sprints-again"),
    )
    again = services.run_import(again)
    assert again.status == "done" and again.skipped == []
    assert "Every field was imported." in mailoutbox[-1].body


def test_a_second_import_from_the_same_site_links_into_the_first(jira, public_project, alice) -> None:
    bugs = services.run_import(
        services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for(jira),
            jira_project_key="DEMO",
            issue_type_id="10002",
            tracker_name="Jira bugs",
            tracker_shortname="jbug",
        )
    )
    assert bugs.status == "done"
    stories = services.run_import(
        services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for(jira),
            jira_project_key="DEMO",
            issue_type_ids=["10003"],
            layout="multi",
        )
    )
    assert stories.status == "done", stories.error
    story = Artifact.objects.get(tracker=stories.tracker, jira_record__jira_issue_key="DEMO-2")
    links = story.current_values[str(Field.objects.get(tracker=stories.tracker, name="links").pk)]
    bug = Artifact.objects.get(tracker=bugs.tracker, jira_record__jira_issue_key="DEMO-3")
    # DEMO-3 came with the first import: the link points at its artifact, not at Jira.
    assert {"artifact": bug.pk, "type": "is blocked by"} in links
    # The epic was imported by neither: it stays a key and a URL.
    assert {"key": "DEMO-1", "url": f"{jira.url}/browse/DEMO-1", "type": "child of"} in links
    assert ChangesetValue.objects.filter(changeset__artifact=story, field__name="links").exists()
