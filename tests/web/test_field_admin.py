"""Field and select-value administration: hide, delete, rename, reorder, colour, as an admin sees it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import client_for
from tests.support.smtp import SMTPServer, smtp_for
from tracker.models import Artifact, Field, FieldOption, Tracker, User
from tracker.services.artifacts import ArtifactValidationError, create_artifact, update_artifact
from tracker.services.trackers import FieldSpec, add_field
from tuleap_backend.env import AsyncEmails


def field(tracker: Tracker, name: str) -> Field:
    return Field.objects.get(tracker=tracker, name=name)


def option(tracker: Tracker, field_name: str, label: str) -> FieldOption:
    return FieldOption.objects.get(field__tracker=tracker, field__name=field_name, label=label)


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def messages_on(client: Client, url: str) -> str:
    """The page the action redirected to, with its messages (post/redirect/get)."""
    return page(client, url)


@pytest.fixture
def admin(client_as, alice: User) -> Client:
    return client_as(alice)


@pytest.fixture
def in_progress(crash: Artifact, bob: User) -> Artifact:
    """crash, moved from New to In progress by bob: its history has a status change."""
    update_artifact(crash, author=bob, values={"status": "In progress"})
    crash.refresh_from_db()
    return crash


# Hiding and deleting a field ---------------------------------------------------------------------


def test_a_hidden_field_leaves_forms_and_list_but_history_and_api_keep_it(
    admin: Client, bugs: Tracker, in_progress: Artifact, alice: User
) -> None:
    status = field(bugs, "status")
    response = admin.post(reverse("tracker:field-hide", args=[status.pk]), {"hidden": "1"})
    assert response.status_code == 302
    assert "Field Status hidden." in messages_on(admin, response["Location"])

    # It should be gone from the creation form, the artifact's form and current values, and the list.
    assert 'name="status"' not in page(admin, reverse("tracker:artifact-create", args=[bugs.pk]))
    detail = page(admin, in_progress.get_absolute_url())
    assert 'name="status"' not in detail and 'id="value-status"' not in detail
    assert ">In progress</span>" not in page(admin, reverse("tracker:tracker-detail", args=[bugs.pk]))
    # ...while the history still shows its old change, with its label.
    history = detail.split('id="history"', 1)[1]
    assert re.search(r"Status:</span>\s*<span class=\"old-value\">New</span>", history)
    assert "In progress" in history
    # The API still reads it, marked hidden, and the artifact's value is still there.
    fields = client_for(alice).get(f"/api/trackers/{bugs.pk}/").json()["fields"]
    assert next(f for f in fields if f["name"] == "status")["hidden"] is True

    # A hidden field takes no new value (an API client sending the one it read is fine).
    with pytest.raises(ArtifactValidationError, match="hidden"):
        update_artifact(in_progress, author=alice, values={"status": "Done"})
    update_artifact(in_progress, author=alice, values={"status": "In progress", "title": "Crash on load"})

    # Showing it again brings it back to the form.
    admin.post(reverse("tracker:field-hide", args=[status.pk]), {"hidden": "0"})
    assert 'name="status"' in page(admin, reverse("tracker:artifact-create", args=[bugs.pk]))


def test_a_required_hidden_field_does_not_block_new_artifacts(
    admin: Client, bugs: Tracker, alice: User
) -> None:
    severity = add_field(
        bugs, FieldSpec(name="severity", label="Severity", type="string", required=True), rank=99
    )
    admin.post(reverse("tracker:field-hide", args=[severity.pk]), {"hidden": "1"})
    response = admin.post(reverse("tracker:artifact-create", args=[bugs.pk]), {"title": "No severity asked"})
    assert response.status_code == 302
    assert Artifact.objects.filter(title="No severity asked").exists()


def test_a_hidden_field_with_a_default_value_gives_it_no_more(
    admin: Client, bugs: Tracker, alice: User
) -> None:
    status = field(bugs, "status")
    Field.objects.filter(pk=status.pk).update(default_option=option(bugs, "status", "New"))
    admin.post(reverse("tracker:field-hide", args=[status.pk]), {"hidden": "1"})
    artifact = create_artifact(bugs, author=alice, values={"title": "Defaults"}).artifact
    assert artifact.current_values.get(str(status.pk)) is None


def test_a_used_field_cannot_be_deleted_and_the_page_says_hide_it(
    admin: Client, bugs: Tracker, in_progress: Artifact
) -> None:
    status = field(bugs, "status")
    url = reverse("tracker:field-delete", args=[status.pk])
    # It should ask first, say why it cannot, and offer no delete button.
    confirm = page(admin, url)
    assert "Delete the field Status?" in confirm and "hide it instead" in confirm
    assert 'id="confirm-removal"' not in confirm
    # A POST anyway is refused with a clear message, and nothing is lost.
    response = admin.post(url)
    assert response.status_code == 302
    assert "cannot be deleted: artifacts&#x27; history holds values of it" in messages_on(
        admin, response["Location"]
    )
    assert Field.objects.filter(pk=status.pk).exists()
    assert "Status:" in page(admin, in_progress.get_absolute_url())
    # The confirmation page offers to hide it instead.
    assert f'action="{reverse("tracker:field-hide", args=[status.pk])}"' in confirm


def test_an_unused_field_is_deleted_after_confirmation(admin: Client, bugs: Tracker, crash: Artifact) -> None:
    severity = add_field(bugs, FieldSpec(name="severity", label="Severity", type="string"), rank=99)
    url = reverse("tracker:field-delete", args=[severity.pk])
    confirm = page(admin, url)
    assert "Delete the field Severity?" in confirm and 'id="confirm-removal"' in confirm
    assert Field.objects.filter(pk=severity.pk).exists()  # asking deletes nothing
    response = admin.post(url)
    assert response["Location"] == reverse("tracker:tracker-admin", args=[bugs.pk])
    assert "Field Severity deleted." in messages_on(admin, response["Location"])
    assert not Field.objects.filter(pk=severity.pk).exists()


def test_the_title_field_cannot_be_hidden_or_deleted(admin: Client, bugs: Tracker) -> None:
    title = field(bugs, "title")
    response = admin.post(reverse("tracker:field-hide", args=[title.pk]), {"hidden": "1"})
    assert "The title field cannot be hidden" in messages_on(admin, response["Location"])
    admin.post(reverse("tracker:field-delete", args=[title.pk]))
    title.refresh_from_db()
    assert not title.hidden


# Select values -----------------------------------------------------------------------------------


def test_a_hidden_value_is_not_offered_but_stays_where_set_and_in_history(
    admin: Client, bugs: Tracker, crash: Artifact, alice: User
) -> None:
    new = option(bugs, "status", "New")
    Field.objects.filter(pk=new.field_id).update(default_option=new)
    response = admin.post(reverse("tracker:option-hide", args=[new.pk]), {"hidden": "1"})
    assert "Value New hidden." in messages_on(admin, response["Location"])

    create_form = page(admin, reverse("tracker:artifact-create", args=[bugs.pk]))
    assert ">In progress</option>" in create_form and ">New</option>" not in create_form
    # Hiding the default value removes it as the default: new artifacts cannot get a hidden value.
    assert field(bugs, "status").default_option_id is None
    # The artifact that has it still shows it, and its form keeps it selected (saving keeps it).
    detail = page(admin, crash.get_absolute_url())
    assert f'<option value="{new.pk}" selected>New</option>' in detail
    assert "New" in detail.split('id="history"', 1)[1]
    response = admin.post(
        crash.get_absolute_url(), {"title": "Crash on save", "status": str(new.pk), "comment": "x"}
    )
    assert response.status_code == 302
    # Nobody can choose it anew, through any writer.
    with pytest.raises(ArtifactValidationError, match="New is no longer offered"):
        create_artifact(bugs, author=alice, values={"title": "Another", "status": "New"})
    fields = client_for(alice).get(f"/api/trackers/{bugs.pk}/").json()["fields"]
    assert next(f for f in fields if f["name"] == "status")["hidden_options"] == ["New"]


def test_a_used_value_cannot_be_deleted_an_unused_one_can(
    admin: Client, bugs: Tracker, crash: Artifact
) -> None:
    new, done = option(bugs, "status", "New"), option(bugs, "status", "Done")
    confirm = page(admin, reverse("tracker:option-delete", args=[new.pk]))
    assert "Artifacts have or had this value, so it cannot be deleted: hide it instead." in confirm
    assert 'id="confirm-removal"' not in confirm
    response = admin.post(reverse("tracker:option-delete", args=[new.pk]))
    assert "New cannot be deleted: artifacts have or had this value" in messages_on(
        admin, response["Location"]
    )
    assert FieldOption.objects.filter(pk=new.pk).exists()

    assert 'id="confirm-removal"' in page(admin, reverse("tracker:option-delete", args=[done.pk]))
    response = admin.post(reverse("tracker:option-delete", args=[done.pk]))
    assert response["Location"] == reverse("tracker:field-edit", args=[done.field_id])
    assert not FieldOption.objects.filter(pk=done.pk).exists()


def test_a_multi_select_value_once_set_counts_as_used(admin: Client, bugs: Tracker, alice: User) -> None:
    add_field(bugs, FieldSpec(name="os", label="OS", type="msb", options=("Linux", "Mac")), rank=99)
    artifact = create_artifact(bugs, author=alice, values={"title": "T", "os": ["Linux"]}).artifact
    update_artifact(artifact, author=alice, values={"os": []})  # no longer set, but in the history
    admin.post(reverse("tracker:option-delete", args=[option(bugs, "os", "Linux").pk]))
    admin.post(reverse("tracker:option-delete", args=[option(bugs, "os", "Mac").pk]))
    assert [o.label for o in field(bugs, "os").options.all()] == ["Linux"]


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())  # inline: the email is sent before the test reads it
    yield from smtp_for(settings)


def test_a_renamed_value_shows_in_history_and_in_new_emails(
    admin: Client,
    bugs: Tracker,
    crash: Artifact,
    bob: User,
    smtp: SMTPServer,
    django_capture_on_commit_callbacks,
) -> None:
    new = option(bugs, "status", "New")
    response = admin.post(reverse("tracker:option-update", args=[new.pk]), {"label": "Triaged"})
    assert "Value Triaged saved." in messages_on(admin, response["Location"])
    history = page(admin, crash.get_absolute_url()).split('id="history"', 1)[1]
    assert "Triaged" in history and ">New<" not in history

    with django_capture_on_commit_callbacks(execute=True):
        update = update_artifact(crash, author=bob, values={"status": "In progress"})
    [email] = [item for item in smtp.received if item.message["X-Tuleap-Changeset-Id"] == str(update.pk)]
    assert "Status: Triaged -> In progress" in email.part("text/plain")


def test_renaming_to_an_existing_label_or_blank_is_refused(admin: Client, bugs: Tracker) -> None:
    new = option(bugs, "status", "New")
    for label, error in (
        ("done", "&#x27;done&#x27; is already a value"),
        ("  ", "Give the value a label."),
        # PostgreSQL refuses both (a 500 there): refused on every database, with the reason.
        ("Ne\x00w", "Text cannot contain NUL characters."),
        ("x" * 256, "Text has at most 255 characters"),
    ):
        response = admin.post(reverse("tracker:option-update", args=[new.pk]), {"label": label})
        assert response.status_code == 302
        assert error in messages_on(admin, response["Location"])
    new.refresh_from_db()
    assert new.label == "New"


def test_moving_values_changes_their_order_in_the_form(admin: Client, bugs: Tracker) -> None:
    done = option(bugs, "status", "Done")
    admin.post(reverse("tracker:option-move", args=[done.pk]), {"direction": "up"})
    admin.post(reverse("tracker:option-move", args=[done.pk]), {"direction": "up"})
    admin.post(reverse("tracker:option-move", args=[done.pk]), {"direction": "up"})  # already first
    form = page(admin, reverse("tracker:artifact-create", args=[bugs.pk]))
    positions = [form.index(f">{label}</option>") for label in ("Done", "New", "In progress")]
    assert positions == sorted(positions)
    admin.post(reverse("tracker:option-move", args=[done.pk]), {"direction": "down"})
    assert [o.label for o in field(bugs, "status").options.all()] == ["New", "Done", "In progress"]


def test_a_value_colour_is_its_badge_class_on_the_list_and_the_artifact(
    admin: Client, bugs: Tracker, crash: Artifact
) -> None:
    new = option(bugs, "status", "New")
    admin.post(reverse("tracker:option-update", args=[new.pk]), {"label": "New", "color": "red"})
    listing = page(admin, reverse("tracker:tracker-detail", args=[bugs.pk]))
    assert '<span class="badge badge-color-red">New</span>' in listing
    detail = page(admin, crash.get_absolute_url())
    assert '<dd id="value-status"><span class="badge badge-color-red">New</span></dd>' in detail
    # No inline style: the CSP forbids it; the colour is a class of the stylesheet.
    assert 'style="' not in detail


def test_a_colour_outside_the_palette_is_refused(admin: Client, bugs: Tracker) -> None:
    new = option(bugs, "status", "New")
    response = admin.post(
        reverse("tracker:option-update", args=[new.pk]), {"label": "New", "color": 'red" onclick="x'}
    )
    assert "Choose the colour among: grey, red" in messages_on(admin, response["Location"])
    new.refresh_from_db()
    assert new.color == ""


# Permissions -------------------------------------------------------------------------------------


def admin_actions(bugs: Tracker) -> list[tuple[str, dict[str, str]]]:
    status, new = field(bugs, "status"), option(bugs, "status", "New")
    return [
        (reverse("tracker:field-hide", args=[status.pk]), {"hidden": "1"}),
        (reverse("tracker:field-delete", args=[status.pk]), {}),
        (reverse("tracker:option-update", args=[new.pk]), {"label": "Mine", "color": "red"}),
        (reverse("tracker:option-move", args=[new.pk]), {"direction": "down"}),
        (reverse("tracker:option-hide", args=[new.pk]), {"hidden": "1"}),
        (reverse("tracker:option-delete", args=[new.pk]), {}),
    ]


def test_a_member_who_is_not_admin_is_refused(client_as, bugs: Tracker, bob: User) -> None:
    member = client_as(bob)
    for url, data in admin_actions(bugs):
        assert member.post(url, data).status_code == 403, url
    assert member.get(reverse("tracker:field-delete", args=[field(bugs, "status").pk])).status_code == 403
    new = option(bugs, "status", "New")
    assert (new.label, new.color, new.hidden, new.rank) == ("New", "", False, 0)
    assert not field(bugs, "status").hidden


def test_someone_outside_a_private_project_gets_404(client_as, tasks: Tracker, dave: User, bob: User) -> None:
    for url, data in admin_actions(tasks):
        assert client_as(dave).post(url, data).status_code == 404, url
        assert client_as(bob).post(url, data).status_code == 403, url  # a plain member of it
    assert FieldOption.objects.filter(field__tracker=tasks, label="New").exists()


def test_actions_answer_get_without_changing_anything(admin: Client, bugs: Tracker) -> None:
    new = option(bugs, "status", "New")
    assert admin.get(reverse("tracker:option-hide", args=[new.pk])).status_code == 405
    new.refresh_from_db()
    assert not new.hidden
