"""No account can turn the platform into a mail relay, nor learn from it who has an account.

The issue's path: a brand-new account creates a public project, puts an outside address on its
tracker's notification list, adds an existing user by email as a member, names her in CC, and writes
a phishing text. Nobody outside the project's members may receive that text.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for, make_user
from tests.support.smtp import SMTPServer
from tracker.models import Membership, NotificationListEntry, Project, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.projects import set_member

PHISHING = "Your account is locked - verify at http://phish.example/login"
VICTIM = "victim@external.test"


def web_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def confirmation_link(smtp: SMTPServer, address: str) -> str:
    [email] = [item for item in smtp.received if item.rcpt_tos == [address]]
    [link] = re.findall(r"https?://\S+/notifications/confirm/\S+/", email.message.get_content())
    return urlsplit(link).path


@pytest.fixture
def stranger(db: None) -> User:
    """Any account: it can create a project and so administer one."""
    return make_user("mallory")


@pytest.fixture
def outsider(db: None) -> User:
    """An existing account, member of nothing: the attacker knows her address."""
    return make_user("erin")


def test_the_relay_path_reaches_nobody_outside_the_project(
    django_capture_on_commit_callbacks, smtp: SMTPServer, inline, stranger: User, outsider: User
) -> None:
    api = client_for(stranger)
    project = api.post(
        "/api/projects/", {"shortname": "free", "name": "Free", "is_public": True}, format="json"
    )
    assert project.status_code == 201
    project_id = project.json()["id"]
    tracker = api.post(
        f"/api/projects/{project_id}/trackers/", {"name": "Bugs", "shortname": "bug"}, format="json"
    ).json()
    web = web_client(stranger)

    # The outside address goes on the list: it gets one confirmation email, and nothing else.
    web.post(reverse("tracker:notification-add", args=[tracker["id"]]), {"identifier": VICTIM})
    # The existing user by email, as a member: refused, as for any address.
    member = api.post(f"/api/projects/{project_id}/members/", {"user": "erin@example.com"}, format="json")
    assert member.status_code == 400
    assert not Membership.objects.filter(project_id=project_id, user=outsider).exists()
    # Named in CC: she is nobody this project may name.
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/artifacts/",
            {"tracker": tracker["id"], "values": {"title": PHISHING, "cc": ["erin@example.com"]}},
            format="json",
        )
    assert created.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/artifacts/",
            {"tracker": tracker["id"], "values": {"title": PHISHING, "description": PHISHING}},
            format="json",
        )
    assert created.status_code == 201

    received = {address for item in smtp.received for address in item.rcpt_tos}
    assert received <= {VICTIM}  # the author is the only member, and does not get their own change
    [confirmation] = smtp.received
    text = confirmation.message.get_content()
    assert confirmation.message["Subject"] == "Confirm that you want notifications from Tuleap"
    assert "phish" not in text and "Free" not in text and "Bugs" not in text  # nothing the account wrote
    assert all(PHISHING not in item.content.decode(errors="replace") for item in smtp.received)


def test_a_confirmed_address_gets_the_notifications(
    django_capture_on_commit_callbacks, smtp: SMTPServer, inline, bugs: Tracker, alice: User
) -> None:
    web_client(alice).post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": VICTIM})
    link = confirmation_link(smtp, VICTIM)
    owner = Client()  # the address's owner has no account here

    question = owner.get(link)
    assert question.status_code == 200
    assert "Bugs" in question.content.decode() and VICTIM in question.content.decode()
    # Opening the link (as mail scanners do) confirms nothing.
    assert NotificationListEntry.objects.get(email=VICTIM).confirmed_at is None
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Before"})
    assert [item.rcpt_tos for item in smtp.received] == [[VICTIM]]  # the confirmation only

    answered = owner.post(link, {"answer": "confirm"})
    assert "Confirmed" in answered.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "After"})

    assert smtp.received[-1].rcpt_tos == [VICTIM]
    assert "After" in smtp.received[-1].message["Subject"]


def test_the_owner_can_refuse_and_a_used_or_forged_link_does_nothing(
    smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    web_client(alice).post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": VICTIM})
    link = confirmation_link(smtp, VICTIM)

    refused = Client().post(link, {"answer": "remove"})

    assert "Removed" in refused.content.decode()
    assert not NotificationListEntry.objects.filter(email=VICTIM).exists()
    assert Client().post(link, {"answer": "confirm"}).status_code == 404
    assert Client().get(link[:-3] + "xx/").status_code == 404


def test_one_confirmation_email_per_address_per_day_whatever_the_tracker(
    smtp: SMTPServer, bugs: Tracker, tasks: Tracker, alice: User
) -> None:
    web = web_client(alice)
    first = web.post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": VICTIM}, follow=True)
    second = web.post(
        reverse("tracker:notification-add", args=[tasks.pk]), {"identifier": VICTIM}, follow=True
    )
    entry = NotificationListEntry.objects.get(tracker=tasks)
    again = web.post(reverse("tracker:notification-send-confirmation", args=[entry.pk]), follow=True)

    assert "link we have just emailed to it" in first.content.decode()
    for response in (second, again):
        assert "less than 24 hours ago" in response.content.decode()
    assert len(smtp.received) == 1

    # A day later the administrator can send it.
    NotificationListEntry.objects.update(confirmation_sent_at=timezone.now() - dt.timedelta(hours=25))
    web.post(reverse("tracker:notification-send-confirmation", args=[entry.pk]))
    assert len(smtp.received) == 2


def test_a_site_admin_adds_a_confirmed_address_without_any_email(
    smtp: SMTPServer, bugs: Tracker, admin_user: User
) -> None:
    response = web_client(admin_user).post(
        reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "ops@example.org"}, follow=True
    )

    assert "ops@example.org added to the notification list." in response.content.decode()
    assert NotificationListEntry.objects.get(email="ops@example.org").confirmed_at is not None
    assert smtp.received == []


def test_unconfirmed_addresses_get_nothing(
    django_capture_on_commit_callbacks, smtp: SMTPServer, inline, bugs: Tracker, alice: User
) -> None:
    # As left by the migration: listed before confirmations existed, so unconfirmed.
    NotificationListEntry.objects.create(tracker=bugs, email="old-list@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Crash"})

    assert smtp.received == []


def test_a_listed_user_who_left_the_project_gets_nothing(
    django_capture_on_commit_callbacks, smtp: SMTPServer, inline, bugs: Tracker, alice: User, dave: User
) -> None:
    set_member(bugs.project, dave)
    web_client(alice).post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "dave"})
    assert NotificationListEntry.objects.filter(tracker=bugs, user=dave).exists()
    Membership.objects.filter(user=dave).delete()

    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Crash"})

    assert smtp.received == []


@pytest.mark.parametrize("kind", ["api", "web"])
def test_adding_a_member_by_email_answers_the_same_whether_or_not_an_account_has_it(
    kind: str, public_project: Project, alice: User, outsider: User
) -> None:
    def add(address: str) -> tuple[int, str]:
        if kind == "api":
            response = client_for(alice).post(
                f"/api/projects/{public_project.pk}/members/", {"user": address}, format="json"
            )
            return response.status_code, response.content.decode()
        response = web_client(alice).post(
            reverse("tracker:project-members", args=[public_project.shortname]),
            {"identifier": address, "role": "member"},
        )
        page = response.content.decode()
        # The page is the same but for the CSRF token and the address typed back into the form.
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page).replace(address, "ADDRESS")
        return response.status_code, page

    existing = add("erin@example.com")
    missing = add("nobody-here@example.com")

    assert existing == missing
    assert existing[0] in (200, 400)
    assert "email address is not accepted" in existing[1]
    assert not Membership.objects.filter(user=outsider).exists()


def test_the_notification_list_tells_nothing_about_accounts_either(
    smtp: SMTPServer, bugs: Tracker, alice: User, outsider: User
) -> None:
    web = web_client(alice)
    existing = web.post(
        reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "erin@example.com"}, follow=True
    )
    missing = web.post(
        reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "nobody@example.com"}, follow=True
    )

    for response, address in ((existing, "erin@example.com"), (missing, "nobody@example.com")):
        assert f"{address} is on the list. It gets no notification until its owner confirms" in (
            response.content.decode()
        )
    assert "Erin" not in existing.content.decode()
    assert not NotificationListEntry.objects.filter(user=outsider).exists()


def test_the_confirmation_page_needs_no_account_and_posts_with_csrf(
    smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    web_client(alice).post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": VICTIM})
    link = confirmation_link(smtp, VICTIM)
    owner = Client(enforce_csrf_checks=True)

    assert owner.post(link, {"answer": "confirm"}).status_code == 403
    page = owner.get(link).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert owner.post(link, {"answer": "confirm", "csrfmiddlewaretoken": token}).status_code == 200
    assert NotificationListEntry.objects.get(email=VICTIM).confirmed_at is not None
