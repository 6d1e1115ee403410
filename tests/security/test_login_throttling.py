"""Login throttling: after LOGIN_FAILURE_LIMIT failures a username, or an address, is locked out for the
cool-off, the right password included, on the web login, the admin's and the API's token login."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tracker.models import User

LIMIT = 5  # the default LOGIN_FAILURE_LIMIT


def web_login(client: Client, username: str, password: str, **extra: str):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def api_login(client: APIClient, username: str, password: str, **extra: str):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


def test_the_web_login_locks_a_username_out_and_refuses_the_right_password(bob: User) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        response = web_login(client, "bob", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    locked = web_login(client, "bob", "wrong")
    right = web_login(client, "bob", PASSWORD)

    for response in (locked, right):
        assert response.status_code == 429
        assert response["Retry-After"] == "900"
        assert "Too many failed logins" in response.content.decode()
        assert response["Content-Type"].startswith("text/html")
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still logged out


def test_the_api_login_gives_a_token_and_locks_out_in_json(bob: User) -> None:
    client = APIClient()
    ok = api_login(client, "bob", PASSWORD)
    assert ok.status_code == 200 and ok.json() == {"token": Token.objects.get(user=bob).key}

    for _ in range(LIMIT - 1):
        wrong = api_login(client, "bob", "wrong")
        assert wrong.status_code == 400
        assert wrong.json() == {"non_field_errors": ["Wrong username or password."]}
    locked = api_login(client, "bob", "wrong")
    right = api_login(client, "bob", PASSWORD)

    for response in (locked, right):
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"].startswith("Too many failed logins")


def test_one_address_trying_many_usernames_is_locked_out(alice: User, bob: User, carol: User) -> None:
    client = Client()
    for name in ["nobody1", "nobody2", "nobody3", "nobody4", "nobody5"]:
        web_login(client, name, "guess")

    # Carol never failed, but this address did: refused, right password or not.
    assert web_login(client, "carol", PASSWORD).status_code == 429
    # From another address carol logs in.
    assert web_login(Client(REMOTE_ADDR="198.51.100.7"), "carol", PASSWORD).status_code == 302


def test_failures_from_many_addresses_lock_the_username(bob: User) -> None:
    for index in range(LIMIT):
        web_login(Client(REMOTE_ADDR=f"203.0.113.{index + 1}"), "bob", "wrong")

    assert web_login(Client(REMOTE_ADDR="198.51.100.7"), "bob", PASSWORD).status_code == 429


def test_a_success_before_the_limit_resets_the_count(bob: User) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        web_login(client, "bob", "wrong")
    assert web_login(client, "bob", PASSWORD).status_code == 302
    client.post("/logout/")

    for _ in range(LIMIT - 1):
        web_login(client, "bob", "wrong")
    assert web_login(client, "bob", PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(bob: User) -> None:
    client = Client()
    for _ in range(LIMIT):
        web_login(client, "bob", "wrong")
    assert web_login(client, "bob", PASSWORD).status_code == 429

    # As if LOGIN_COOLOFF_MINUTES had passed since the last failure.
    AccessAttempt.objects.update(attempt_time="2000-01-01T00:00:00Z")

    assert web_login(client, "bob", PASSWORD).status_code == 302


def test_the_admin_login_counts_too(admin_user: User) -> None:
    client = Client()
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})

    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "127.0.0.1"),  # no trusted proxy: the header is the client's word only
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "10.9.9.9, 203.0.113.9", "203.0.113.9"),  # what the client wrote itself comes first
        (2, "203.0.113.9, 192.0.2.1", "203.0.113.9"),
        (2, "203.0.113.9", "127.0.0.1"),  # fewer hops than proxies: not through them all
    ],
)
def test_the_client_address_behind_trusted_proxies(
    settings, proxies: int, forwarded: str, expected: str
) -> None:
    from django.test import RequestFactory

    from tracker.login_throttling import client_address

    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().post("/login/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected


def test_behind_a_proxy_each_client_has_its_own_count(settings, bob: User) -> None:
    settings.TRUSTED_PROXIES = 1
    # Everything comes from the proxy's address; only X-Forwarded-For tells the clients apart.
    attacker = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    for name in ["nobody1", "nobody2", "nobody3", "nobody4", "nobody5"]:
        web_login(attacker, name, "guess")

    colleague = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert web_login(attacker, "bob", PASSWORD).status_code == 429
    assert web_login(colleague, "bob", PASSWORD).status_code == 302
