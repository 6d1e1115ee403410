"""Project pages: who sees which project, the tracker list with counts, and the members page."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tracker.models import Membership, Project, Tracker, User


def test_anonymous_visitors_are_sent_to_the_login_page(db: None, client: Client) -> None:
    response = client.get(reverse("tracker:project-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tracker:login"))


def test_logging_in_through_the_form_leads_to_the_project_list(
    client: Client, bob: User, public_project: Project
) -> None:
    page = client.get(reverse("tracker:login"))
    assert b'name="username"' in page.content and b'name="password"' in page.content
    response = client.post(reverse("tracker:login"), {"username": "bob", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("tracker:project-list")
    assert "Demo" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client: Client, bob: User) -> None:
    response = client.post(reverse("tracker:login"), {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_a_user_sees_public_projects_and_private_ones_they_belong_to(
    client_as, public_project: Project, private_project: Project, bob: User, dave: User
) -> None:
    # It should list both projects for bob, a member of the private one, with their badges.
    page = client_as(bob).get(reverse("tracker:project-list")).content.decode()
    assert "Demo" in page and "Secret" in page
    assert "Public" in page and "Private" in page
    # It should hide the private project from dave, who belongs to nothing.
    page = client_as(dave).get(reverse("tracker:project-list")).content.decode()
    assert "Demo" in page
    assert "Secret" not in page


def test_a_private_project_does_not_exist_for_a_non_member(
    client_as, private_project: Project, tasks: Tracker, dave: User
) -> None:
    response = client_as(dave).get(reverse("tracker:project-detail", args=["secret"]))
    assert response.status_code == 404


def test_the_project_page_lists_trackers_with_their_artifact_counts_and_the_members(
    client_as, bugs: Tracker, crash, carol: User
) -> None:
    page = client_as(carol).get(reverse("tracker:project-detail", args=["demo"])).content.decode()
    assert reverse("tracker:tracker-detail", args=[bugs.pk]) in page
    assert '<td class="num">1</td>' in page
    for name in ("Alice (alice)", "Bob (bob)", "Carol (carol)"):
        assert name in page
    # Only administrators get the links to create trackers and manage members.
    assert reverse("tracker:tracker-create", args=["demo"]) not in page


def test_unknown_project_is_a_404(client_as, bob: User) -> None:
    assert client_as(bob).get("/projects/nope/").status_code == 404


# Members ----------------------------------------------------------------------------------------


def test_an_admin_adds_a_member_by_username(
    client_as, public_project: Project, alice: User, dave: User
) -> None:
    url = reverse("tracker:project-members", args=["demo"])
    response = client_as(alice).post(url, {"identifier": "dave", "role": "member"}, follow=True)
    assert "Dave (dave) is now a member of Demo." in response.content.decode()
    assert Membership.objects.get(project=public_project, user=dave).role == "member"


def test_adding_an_unknown_user_shows_the_error_next_to_the_field(
    client_as, public_project: Project, alice: User
) -> None:
    url = reverse("tracker:project-members", args=["demo"])
    response = client_as(alice).post(url, {"identifier": "nobody", "role": "member"})
    assert response.status_code == 200
    assert "No active user is named &#x27;nobody&#x27;." in response.content.decode()


def test_an_admin_changes_a_role(client_as, public_project: Project, alice: User, bob: User) -> None:
    url = reverse("tracker:project-member-role", args=["demo", bob.pk])
    client_as(alice).post(url, {"role": "admin"})
    assert Membership.objects.get(project=public_project, user=bob).role == "admin"


def test_the_last_admin_can_neither_leave_nor_be_demoted(
    client_as, public_project: Project, alice: User, bob: User
) -> None:
    admin = client_as(alice)
    response = admin.post(reverse("tracker:project-member-remove", args=["demo", alice.pk]), follow=True)
    assert "is the last administrator of this project" in response.content.decode()
    response = admin.post(
        reverse("tracker:project-member-role", args=["demo", alice.pk]), {"role": "member"}, follow=True
    )
    assert "is the last administrator of this project" in response.content.decode()
    assert Membership.objects.get(project=public_project, user=alice).role == "admin"

    # Once bob is an administrator too, alice may go.
    admin.post(reverse("tracker:project-member-role", args=["demo", bob.pk]), {"role": "admin"})
    admin.post(reverse("tracker:project-member-remove", args=["demo", alice.pk]))
    assert not Membership.objects.filter(project=public_project, user=alice).exists()


def test_members_page_is_for_admins_only(client_as, public_project: Project, bob: User, dave: User) -> None:
    url = reverse("tracker:project-members", args=["demo"])
    assert client_as(bob).get(url).status_code == 403
    assert client_as(bob).post(url, {"identifier": "dave", "role": "admin"}).status_code == 403
    assert (
        client_as(bob).post(reverse("tracker:project-member-remove", args=["demo", bob.pk])).status_code
        == 403
    )
    assert not Membership.objects.filter(project=public_project, user=dave).exists()


def test_members_page_of_a_private_project_is_a_404_for_outsiders(
    client_as, private_project: Project, dave: User
) -> None:
    assert client_as(dave).get(reverse("tracker:project-members", args=["secret"])).status_code == 404


def test_a_member_is_added_by_username_whatever_its_case(
    client_as, public_project: Project, alice: User, dave: User
) -> None:
    url = reverse("tracker:project-members", args=["demo"])
    response = client_as(alice).post(url, {"identifier": "Dave", "role": "member"}, follow=True)

    assert "Dave (dave) is now a member of Demo." in response.content.decode()
    assert Membership.objects.filter(project=public_project, user=dave).exists()


def test_removing_a_member_asks_first(client_as, public_project: Project, alice: User, bob: User) -> None:
    admin = client_as(alice)
    url = reverse("tracker:project-member-remove", args=["demo", bob.pk])
    members_page = admin.get(reverse("tracker:project-members", args=["demo"])).content.decode()
    # The list's "Remove" is a link to a question, not a button that removes at once.
    assert f'href="{url}">Remove</a>' in members_page

    question = admin.get(url)
    assert question.status_code == 200
    page = question.content.decode()
    assert "Remove Bob (bob) from Demo?" in page
    assert f'action="{url}"' in page and 'name="csrfmiddlewaretoken"' in page
    assert Membership.objects.filter(project=public_project, user=bob).exists()

    admin.post(url)
    assert not Membership.objects.filter(project=public_project, user=bob).exists()


def test_only_an_admin_sees_the_removal_question(
    client_as, public_project: Project, bob: User, carol: User
) -> None:
    url = reverse("tracker:project-member-remove", args=["demo", carol.pk])
    assert client_as(bob).get(url).status_code == 403


# Creating projects ------------------------------------------------------------------------------


def test_a_user_creates_a_project_and_becomes_its_administrator(client_as, dave: User) -> None:
    client = client_as(dave)
    assert reverse("tracker:project-create") in client.get(reverse("tracker:project-list")).content.decode()

    response = client.post(
        reverse("tracker:project-create"),
        {"name": "Website", "shortname": "Web-Site", "description": "The public site", "is_public": "on"},
        follow=True,
    )

    project = Project.objects.get(shortname="web-site")
    assert response.redirect_chain == [(reverse("tracker:project-detail", args=["web-site"]), 302)]
    assert "Project Website created; you are its administrator." in response.content.decode()
    assert project.is_public and project.description == "The public site"
    assert Membership.objects.get(project=project, user=dave).role == Membership.Role.ADMIN


def test_a_taken_or_reserved_short_name_is_a_form_error(
    client_as, public_project: Project, dave: User
) -> None:
    client = client_as(dave)
    taken = client.post(reverse("tracker:project-create"), {"name": "Other demo", "shortname": "DEMO"})
    reserved = client.post(reverse("tracker:project-create"), {"name": "New", "shortname": "new"})

    assert taken.status_code == reserved.status_code == 200
    assert "A project with this short name exists." in taken.content.decode()
    assert "This short name is reserved; choose another." in reserved.content.decode()
    assert Project.objects.count() == 1


def test_with_project_creators_staff_only_site_admins_create_projects(
    client_as, settings, dave: User, alice: User
) -> None:
    settings.PROJECT_CREATORS = "staff"
    client = client_as(dave)

    assert (
        reverse("tracker:project-create") not in client.get(reverse("tracker:project-list")).content.decode()
    )
    assert client.get(reverse("tracker:project-create")).status_code == 403
    assert client.post(reverse("tracker:project-create"), {"name": "X", "shortname": "x"}).status_code == 403
    User.objects.filter(pk=alice.pk).update(is_staff=True)
    alice.refresh_from_db()
    assert client_as(alice).get(reverse("tracker:project-create")).status_code == 200
    assert not Project.objects.filter(shortname="x").exists()
