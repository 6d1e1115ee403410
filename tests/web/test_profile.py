"""The profile page: a user changes their name, email (once confirmed), password and preferences."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tests.support.smtp import SMTPServer, smtp_for
from tracker.models import User

NEW_PASSWORD = "a-new-and-long-passphrase-42"


@pytest.fixture(autouse=True)
def no_email_change_throttle() -> Iterator[None]:
    """The one-confirmation-a-minute throttle lives in the cache: each test starts without it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    yield from smtp_for(settings)


def profile_form(user: User, **changes: str) -> dict[str, str]:
    return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email, **changes}


def confirmation_link(smtp: SMTPServer, address: str) -> str:
    [email] = [item for item in smtp.received if item.rcpt_tos == [address]]
    match = re.search(r"https?://\S+(/account/email/confirm/\S+/)", email.part("text/plain"))
    assert match, email.part("text/plain")
    return match.group(1)


def test_the_header_links_to_the_profile_page_which_needs_a_login(client_as, bob: User) -> None:
    client = client_as(bob)
    page = client.get(reverse("tracker:project-list")).content.decode()
    assert f'href="{reverse("tracker:profile")}"' in page
    profile = client.get(reverse("tracker:profile")).content.decode()
    for label in ("First name", "Email address", "Old password", "Plain-text emails only"):
        assert label in profile
    # It should send a visitor who is not signed in to the login page.
    anonymous = Client().get(reverse("tracker:profile"))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("tracker:login"))


def test_a_user_changes_their_name_without_any_email(client_as, bob: User, smtp: SMTPServer) -> None:
    response = client_as(bob).post(
        reverse("tracker:profile"), profile_form(bob, first_name="Robert", last_name="Smith"), follow=True
    )
    assert "Name saved." in response.content.decode()
    assert "Robert Smith (bob)" in response.content.decode()
    bob.refresh_from_db()
    assert (bob.first_name, bob.last_name, bob.email) == ("Robert", "Smith", "bob@example.com")
    assert smtp.received == []


def test_a_new_email_is_used_only_once_confirmed(client_as, bob: User, smtp: SMTPServer) -> None:
    client = client_as(bob)
    response = client.post(
        reverse("tracker:profile"), profile_form(bob, email="Bob@New.example"), follow=True
    )
    assert "We have emailed a confirmation link to Bob@New.example" in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"  # not yet

    link = confirmation_link(smtp, "Bob@New.example")
    # Opening the link only asks (mail scanners open links on their own).
    assert "Use Bob@New.example?" in client.get(link).content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"

    response = client.post(link, follow=True)
    assert "Your email address is now Bob@New.example." in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "Bob@New.example"
    # It should refuse the same link a second time: the address it was sent for has changed.
    assert client.post(link).status_code == 404


def test_an_address_of_another_account_whatever_its_case_is_never_taken(
    client_as, bob: User, carol: User, smtp: SMTPServer
) -> None:
    client = client_as(bob)
    response = client.post(
        reverse("tracker:profile"), profile_form(bob, email="CAROL@example.com"), follow=True
    )
    # The page says what it says for any address: the form tells nobody who has an account.
    assert "We have emailed a confirmation link to CAROL@example.com" in response.content.decode()
    [note] = [item for item in smtp.received if item.rcpt_tos == ["CAROL@example.com"]]
    assert "another account already uses it" in note.part("text/plain")
    assert "/account/email/confirm/" not in note.part("text/plain")
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_an_address_taken_after_the_link_was_sent_gives_a_clear_error(
    client_as, bob: User, carol: User, smtp: SMTPServer
) -> None:
    client = client_as(bob)
    client.post(reverse("tracker:profile"), profile_form(bob, email="shared@example.com"))
    link = confirmation_link(smtp, "shared@example.com")
    User.objects.filter(pk=carol.pk).update(email="Shared@Example.com")

    response = client.post(link, follow=True)
    assert response.status_code == 200
    assert "shared@example.com is used by another account now" in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_a_link_works_only_for_its_own_account_and_only_as_signed(
    client_as, bob: User, carol: User, smtp: SMTPServer
) -> None:
    client_as(bob).post(reverse("tracker:profile"), profile_form(bob, email="bob2@example.com"))
    link = confirmation_link(smtp, "bob2@example.com")
    carol_client = client_as(carol)
    assert carol_client.get(link).status_code == 404
    assert carol_client.post(link).status_code == 404
    assert client_as(bob).get(link[:-3] + "xx/").status_code == 404
    carol.refresh_from_db()
    bob.refresh_from_db()
    assert (bob.email, carol.email) == ("bob@example.com", "carol@example.com")


