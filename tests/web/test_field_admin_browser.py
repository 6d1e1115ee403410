"""In Chromium, with the Content-Security-Policy on: an administrator colours, reorders and hides a value
on the field page without JavaScript, and the colour is drawn as the badge's background on the list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Field, FieldOption, Tracker

pytestmark = chromium_marks()


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


def test_colour_reorder_and_hide_a_value_from_the_field_page(
    live_server, page, bugs: Tracker, crash: Artifact
) -> None:
    from playwright.sync_api import expect

    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective));"
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    status = Field.objects.get(tracker=bugs, name="status")
    new = FieldOption.objects.get(field=status, label="New")
    page.goto(f"{live_server.url}/fields/{status.pk}/")
    page.get_by_label("Colour of New").select_option("green")
    page.locator(f"#option-{new.pk}").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Value New saved.")).to_be_visible()
    page.get_by_role("button", name="Move Done up").click()
    expect(page.locator("#option-list > li").nth(1)).to_contain_text("Done")
    page.get_by_role("button", name="Hide In progress").click()
    expect(page.get_by_text("Value In progress hidden.")).to_be_visible()

    page.goto(f"{live_server.url}/trackers/{bugs.pk}/")
    badge = page.locator("#artifact-list .badge-color-green, .badge-color-green").first
    expect(badge).to_have_text("New")
    # The palette's class draws it (no style attribute is allowed): green fill, dark green text.
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(232, 245, 236)"
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/artifacts/new/")
    assert page.locator("#id_status option").all_inner_texts() == ["—", "New", "Done"]
    assert violations == []
