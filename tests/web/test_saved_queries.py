"""Saved queries of the tracker page: private or for the project, each reader sees what they may read."""

from __future__ import annotations

import re

from django.urls import reverse

from tracker.models import SavedQuery, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.projects import remove_member


def listed(response) -> list[str]:
    return re.findall(r'<td class="title"><a href="[^"]+">([^<]*)</a>', response.content.decode())


def save(client, tracker: Tracker, query: str, name: str, *, shared: bool = False):
    data = {"query": query, "name": name}
    if shared:
        data["shared"] = "1"
    return client.post(reverse("tracker:saved-query-create", args=[tracker.pk]), data)


def test_a_member_saves_a_query_and_opens_it_again(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    create_artifact(bugs, author=alice, values={"title": "Mine", "assigned_to": bob.pk})
    create_artifact(bugs, author=alice, values={"title": "Not mine"})
    client = client_as(bob)
    response = save(client, bugs, "assignee=me&page=3&csrfmiddlewaretoken=x", "My bugs")
    assert response.status_code == 302
    saved = SavedQuery.objects.get(owner=bob)
    # It should keep the filters, not the page number or anything else.
    assert saved.query_string == "assignee=me" and not saved.shared
    page = client.get(reverse("tracker:tracker-detail", args=[bugs.pk])).content.decode()
    link = re.search(r'<a href="(\?[^"]+)">My bugs</a>', page).group(1)
    assert listed(client.get(reverse("tracker:tracker-detail", args=[bugs.pk]) + link)) == ["Mine"]


def test_a_private_query_is_its_owners_only(client_as, bugs: Tracker, bob: User, carol: User) -> None:
    save(client_as(bob), bugs, "state=open", "Bob's private")
    page = client_as(carol).get(reverse("tracker:tracker-detail", args=[bugs.pk])).content.decode()
    assert "Bob&#x27;s private" not in page


def test_a_project_query_shows_each_reader_only_what_they_may_read(
    client_as, tasks: Tracker, private_project, alice: User, bob: User
) -> None:
    create_artifact(tasks, author=alice, values={"title": "Secret plan", "status": "New"})
    assert save(client_as(alice), tasks, "state=open", "Open tasks", shared=True).status_code == 302
    saved = SavedQuery.objects.get(name="Open tasks")
    url = f"{reverse('tracker:tracker-detail', args=[tasks.pk])}?{saved.query_string}"
    assert listed(client_as(bob).get(url)) == ["Secret plan"]
    assert "Open tasks" in client_as(bob).get(url).content.decode()
    # Once bob leaves the project, the saved query gives him nothing: the tracker is a 404.
    remove_member(private_project, bob)
    assert client_as(bob).get(url).status_code == 404


def test_bad_names_parameters_and_sharing_by_non_members_are_refused(
    client_as, bugs: Tracker, bob: User, dave: User
) -> None:
    client = client_as(bob)
    save(client, bugs, "state=open", "   ")
    save(client, bugs, "state=someday", "Bad state")
    page = client.get(reverse("tracker:tracker-detail", args=[bugs.pk])).content.decode()
    assert "The query was not saved" in page
    # PostgreSQL refuses a NUL in text (a 500 there): refused on every database, with the reason.
    save(client, bugs, "state=open", "Open\x00ones")
    page = client.get(reverse("tracker:tracker-detail", args=[bugs.pk])).content.decode()
    assert "Text cannot contain NUL characters." in page
    # dave reads the public project but is no member: a private query yes, a project one no.
    save(client_as(dave), bugs, "state=open", "Dave's", shared=True)
    assert not SavedQuery.objects.exists()
    save(client_as(dave), bugs, "state=open", "Dave's")
    assert SavedQuery.objects.filter(owner=dave, shared=False).count() == 1


def test_only_the_owner_deletes_a_query(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    save(client_as(alice), bugs, "state=open", "Alice's", shared=True)
    saved = SavedQuery.objects.get()
    url = reverse("tracker:saved-query-delete", args=[saved.pk])
    assert client_as(bob).post(url).status_code == 404
    assert client_as(alice).post(url).status_code == 302
    assert not SavedQuery.objects.exists()
