"""In Debian's Chromium, with the Content-Security-Policy on: the pages work and the browser reports no
violation (an inline script or style, a remote image, a handler attribute would each be one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact

pytestmark = chromium_marks()


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


def test_the_pages_work_under_the_policy_without_a_single_violation(
    live_server, page, public_project: Project, bugs: Tracker, alice: User, admin_user: User
) -> None:
    from playwright.sync_api import expect

    artifact = create_artifact(bugs, author=alice, values={"title": "Pixel", "status": "New"}).artifact
    update_artifact(
        artifact,
        author=alice,
        comment="See ![the chart](https://tracker.example.net/pixel.gif) and **this**",
        comment_format="markdown",
    )
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()

    page.goto(f"{live_server.url}/artifacts/{artifact.pk}/")
    expect(page.locator(".comment strong")).to_have_text("this")
    # The remote image is a link, never loaded.
    expect(page.locator(".comment a", has_text="[image: the chart]")).to_have_attribute(
        "href", "https://tracker.example.net/pixel.gif"
    )
    # The tracker's color is drawn (an SVG fill), although no style attribute is allowed.
    fill = page.evaluate("getComputedStyle(document.querySelector('.badge-fill rect')).fill")
    assert fill == "rgb(31, 119, 180)"

    page.goto(f"{live_server.url}/trackers/{bugs.pk}/")
    expect(page.get_by_role("heading", name="Bugs", exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/admin/")
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI starts from its script file and lists the operations.
    expect(page.get_by_text("/api/projects/", exact=True).first).to_be_visible()

    assert violations == []
    assert not any("tracker.example.net" in url for url in requested)
