"""/api/artifacts/: creating, reading, updating artifacts and reading their history."""

from __future__ import annotations

from tests.conftest import client_for
from tracker.models import Artifact, Changeset, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


def test_member_creates_an_artifact(bugs: Tracker, carol: User, bob: User) -> None:
    response = client_for(carol).post(
        "/api/artifacts/",
        {
            "tracker": bugs.pk,
            "values": {"title": "Crash on save", "status": "in progress", "assigned_to": "BOB@example.com"},
            "comment": "Seen twice",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["tracker"] == bugs.pk
    assert body["title"] == "Crash on save"
    assert body["submitted_by"] == "carol"
    # It should answer with labels and usernames, whatever the request used.
    assert body["values"]["status"] == "In progress"
    assert body["values"]["assigned_to"] == "bob"
    assert body["values"]["cc"] == []
    changeset = Changeset.objects.get(artifact_id=body["id"])
    assert changeset.is_creation and changeset.comment == "Seen twice"
    assert changeset.author == carol


def test_non_member_of_a_public_project_cannot_create(bugs: Tracker, dave: User) -> None:
    response = client_for(dave).post(
        "/api/artifacts/", {"tracker": bugs.pk, "values": {"title": "Drive-by"}}, format="json"
    )

    assert response.status_code == 403
    assert "members" in response.json()["detail"]
    assert not Artifact.objects.exists()


def test_private_tracker_looks_like_a_missing_one_to_non_members(tasks: Tracker, carol: User) -> None:
    hidden = client_for(carol).post(
        "/api/artifacts/", {"tracker": tasks.pk, "values": {"title": "Peek"}}, format="json"
    )
    missing = client_for(carol).post(
        "/api/artifacts/", {"tracker": tasks.pk + 1000, "values": {"title": "Peek"}}, format="json"
    )

    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json() == {"tracker": ["No tracker with this id."]}
    assert not Artifact.objects.exists()


def test_member_of_a_private_project_creates_there(tasks: Tracker, bob: User) -> None:
    response = client_for(bob).post(
        "/api/artifacts/", {"tracker": tasks.pk, "values": {"title": "Plan"}}, format="json"
    )

    assert response.status_code == 201
    assert Artifact.objects.get().tracker == tasks


def test_artifact_detail(bugs: Tracker, alice: User, bob: User, dave: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob", "alice"]}).artifact

    response = client_for(dave).get(f"/api/artifacts/{artifact.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == artifact.pk
    assert body["submitted_by"] == body["last_updated_by"] == "alice"
    assert sorted(body["values"]["cc"]) == ["alice", "bob"]
    assert body["values"]["status"] is None


def test_private_artifacts_are_404_for_non_members(tasks: Tracker, alice: User, carol: User) -> None:
    artifact = create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact
    client = client_for(carol)

    assert client.get(f"/api/artifacts/{artifact.pk}/").status_code == 404
    assert client.get(f"/api/artifacts/{artifact.pk}/changesets/").status_code == 404
    response = client.patch(f"/api/artifacts/{artifact.pk}/", {"comment": "hi"}, format="json")
    assert response.status_code == 404
    assert artifact.changesets.count() == 1


def test_member_updates_values_and_comments(bugs: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash", "status": "New"}).artifact

    response = client_for(bob).patch(
        f"/api/artifacts/{artifact.pk}/",
        {
            "values": {"status": "Done", "cc": ["alice@example.com"]},
            "comment": "**Fixed**",
            "comment_format": "markdown",
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["values"]["status"] == "Done"
    assert body["values"]["cc"] == ["alice"]
    assert body["last_updated_by"] == "bob"
    latest = artifact.changesets.order_by("-id").first()
    assert latest.comment_format == "markdown"
    assert latest.author == bob
    assert artifact.changesets.count() == 2


def test_non_member_of_a_public_project_cannot_update(bugs: Tracker, alice: User, dave: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash"}).artifact

    response = client_for(dave).patch(f"/api/artifacts/{artifact.pk}/", {"comment": "me too"}, format="json")

    assert response.status_code == 403
    assert artifact.changesets.count() == 1


def test_an_update_that_changes_nothing_is_refused(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Same"}).artifact

    response = client_for(alice).patch(
        f"/api/artifacts/{artifact.pk}/", {"values": {"title": "Same"}}, format="json"
    )

    assert response.status_code == 400
    assert "Nothing to save" in response.json()["non_field_errors"][0]


def test_changesets_show_each_change_old_and_new(bugs: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash", "status": "New"}).artifact
    update_artifact(
        artifact,
        author=bob,
        values={"status": "Done", "assigned_to": "alice"},
        comment="Fixed <script>alert(1)</script> [here](javascript:alert(2))",
        comment_format="markdown",
    )

    response = client_for(alice).get(f"/api/artifacts/{artifact.pk}/changesets/")

    assert response.status_code == 200
    created, fixed = response.json()["results"]
    assert created["is_creation"] is True
    assert created["author"] == "alice"
    assert {c["field"]: (c["old"], c["new"]) for c in created["changes"]} == {
        "title": (None, "Crash"),
        "status": (None, "New"),
    }
    assert fixed["author"] == "bob"
    assert fixed["is_creation"] is False
    assert {c["field"]: (c["old"], c["new"]) for c in fixed["changes"]} == {
        "status": ("New", "Done"),
        "assigned_to": (None, "alice"),
    }
    # It should keep the comment as written and give sanitized HTML next to it.
    assert "<script>" in fixed["comment"]
    assert "<script>" not in fixed["comment_html"]
    assert "href" not in fixed["comment_html"]  # the javascript: link stays inert text


def test_values_read_from_the_api_can_be_sent_back_although_a_named_account_is_inactive(
    bugs: Tracker, alice: User, bob: User, carol: User
) -> None:
    # Imported artifacts name placeholder accounts (inactive) for Jira people with no account here;
    # a client that reads an artifact and sends its values back must not be refused for them.
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Old", "assigned_to": "bob", "cc": ["bob"]}
    ).artifact
    User.objects.filter(pk=bob.pk).update(is_active=False)
    client = client_for(alice)
    values = client.get(f"/api/artifacts/{artifact.pk}/").json()["values"]
    assert values["assigned_to"] == "bob"

    response = client.patch(
        f"/api/artifacts/{artifact.pk}/", {"values": {**values, "title": "New"}}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "New"
    assert body["values"]["assigned_to"] == "bob"
    assert body["values"]["cc"] == ["bob"]
    # It should still refuse to name an inactive account the artifact does not name already.
    other = create_artifact(bugs, author=alice, values={"title": "Other"}).artifact
    refused = client.patch(f"/api/artifacts/{other.pk}/", {"values": {"assigned_to": "bob"}}, format="json")
    assert refused.status_code == 400, refused.json()
    assert "assigned_to" in refused.json()["values"]
    # And adding carol beside the inactive bob works.
    added = client.patch(
        f"/api/artifacts/{artifact.pk}/", {"values": {"cc": ["bob", "carol"]}}, format="json"
    )
    assert added.status_code == 200
    assert added.json()["values"]["cc"] == ["bob", "carol"]