def test_one_confirmation_email_a_minute(client_as, bob: User, smtp: SMTPServer) -> None:
    client = client_as(bob)
    client.post(reverse("tracker:profile"), profile_form(bob, email="one@example.com"))
    response = client.post(reverse("tracker:profile"), profile_form(bob, email="two@example.com"))
    assert response.status_code == 200
    assert "less than a minute ago" in response.content.decode()
    assert smtp.addresses() == ["one@example.com"]


def test_an_unreachable_mail_server_is_an_error_on_the_page_not_a_500(client_as, bob: User, settings) -> None:
    with socket.socket() as unused:  # a port nothing listens on: the connection is refused at once
        unused.bind(("127.0.0.1", 0))
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", unused.getsockname()[1]
        response = client_as(bob).post(reverse("tracker:profile"), profile_form(bob, email="new@example.com"))
    assert response.status_code == 200
    assert "The confirmation email could not be sent; your address is unchanged." in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_an_invalid_email_is_shown_next_to_the_field(client_as, bob: User) -> None:
    response = client_as(bob).post(reverse("tracker:profile"), profile_form(bob, email="not an address"))
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_a_user_changes_their_password_through_djangos_form_and_our_validators(client_as, bob: User) -> None:
    client = client_as(bob)
    url = reverse("tracker:password-change")
    wrong = client.post(
        url, {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    # Our own validator (tracker.passwords): ten spaces and a few letters are not a password.
    spaces = " " * 10 + "ab"
    weak = client.post(url, {"old_password": PASSWORD, "new_password1": spaces, "new_password2": spaces})
    assert "too few characters other than spaces" in weak.content.decode()
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)

    done = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password changed." in done.content.decode()
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)
    # This session stays signed in.
    assert client.get(reverse("tracker:profile")).status_code == 200


def test_the_form_addresses_answer_get_with_the_page(client_as, bob: User) -> None:
    client = client_as(bob)
    for name in ("profile", "password-change", "preferences"):
        response = client.get(reverse(f"tracker:{name}"))
        assert response.status_code == 200 and "Your profile" in response.content.decode()


def test_the_forms_need_their_csrf_token(bob: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post(reverse("tracker:preferences"), {"plain_text_emails": "on"})
    assert response.status_code == 403
    bob.refresh_from_db()
    assert not bob.plain_text_emails


def test_a_user_asks_for_plain_text_emails(client_as, bob: User) -> None:
    response = client_as(bob).post(reverse("tracker:preferences"), {"plain_text_emails": "on"}, follow=True)
    assert "Preferences saved." in response.content.decode()
    bob.refresh_from_db()
    assert bob.plain_text_emails and not bob.notify_own_changes


def browser(test):  # type: ignore[no-untyped-def]
    for mark in chromium_marks():
        test = mark(test)
    return test


@browser
def test_in_a_browser_a_user_renames_themselves_and_asks_for_plain_text(
    live_server, monkeypatch, bob: User
) -> None:
    from playwright.sync_api import expect

    with chromium_page(monkeypatch) as page:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()

        # It should reach the profile through the name in the header.
        page.get_by_role("link", name="Bob (bob)").click()
        expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
        page.get_by_label("First name").fill("Robert")
        page.get_by_role("button", name="Save name and email").click()
        expect(page.locator(".messages")).to_contain_text("Name saved.")
        expect(page.get_by_role("link", name="Robert (bob)")).to_be_visible()

        page.get_by_label("Plain-text emails only").check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.locator(".messages")).to_contain_text("Preferences saved.")
        expect(page.get_by_label("Plain-text emails only")).to_be_checked()

    bob.refresh_from_db()
    assert bob.first_name == "Robert" and bob.plain_text_emails


def test_an_account_keeps_an_email_address(client_as, bob: User) -> None:
    response = client_as(bob).post(reverse("tracker:profile"), profile_form(bob, email=""))
    assert "Your account needs an email address" in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_an_account_without_an_address_may_still_change_its_name(client_as, bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(email="")
    bob.refresh_from_db()
    response = client_as(bob).post(reverse("tracker:profile"), profile_form(bob, first_name="Bobby"))
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.first_name == "Bobby" and bob.email == ""
