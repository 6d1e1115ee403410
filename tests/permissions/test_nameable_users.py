"""Who may be named in a user field: one rule (tracker.permissions), the same in the form and the API."""

from __future__ import annotations

import re

from django.urls import reverse

from tests.conftest import client_for
from tracker import permissions
from tracker.models import Artifact, Tracker, User


def _cc_choices(page: str) -> set[str]:
    select = re.search(r'<select name="cc"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, "the form has no cc picker"
    return set(re.findall(r'<option value="(\d+)"', select.group(1)))


def test_members_and_site_admins_may_be_named_and_outsiders_may_not(
    bugs: Tracker, alice: User, bob: User, carol: User, dave: User, admin_user: User
) -> None:
    names = {user.username for user in permissions.nameable_users(bugs.project)}
    assert names == {"alice", "bob", "carol", "root"}
    assert permissions.nameable_among(bugs.project_id, {bob.pk, dave.pk, admin_user.pk}) == {
        bob.pk,
        admin_user.pk,
    }
    # Someone the artifact already names stays nameable after leaving the project.
    assert permissions.nameable_among(bugs.project_id, {dave.pk}, already_named={dave.pk}) == {dave.pk}


def test_the_form_offers_exactly_whom_the_service_accepts(
    client, bugs: Tracker, alice: User, bob: User, dave: User, admin_user: User
) -> None:
    client.force_login(bob)
    page = client.get(reverse("tracker:artifact-create", args=[bugs.pk])).content.decode()
    offered = _cc_choices(page)
    assert str(admin_user.pk) in offered
    assert str(dave.pk) not in offered

    # The site admin offered by the form is accepted when posted from it ...
    response = client.post(
        reverse("tracker:artifact-create", args=[bugs.pk]), {"title": "Named root", "cc": [admin_user.pk]}
    )
    assert response.status_code == 302
    artifact = Artifact.objects.get(title="Named root")
    cc = bugs.fields.get(name="cc")
    assert artifact.current_values[str(cc.pk)] == [admin_user.pk]


def test_the_api_accepts_site_admins_and_refuses_outsiders_like_unknown_users(
    bugs: Tracker, bob: User, dave: User, admin_user: User
) -> None:
    api = client_for(bob)
    accepted = api.post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "By API", "cc": ["root"]}},
        format="json",
    )
    assert accepted.status_code == 201, accepted.content
    refused = api.post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "By API", "cc": ["dave"]}},
        format="json",
    )
    unknown = api.post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "By API", "cc": ["nobody-here"]}},
        format="json",
    )
    assert refused.status_code == unknown.status_code == 400
    # "not a member" reads exactly like "unknown", apart from the name echoed back.
    assert refused.json()["values"]["cc"][0].replace("dave", "X") == unknown.json()["values"]["cc"][
        0
    ].replace("nobody-here", "X")
