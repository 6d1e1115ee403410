"""/api/projects/: who sees which project, creating one, and managing its members."""

from __future__ import annotations

from tests.conftest import client_for
from tracker.models import Membership, Project, User


def test_projects_list_hides_private_projects_from_non_members(
    public_project: Project, private_project: Project, bob: User, carol: User
) -> None:
    bobs = client_for(bob).get("/api/projects/").json()
    carols = client_for(carol).get("/api/projects/").json()

    assert [p["shortname"] for p in bobs["results"]] == ["demo", "secret"]
    assert [p["shortname"] for p in carols["results"]] == ["demo"]
    assert carols["count"] == 1


def test_project_shows_my_role(public_project: Project, alice: User, bob: User, dave: User) -> None:
    url = f"/api/projects/{public_project.pk}/"

    assert client_for(alice).get(url).json()["role"] == "admin"
    assert client_for(bob).get(url).json()["role"] == "member"
    # It should still show a public project to someone who is not a member.
    response = client_for(dave).get(url)
    assert response.status_code == 200
    assert response.json()["role"] is None


def test_private_project_is_404_for_non_members(private_project: Project, carol: User) -> None:
    response = client_for(carol).get(f"/api/projects/{private_project.pk}/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_anyone_creates_a_project_and_becomes_its_admin(dave: User) -> None:
    response = client_for(dave).post(
        "/api/projects/", {"shortname": "garden", "name": "Garden", "is_public": False}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "admin"
    assert body["is_public"] is False
    project = Project.objects.get(shortname="garden")
    assert Membership.objects.get(project=project).user == dave


def test_project_shortname_is_a_unique_slug(public_project: Project, dave: User) -> None:
    taken = client_for(dave).post("/api/projects/", {"shortname": "demo", "name": "Other"}, format="json")
    not_a_slug = client_for(dave).post(
        "/api/projects/", {"shortname": "my project!", "name": "Other"}, format="json"
    )

    assert taken.status_code == 400
    assert "exists" in taken.json()["shortname"][0]
    assert not_a_slug.status_code == 400
    assert "shortname" in not_a_slug.json()
    assert Project.objects.count() == 1


def test_members_are_listed_to_readers(public_project: Project, dave: User) -> None:
    response = client_for(dave).get(f"/api/projects/{public_project.pk}/members/")

    assert response.status_code == 200
    assert [(m["user"]["username"], m["role"]) for m in response.json()["results"]] == [
        ("alice", "admin"),
        ("bob", "member"),
        ("carol", "member"),
    ]
    # It should not leak the members' emails to another user.
    assert {m["user"]["email"] for m in response.json()["results"]} == {None}


def test_admin_adds_a_member_by_username_and_changes_their_role(
    private_project: Project, alice: User, dave: User
) -> None:
    url = f"/api/projects/{private_project.pk}/members/"

    added = client_for(alice).post(url, {"user": "dave"}, format="json")
    promoted = client_for(alice).post(url, {"user": "dave", "role": "admin"}, format="json")

    assert added.status_code == 201
    assert added.json()["role"] == "member"
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "admin"
    # It should let the new member read the private project at once.
    assert client_for(dave).get(f"/api/projects/{private_project.pk}/").status_code == 200


def test_members_cannot_manage_members(private_project: Project, bob: User, dave: User) -> None:
    response = client_for(bob).post(
        f"/api/projects/{private_project.pk}/members/", {"user": "dave"}, format="json"
    )

    assert response.status_code == 403
    assert not Membership.objects.filter(project=private_project, user=dave).exists()


def test_non_members_get_404_on_a_private_projects_members(private_project: Project, carol: User) -> None:
    url = f"/api/projects/{private_project.pk}/members/"

    assert client_for(carol).get(url).status_code == 404
    assert client_for(carol).post(url, {"user": "carol", "role": "admin"}, format="json").status_code == 404
    assert not Membership.objects.filter(project=private_project, user=carol).exists()


def test_unknown_user_and_last_admin_are_refused(private_project: Project, alice: User) -> None:
    url = f"/api/projects/{private_project.pk}/members/"

    unknown = client_for(alice).post(url, {"user": "nobody"}, format="json")
    demote_last_admin = client_for(alice).post(url, {"user": "alice", "role": "member"}, format="json")
    bad_role = client_for(alice).post(url, {"user": "bob", "role": "owner"}, format="json")

    assert unknown.status_code == 400
    assert "No active user" in unknown.json()["user"][0]
    assert demote_last_admin.status_code == 400
    assert "last administrator" in demote_last_admin.json()["role"][0]
    assert bad_role.status_code == 400
    assert "role" in bad_role.json()
    assert Membership.objects.get(project=private_project, user=alice).role == "admin"


def test_with_project_creators_staff_the_api_refuses_other_accounts(settings, dave: User) -> None:
    settings.PROJECT_CREATORS = "staff"

    response = client_for(dave).post("/api/projects/", {"shortname": "x", "name": "X"}, format="json")

    assert response.status_code == 403
    assert "PROJECT_CREATORS=staff" in response.json()["detail"]
    assert not Project.objects.filter(shortname="x").exists()


def test_the_api_refuses_a_reserved_shortname(dave: User) -> None:
    response = client_for(dave).post("/api/projects/", {"shortname": "new", "name": "New"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"shortname": ["This shortname is reserved; choose another."]}
