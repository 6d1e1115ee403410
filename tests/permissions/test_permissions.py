"""Who reads what: the querysets every view and API endpoint starts from."""

from __future__ import annotations

from tracker import permissions
from tracker.models import JiraImport, Project, Tracker, User


def test_private_projects_are_read_by_their_members_and_site_admins_only(
    public_project: Project, private_project: Project, bob: User, carol: User, dave: User, admin_user: User
) -> None:
    assert set(permissions.readable_projects(bob)) == {public_project, private_project}
    assert set(permissions.readable_projects(carol)) == {public_project}
    assert set(permissions.readable_projects(dave)) == {public_project}
    assert set(permissions.readable_projects(admin_user)) == {public_project, private_project}
    assert permissions.can_write_project(carol, public_project)
    assert not permissions.can_write_project(dave, public_project)
    assert not permissions.can_read_project(dave, private_project)


def test_a_tracker_still_being_imported_is_hidden_until_the_import_ends(
    public_project: Project, bugs: Tracker, alice: User, carol: User
) -> None:
    half_built = Tracker.objects.create(project=public_project, name="From Jira", shortname="jira")
    jira_import = JiraImport.objects.create(
        project=public_project,
        requested_by=alice,
        jira_url="https://jira.example.com",
        jira_project_key="PROJ",
        issue_type_id="1",
        issue_type_name="Bug",
        tracker_name="From Jira",
        tracker_shortname="jira",
        status=JiraImport.Status.RUNNING,
        tracker=half_built,
    )
    # It should be invisible to everyone, its admin included, while the import runs.
    for user in (alice, carol):
        assert list(permissions.readable_trackers(user)) == [bugs]
    assert list(permissions.visible_trackers(public_project)) == [bugs]

    jira_import.status = JiraImport.Status.DONE
    jira_import.save()
    assert set(permissions.readable_trackers(carol)) == {bugs, half_built}


def test_a_link_into_another_private_project_is_not_named(
    public_project: Project, bugs: Tracker, tasks: Tracker, alice: User
) -> None:
    from tests.support.world import typed_tracker
    from tracker.services.artifacts import create_artifact
    from tracker.services.history import artifact_view, history

    secret = create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact
    neighbour = create_artifact(bugs, author=alice, values={"title": "Public bug"}).artifact
    linked = typed_tracker(public_project, "links", shortname="linked")
    artifact = create_artifact(
        linked,
        author=alice,
        values={"title": "Public", "links": [{"artifact": secret.pk, "type": "blocks"}, neighbour.pk]},
    ).artifact

    # Readers of this public artifact may not read the private project: its reference stays unsaid.
    shown = {f.name: text for f, _, text, _ in artifact_view(artifact).current()}
    assert shown["links"] == f"blocks an artifact of another project, {neighbour.reference}"
    [entry] = history(artifact)
    assert "task #" not in {c.field.name: c.new_text for c in entry.changes}["links"]
