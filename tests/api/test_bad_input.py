"""Bad requests get a JSON answer naming what was wrong, with the right status: never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.support.world import typed_tracker
from tracker.models import Artifact, Project, Tracker, User
from tracker.services.artifacts import create_artifact


def test_requests_without_credentials_get_401(api: APIClient, bugs: Tracker) -> None:
    for url in (
        "/api/users/",
        "/api/projects/",
        f"/api/trackers/{bugs.pk}/",
        f"/api/trackers/{bugs.pk}/artifacts/",
    ):
        response = api.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
    response = api.post("/api/artifacts/", {"tracker": bugs.pk, "values": {"title": "x"}}, format="json")
    assert response.status_code == 401
    assert not Artifact.objects.exists()


def test_token_auth_with_a_token_from_drf_create_token(api: APIClient, bob: User, capsys) -> None:
    call_command("drf_create_token", "bob")
    token = Token.objects.get(user=bob).key
    assert token in capsys.readouterr().out

    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get("/api/users/")

    assert response.status_code == 200
    assert next(u for u in response.json()["results"] if u["username"] == "bob")["email"] == "bob@example.com"


def test_a_wrong_token_is_401(api: APIClient, bob: User) -> None:
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = api.get("/api/projects/")

    assert response.status_code == 401
    assert "Invalid token" in response.json()["detail"]


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return client_for(bob)


def post_artifact(client: APIClient, body: Any) -> Any:
    return client.post("/api/artifacts/", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"tracker": "bugs", "values": {"title": "x"}}, "tracker", "valid integer"),
        ({"tracker": 10**30, "values": {"title": "x"}}, "tracker", "less than or equal"),
        ({"tracker": [1], "values": {"title": "x"}}, "tracker", "valid integer"),
        ({"values": {"title": "x"}}, "tracker", "required"),
        ("TRACKER", "non_field_errors", "Expected a dictionary"),
        ([1, 2], "non_field_errors", "Expected a dictionary"),
    ],
)
def test_malformed_artifact_requests_name_the_field(
    bob_client: APIClient, bugs: Tracker, body: Any, field: str, message: str
) -> None:
    response = post_artifact(bob_client, body)

    assert response.status_code == 400
    assert message in " ".join(map(str, response.json()[field]))
    assert not Artifact.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"title": "x", "colour": "red"}, "colour", "Unknown field"),
        ({"description": "no title"}, "title", "required"),
        ({"title": "x", "assigned_to": "nobody"}, "assigned_to", "not a known active user"),
        ({"title": "x", "status": "Blocker"}, "status", "New, In progress, Done"),
        ({"title": {"nested": {"object": 1}}}, "title", "Enter text"),
        ({"title": ["a", "b"]}, "title", "Enter text"),
        ({"title": "x" * 300}, "title", "at most 255"),
        ({"title": "x", "description": "y" * 300_000}, "description", "at most 200000"),
        ({"title": 10**40}, "title", "Numbers must lie between"),
        ({"title": "nul\x00byte"}, "title", "NUL"),
        ({"title": "lone \ud800 surrogate"}, "title", "surrogate"),
        ({"title": [[[["deep"]]]]}, "title", "nest"),
    ],
)
def test_bad_values_are_400_naming_the_field(
    bob_client: APIClient, bugs: Tracker, values: dict[str, Any], field: str, message: str
) -> None:
    response = post_artifact(bob_client, {"tracker": bugs.pk, "values": values})

    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["values"][field])
    assert not Artifact.objects.exists()


@pytest.mark.parametrize("values", [["title", "x"], "title=x", 42, None])
def test_values_must_be_an_object(bob_client: APIClient, bugs: Tracker, values: Any) -> None:
    response = post_artifact(bob_client, {"tracker": bugs.pk, "values": values})

    assert response.status_code == 400
    assert "values" in response.json()


def test_links_to_unknown_or_unreadable_artifacts_are_refused(
    bugs: Tracker, tasks: Tracker, alice: User, carol: User, public_project: Project
) -> None:
    linked = typed_tracker(public_project, "links", "effort", "ratio", shortname="linked")
    secret = create_artifact(tasks, author=alice, values={"title": "Secret"}).artifact
    client = client_for(carol)

    for links in (
        [secret.pk],
        [{"artifact": 2**53}],
        [{"artifact": "1"}],
        [{"artifact": 1, "type": ["x"]}],
        ["9" * 30],  # does not fit the id column
        ["1" * 5000],  # too long for int()
        ["²"],  # a digit to str.isdigit(), not to int()
    ):
        response = post_artifact(client, {"tracker": linked.pk, "values": {"title": "x", "links": links}})
        assert response.status_code == 400, links
        assert "links" in response.json()["values"]
    for effort in ("three", 1.5, 2**53 + 1, True):
        response = post_artifact(client, {"tracker": linked.pk, "values": {"title": "x", "effort": effort}})
        assert response.status_code == 400, effort
        assert "effort" in response.json()["values"]
    response = post_artifact(client, {"tracker": linked.pk, "values": {"title": "x", "ratio": 2**53}})
    assert response.status_code == 201
    assert Artifact.objects.filter(tracker=linked).count() == 1


def test_datetimes_at_the_edge_of_the_calendar_are_400(public_project: Project, bob: User) -> None:
    tracker = typed_tracker(public_project, "seen", shortname="dated")

    response = post_artifact(
        client_for(bob),
        {"tracker": tracker.pk, "values": {"title": "x", "seen": "0001-01-01T00:00:00+01:00"}},
    )

    assert response.status_code == 400
    assert "seen" in response.json()["values"]


def test_malformed_json_and_other_encodings_are_400(bob_client: APIClient, bugs: Tracker) -> None:
    for raw in (b'{"tracker": 1, "values": {', b"\xff\xfe\x00garbage", b'{"tracker": NaN, "values": {}}'):
        response = bob_client.post("/api/artifacts/", raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert "detail" in response.json()
    huge_number = b'{"tracker": 1' + b"0" * 5000 + b', "values": {}}'
    response = bob_client.post("/api/artifacts/", huge_number, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("declared", ["abc", "²", "12abc", "-5"])
def test_a_content_length_that_is_not_a_number_is_a_400(
    bob_client: APIClient, bugs: Tracker, declared: str
) -> None:
    """It was a 500 under runserver (django-prometheus's middleware int()s the header); no artifact."""
    body = json.dumps({"tracker": bugs.pk, "values": {"title": "Sized"}})
    bob_client.raise_request_exception = False
    response = bob_client.post(
        "/api/artifacts/", body, content_type="application/json", CONTENT_LENGTH=declared
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}
    page = bob_client.get("/", CONTENT_LENGTH=declared)
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    assert not Artifact.objects.exists()
    # The control: the same request with its true length is taken.
    response = bob_client.post("/api/artifacts/", body, content_type="application/json")
    assert response.status_code == 201


def test_form_bodies_are_refused(bob_client: APIClient, bugs: Tracker) -> None:
    response = bob_client.post("/api/artifacts/", {"tracker": bugs.pk, "values": "x"})

    assert response.status_code == 415


def test_bad_comments_are_400(bob_client: APIClient, bugs: Tracker, bob: User) -> None:
    artifact = create_artifact(bugs, author=bob, values={"title": "x"}).artifact
    url = f"/api/artifacts/{artifact.pk}/"

    for body, field in (
        ({"comment": 42}, None),
        ({"comment": "a\x00b"}, "comment"),
        ({"comment": "hi", "comment_format": "html"}, "comment_format"),
        ({"comment": ["hi"]}, "comment"),
        ({"values": []}, "values"),
    ):
        response = bob_client.patch(url, json.dumps(body), content_type="application/json")
        if field is None:
            # A number is accepted as text, like DRF does for any CharField.
            assert response.status_code == 200
            continue
        assert response.status_code == 400, body
        assert field in response.json()


def test_pages_and_unknown_query_parameters(bob_client: APIClient, bugs: Tracker) -> None:
    url = f"/api/trackers/{bugs.pk}/artifacts/"

    assert bob_client.get(url, {"colour": "red", "page": "1"}).status_code == 200
    for page in ("abc", "0", "-1", "99", "9" * 5000):
        response = bob_client.get(url, {"page": page})
        assert response.status_code == 404, page
        assert response.json() == {"detail": "Invalid page."}


def test_unknown_api_urls_are_json_404s(bob: User, bugs: Tracker) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")

    for url in ("/api/nothing/", "/api/artifacts/-1/", "/api/trackers/abc/", f"/api/trackers/{10**30}/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "detail" in response.json()
    # It should answer a POST without the trailing slash with a 404, not a CSRF page or a 500 (Django
    # cannot redirect a POST), and a PATCH to a mistyped id likewise.
    response = client.post("/api/artifacts", {"tracker": bugs.pk}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    response = client.patch("/api/artifacts/abc/", {"comment": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_methods_that_do_not_exist_are_405(bob_client: APIClient, bugs: Tracker, bob: User) -> None:
    artifact = create_artifact(bugs, author=bob, values={"title": "x"}).artifact

    assert bob_client.delete(f"/api/artifacts/{artifact.pk}/").status_code == 405
    assert bob_client.put(f"/api/artifacts/{artifact.pk}/", {}, format="json").status_code == 405
    assert bob_client.get("/api/artifacts/").status_code == 405
    assert Artifact.objects.filter(pk=artifact.pk).exists()
