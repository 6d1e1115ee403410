"""/api/users/: everyone signed in sees who exists; emails stay private; only site admins create users."""

from __future__ import annotations

from tests.conftest import PASSWORD, client_for
from tracker.models import User


def test_users_are_listed_without_other_peoples_emails(alice: User, bob: User) -> None:
    response = client_for(alice).get("/api/users/")

    assert response.status_code == 200
    by_name = {user["username"]: user for user in response.json()["results"]}
    assert set(by_name) == {"alice", "bob"}
    assert by_name["bob"] == {"id": bob.pk, "username": "bob", "name": "Bob", "email": None}
    # It should show me my own email.
    assert by_name["alice"]["email"] == "alice@example.com"


def test_site_admins_see_every_email(admin_user: User, bob: User) -> None:
    response = client_for(admin_user).get("/api/users/")

    emails = {user["username"]: user["email"] for user in response.json()["results"]}
    assert emails["bob"] == "bob@example.com"


def test_inactive_users_are_not_listed(alice: User, bob: User) -> None:
    bob.is_active = False
    bob.save()

    response = client_for(alice).get("/api/users/")

    assert [user["username"] for user in response.json()["results"]] == ["alice"]


def test_site_admin_creates_a_user_who_can_log_in(admin_user: User) -> None:
    response = client_for(admin_user).post(
        "/api/users/",
        {"username": "erin", "email": "erin@example.com", "password": PASSWORD, "first_name": "Erin"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["username"] == "erin"
    assert response.json()["name"] == "Erin"
    assert "password" not in response.json()
    assert User.objects.get(username="erin").check_password(PASSWORD)


def test_email_must_be_unique_whatever_its_case(admin_user: User, bob: User) -> None:
    response = client_for(admin_user).post(
        "/api/users/",
        {"username": "bobby", "email": "BOB@Example.com", "password": PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert "already exists" in response.json()["email"][0]
    assert not User.objects.filter(username="bobby").exists()


def test_taken_username_and_weak_password_are_refused(admin_user: User, bob: User) -> None:
    response = client_for(admin_user).post(
        "/api/users/", {"username": "bob", "email": "new@example.com", "password": "123"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"username"}

    response = client_for(admin_user).post(
        "/api/users/", {"username": "newbie", "email": "new@example.com", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert "too short" in " ".join(response.json()["password"])


def test_ordinary_users_cannot_create_users(alice: User) -> None:
    response = client_for(alice).post(
        "/api/users/", {"username": "mallory", "email": "m@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()
