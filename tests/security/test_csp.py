"""A Content-Security-Policy on every answer, and pages that need nothing it refuses: no inline
script, style or event handler, nothing from another site."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from tracker.models import Project, Tracker, User
from tracker.services.artifacts import create_artifact

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


class InlineFinder(HTMLParser):
    """What the policy would refuse in a page: inline scripts and styles, handlers, remote sources."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            remote = value and value.startswith(("http://", "https://", "//"))
            if name in ("src", "href") and remote and tag != "a":
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self._in_script = True
        if tag == "style":
            self.problems.append("<style>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline <script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def problems_in(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.problems


@pytest.fixture
def pages(public_project: Project, bugs: Tracker, alice: User, admin_user: User) -> list[str]:
    artifact = create_artifact(
        bugs,
        author=alice,
        values={"title": "Crash", "status": "New"},
        comment="**bold**",
        comment_format="markdown",
    ).artifact
    return [
        reverse("tracker:project-list"),
        reverse("tracker:project-detail", args=[public_project.shortname]),
        reverse("tracker:project-members", args=[public_project.shortname]),
        reverse("tracker:tracker-detail", args=[bugs.pk]),
        reverse("tracker:tracker-admin", args=[bugs.pk]),
        reverse("tracker:tracker-create", args=[public_project.shortname]),
        reverse("tracker:artifact-create", args=[bugs.pk]),
        reverse("tracker:artifact-detail", args=[artifact.pk]),
        reverse("tracker:preferences"),
        reverse("tracker:system-events"),
        "/admin/",
        "/admin/tracker/user/add/",
        "/api/docs/",
    ]


def test_every_page_has_the_policy_and_needs_nothing_it_refuses(pages: list[str], admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert policy_of(response) == POLICY, url
        assert problems_in(response.content.decode()) == [], url


def test_the_login_page_errors_and_api_answers_have_it_too(db: None) -> None:
    client = Client()
    for response in (
        client.get("/login/"),
        client.get("/no/such/page/"),
        client.get("/api/projects/"),
        client.get("/api/no/such/thing"),
    ):
        assert policy_of(response) == POLICY
    assert problems_in(client.get("/login/").content.decode()) == []


def test_the_api_docs_start_up_script_is_a_file(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)

    script = client.get("/api/docs/?script=")

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
