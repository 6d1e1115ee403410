"""The "My work" page: assigned to me, submitted by me, watched, across the projects I may read."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tracker.models import Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.projects import remove_member
from tracker.services.subscriptions import set_watching


def section(page: str, key: str) -> list[str]:
    """The titles listed in one section of the page."""
    body = page.split(f'id="my-{key}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<td class="title"><a href="[^"]+">([^<]*)</a>', body)


def test_my_work_lists_what_is_assigned_submitted_and_watched_across_projects(
    client_as, bugs: Tracker, tasks: Tracker, alice: User, bob: User, carol: User
) -> None:
    create_artifact(bugs, author=alice, values={"title": "Public, for bob", "assigned_to": bob.pk})
    create_artifact(tasks, author=alice, values={"title": "Private, for bob", "assigned_to": bob.pk})
    create_artifact(bugs, author=bob, values={"title": "By bob", "assigned_to": carol.pk})
    watched = create_artifact(bugs, author=carol, values={"title": "Carol's, watched by bob"}).artifact
    set_watching(watched, bob, watching=True)
    unwatched = create_artifact(bugs, author=carol, values={"title": "Unwatched"}).artifact
    set_watching(unwatched, bob, watching=False)

    page = client_as(bob).get(reverse("tracker:my-work")).content.decode()
    assert section(page, "assigned") == ["Private, for bob", "Public, for bob"]
    assert section(page, "submitted") == ["By bob"]
    assert section(page, "watched") == ["Carol&#x27;s, watched by bob"]


def test_my_work_never_shows_what_i_may_no_longer_read(
    client_as, tasks: Tracker, private_project, alice: User, bob: User
) -> None:
    secret = create_artifact(tasks, author=bob, values={"title": "Secret", "assigned_to": bob.pk}).artifact
    set_watching(secret, bob, watching=True)
    remove_member(private_project, bob)
    page = client_as(bob).get(reverse("tracker:my-work")).content.decode()
    assert "Secret" not in page
    assert page.count("Nothing here.") == 3


def test_unassigning_removes_it_from_my_work(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Soon not mine", "assigned_to": bob.pk}
    ).artifact
    update_artifact(artifact, author=alice, values={"assigned_to": None})
    assert section(client_as(bob).get(reverse("tracker:my-work")).content.decode(), "assigned") == []


@pytest.mark.parametrize("count", [2, 20])
def test_my_work_costs_the_same_for_few_or_many(
    client_as,
    bugs: Tracker,
    tasks: Tracker,
    alice: User,
    bob: User,
    count: int,
    django_assert_max_num_queries,
) -> None:
    for number in range(count):
        for tracker in (bugs, tasks):
            made = create_artifact(
                tracker, author=bob, values={"title": f"Item {number}", "assigned_to": bob.pk}, notify=False
            ).artifact
            set_watching(made, bob, watching=True)
    client = client_as(bob)
    # Session, user, the assignee fields, then one query per list: 6 today, whatever the count.
    with django_assert_max_num_queries(8):
        response = client.get(reverse("tracker:my-work"))
    assert response.content.decode().count('<td class="title">') == 3 * 2 * count


def test_my_work_needs_a_login(client) -> None:
    assert client.get(reverse("tracker:my-work")).status_code == 302
