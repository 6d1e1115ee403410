"""Django's password validators (and ours: not mostly whitespace) on every path that sets a password."""

from __future__ import annotations

import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests.conftest import client_for
from tracker.models import User

WEAK = ["          ", "a         b", "12345678901", "password123", "short"]


@pytest.mark.parametrize("password", WEAK)
def test_the_api_refuses_a_weak_password(admin_user: User, password: str) -> None:
    response = client_for(admin_user).post(
        "/api/users/", {"username": "eve", "email": "eve@example.com", "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["password"]
    assert not User.objects.filter(username="eve").exists()


def test_ten_spaces_are_refused_with_a_message_that_says_so(admin_user: User) -> None:
    response = client_for(admin_user).post(
        "/api/users/", {"username": "eve", "email": "eve@example.com", "password": " " * 10}, format="json"
    )

    assert "too few characters other than spaces" in " ".join(response.json()["password"])


def test_the_api_accepts_a_good_password(admin_user: User) -> None:
    response = client_for(admin_user).post(
        "/api/users/",
        {"username": "eve", "email": "eve@example.com", "password": "violet-kettle-harbour-42"},
        format="json",
    )

    assert response.status_code == 201
    assert User.objects.get(username="eve").check_password("violet-kettle-harbour-42")


def test_the_admin_refuses_a_whitespace_password(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        "/admin/tracker/user/add/",
        {"username": "eve", "usable_password": "true", "password1": " " * 12, "password2": " " * 12},
    )

    assert response.status_code == 200
    assert "too few characters other than spaces" in response.content.decode()
    assert not User.objects.filter(username="eve").exists()


def test_the_admin_refuses_a_whitespace_password_change(admin_user: User, bob: User) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        f"/admin/tracker/user/{bob.pk}/password/",
        {"password1": " " * 12, "password2": " " * 12, "usable_password": "true"},
    )

    assert response.status_code == 200
    assert "too few characters other than spaces" in response.content.decode()


def test_createsuperuser_without_input_refuses_a_whitespace_password(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django's own command skips the validators with --noinput; the user manager does not.
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", " " * 12)

    with pytest.raises(CommandError, match="too few characters other than spaces"):
        call_command("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com")

    assert not User.objects.filter(username="boss").exists()


@pytest.mark.slow
def test_createsuperuser_interactive_cannot_bypass_the_validators(
    subprocess_env: dict[str, str], manage_py: list[str]
) -> None:
    # The operator answers "y" to "Bypass password validation and create user anyway?" (a blank
    # password Django refuses by itself; one letter and spaces it lets the operator bypass).
    script = "\n".join(
        [
            "import getpass, builtins",
            "getpass.getpass = lambda prompt='': 'a' + ' ' * 11",
            "answers = iter(['boss', 'boss@example.com', 'y'])",
            "builtins.input = lambda prompt='': next(answers)",
            "import sys, django; from django.core.management import execute_from_command_line",
            "sys.stdin.isatty = lambda: True",
            "execute_from_command_line(['manage.py', 'createsuperuser'])",
        ]
    )
    result = subprocess.run(
        [manage_py[0], "-c", script], env=subprocess_env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "too few characters other than spaces" in result.stderr
    assert not User.objects.filter(username="boss").exists()


def test_accounts_without_a_password_can_still_be_made(db: None) -> None:
    user = User.objects.create_user("importer", password=None)

    assert not user.has_usable_password()
