"""Step 3 of the wizard for a whole project: several issue types, the layout, prefilled names."""

from __future__ import annotations

from django.urls import reverse

from tests.support.fake_jira import FakeJiraServer
from tests.support.jira import login_for
from tests.support.jira_wizard import Wizard
from tracker.jira_import import services
from tracker.models import Artifact, JiraImport, Project, Tracker, User

BUG, STORY, SUBTASK = "10002", "10003", "10005"


def whole_project_form(wizard: Wizard, **changes: object) -> dict[str, object]:
    """What the page offers, prefilled: every name field as the page shows it."""
    page = wizard.get("issue-type")
    form = page.context["whole"]
    data: dict[str, object] = {
        name: field.initial for name, field in form.fields.items() if name.startswith(("name_", "short_"))
    }
    data.update({"all_issue_types": "on", "layout": "multi"})
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_several_issue_types_become_one_import_with_a_tracker_each(
    wizard: Wizard, server: FakeJiraServer, alice: User, public_project: Project, redis_clean
) -> None:
    wizard.connect(login_for(server))
    wizard.choose_project("DEMO")
    page = wizard.get("issue-type").content.decode()
    # The names are prefilled with Jira's issue type names, all reserved while it runs.
    assert 'value="Bug"' in page and 'value="Sub-task"' in page and "All issue types" in page

    data = whole_project_form(wizard, all_issue_types=None, issue_types=[BUG, STORY, SUBTASK])
    data["name_10003"] = "User stories"
    response = wizard.post("issue-type", data)

    jira_import = JiraImport.objects.get()
    assert response["Location"] == reverse("tracker:jira-import-detail", args=[jira_import.pk])
    planned = {t.name: (t.role, t.issue_type_ids) for t in jira_import.planned_trackers.all()}
    assert planned == {
        "Bug": ("issues", [BUG]),
        "User stories": ("issues", [STORY]),
        "Sub-task": ("issues", [SUBTASK]),
        "Sprints": ("sprints", []),
    }
    # One record for the whole run, and its trackers hidden until it ends.
    jira_import = services.run_import(jira_import)
    assert jira_import.status == "done", jira_import.error
    trackers = {t.name: t for t in Tracker.objects.filter(project=public_project)}
    assert set(trackers) == {"Bug", "User stories", "Sub-task", "Sprints"}
    assert Artifact.objects.filter(tracker=trackers["Sub-task"]).count() == 2
    detail = wizard.client.get(reverse("tracker:jira-import-detail", args=[jira_import.pk])).content.decode()
    assert "User stories" in detail and "Sprints" in detail


def test_the_mono_tracker_layout_makes_one_tracker_with_an_issue_type_field(
    wizard: Wizard, server: FakeJiraServer, public_project: Project, redis_clean
) -> None:
    wizard.connect(login_for(server))
    wizard.choose_project("DEMO")
    wizard.post("issue-type", whole_project_form(wizard, layout="mono"))
    jira_import = services.run_import(JiraImport.objects.get())
    assert jira_import.status == "done", jira_import.error
    tracker = jira_import.tracker
    assert tracker.name == "Demo Project" and Artifact.objects.filter(tracker=tracker).count() == 25
    issue_type = tracker.fields.get(name="issue_type")
    assert sorted(o.label for o in issue_type.options.all()) == ["Bug", "Epic", "Story", "Sub-task", "Task"]


def test_choosing_no_issue_type_is_refused_on_the_form(
    wizard: Wizard, server: FakeJiraServer, redis_clean
) -> None:
    wizard.connect(login_for(server))
    wizard.choose_project("DEMO")
    response = wizard.post("issue-type", whole_project_form(wizard, all_issue_types=None))
    assert response.status_code == 200
    assert "Choose at least one issue type" in response.content.decode()
    assert not JiraImport.objects.exists()


def test_issue_types_named_alike_are_offered_different_tracker_names(public_project: Project) -> None:
    """ "Bug" and "bug", or two names slugify() empties ("バグ", "错误": both "jira"), were offered the same
    names, which the form then refused: the user had to invent them."""
    Tracker.objects.create(project=public_project, name="Taken", shortname="demo")
    trackers, sprints = services.suggested_trackers(
        public_project,
        jira_project_name="Demo",
        jira_project_key="DEMO",
        issue_types=[("1", "Bug"), ("2", "bug"), ("3", "バグ"), ("4", "错误"), ("5", "Sprints")],
        layout="multi",
    )
    offered = [*trackers.values(), sprints]
    assert len({names.name.casefold() for names in offered}) == len(offered)
    assert len({names.shortname for names in offered}) == len(offered)
    assert "demo" not in {names.shortname for names in offered}  # taken in the project
    assert trackers["3"].name == "バグ" and trackers["1"].name == "Bug"


def test_only_the_trackers_to_be_made_need_names(
    wizard: Wizard, server: FakeJiraServer, public_project: Project, redis_clean
) -> None:
    """An issue type Jira names "" (its fields prefilled empty) blocked every import, even one without it."""
    wizard.connect(login_for(server))
    wizard.choose_project("DEMO")
    blank = {f"name_{STORY}": "", f"short_{STORY}": ""}
    response = wizard.post(
        "issue-type", whole_project_form(wizard, all_issue_types=None, issue_types=[STORY], **blank)
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not JiraImport.objects.exists()

    response = wizard.post(
        "issue-type", whole_project_form(wizard, all_issue_types=None, issue_types=[BUG], **blank)
    )
    assert response.status_code == 302
    assert {t.name for t in JiraImport.objects.get().planned_trackers.all()} == {"Bug", "Sprints"}
