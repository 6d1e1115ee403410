"""Sprints in both forms Jira gives them, the agile API refusing, ADF bodies, the whole-project CLI."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL
from tests.support.jira import credentials_for
from tracker.jira_import import adf, services
from tracker.jira_import.sprints import parse_sprint
from tracker.models import Artifact, JiraImport, Tracker

SERVER_SPRINT = (
    "com.atlassian.greenhopper.service.sprint.Sprint@658a6b7d[id=318,rapidViewId=174,state=CLOSED,"
    "name=GSC Sprint 30,startDate=2018-05-01T09:24:47.212-07:00,endDate=2018-05-15T09:00:00.000-07:00,"
    "completeDate=2018-05-14T15:55:48.913-07:00,sequence=318,"
    "goal=Define Scope for Accordion, Complete Icon Link,]"
)


def test_a_server_sprint_string_is_read_whole_even_with_commas_in_its_goal() -> None:
    sprint = parse_sprint(SERVER_SPRINT)
    assert sprint is not None
    assert (sprint.id, sprint.name, sprint.state, sprint.board) == ("318", "GSC Sprint 30", "closed", "174")
    assert sprint.goal == "Define Scope for Accordion, Complete Icon Link,"
    assert sprint.start == "2018-05-01T16:24:47.212000+00:00"
    future = parse_sprint(
        SERVER_SPRINT.replace("startDate=2018-05-01T09:24:47.212-07:00", "startDate=<null>")
    )
    assert future is not None and future.start is None
    assert parse_sprint("not a sprint") is None and parse_sprint({"id": 1}) is None


def test_atlassian_document_format_becomes_sanitized_html() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Plan"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "See "},
                    {
                        "type": "text",
                        "text": "the spec",
                        "marks": [{"type": "link", "attrs": {"href": "https://example.com/s"}}],
                    },
                    {"type": "text", "text": " with "},
                    {"type": "mention", "attrs": {"id": "5b10", "text": "@Carol Diaz"}},
                    {"type": "text", "text": " <script>alert(1)</script>", "marks": [{"type": "strong"}]},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}],
                    }
                ],
            },
            {
                "type": "codeBlock",
                "attrs": {"language": "python"},
                "content": [{"type": "text", "text": "x = 1 < 2"}],
            },
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {
                                "type": "tableHeader",
                                "content": [
                                    {"type": "paragraph", "content": [{"type": "text", "text": "Step"}]}
                                ],
                            }
                        ],
                    }
                ],
            },
            {
                "type": "paragraph",
                "content": [
                    {
                        "type": "text",
                        "text": "bad",
                        "marks": [{"type": "link", "attrs": {"href": "javascript:alert(1)"}}],
                    }
                ],
            },
        ],
    }
    html = adf.to_html(document)
    assert "<h3>Plan</h3>" in html and "@Carol Diaz" in html
    assert 'href="https://example.com/s"' in html
    assert "<li><p>one</p></li>" in html and "<pre><code>x = 1 &lt; 2</code></pre>" in html
    assert "<th><p>Step</p></th>" in html
    assert "<script>" not in html and "javascript:" not in html
    assert adf.to_html("plain wiki") == ""


def test_sprints_come_from_the_issues_when_the_agile_api_refuses(cloud, public_project, alice) -> None:
    cloud.agile_status = 403
    jira_import = services.run_import(
        services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for(cloud),
            jira_project_key="DEMO",
            issue_type_ids=["10003", "10001"],
            layout="mono",
        )
    )
    assert jira_import.status == "done", jira_import.error
    sprints = Tracker.objects.get(project=public_project, name="Sprints")
    # The two the issues name; Sprint 3 (no issue) only the board knows: the report says it was missed.
    assert sorted(Artifact.objects.filter(tracker=sprints).values_list("title", flat=True)) == [
        "Sprint 1",
        "Sprint 2",
    ]
    assert any("agile API" in note and "403" in note for note in jira_import.notes)
    assert jira_import.skipped == [
        {"field": "Team", "reason": "its type (com.example.teams:team) has no equivalent here", "issues": 2}
    ]


def test_the_command_imports_every_issue_type_into_one_tracker(
    server, public_project, alice, monkeypatch
) -> None:
    monkeypatch.delenv("JIRA_USERNAME", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", "fake-server-pat-NjM0MjE5ODc")
    out, err = StringIO(), StringIO()
    call_command(
        "import_jira", "--url", server.url, "--project", "DEMO", "--into", "demo", "--all-issue-types",
        "--mono-tracker", stdout=out, stderr=err,
    )  # fmt: skip
    jira_import = JiraImport.objects.get()
    assert jira_import.layout == "mono" and len(jira_import.issue_types) == 5
    assert Artifact.objects.filter(tracker=jira_import.tracker).count() == 25
    assert f"Import #{jira_import.pk}" in out.getvalue() and "Not imported: Team" in out.getvalue()
    assert "25/25" in err.getvalue()  # rich's bar, across every issue type


def test_the_command_with_several_issue_types_makes_a_tracker_each(
    cloud, public_project, alice, monkeypatch
) -> None:
    monkeypatch.setenv("JIRA_USERNAME", CLOUD_EMAIL)
    monkeypatch.setenv("JIRA_TOKEN", CLOUD_API_TOKEN)
    call_command(
        "import_jira", "--url", cloud.url, "--project", "DEMO", "--into", "demo",
        "--issue-type", "Bug", "--issue-type", "Sub-task", stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    names = set(Tracker.objects.filter(project=public_project).values_list("name", flat=True))
    assert names == {"Bug", "Sub-task"}  # neither has sprints: no Sprints tracker
