"""A select field's default value: set in field administration, given by the artifact service to every
new artifact created without a value there (web form, API), never over a value someone chose."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tracker.models import Artifact, Field, FieldOption, Tracker, User
from tracker.services import fields as field_admin
from tracker.services.artifacts import create_artifact, update_artifact


@pytest.fixture
def status(bugs: Tracker) -> Field:
    return Field.objects.get(tracker=bugs, name="status")


def option(field_: Field, label: str) -> FieldOption:
    return field_.options.get(label=label)


def status_of(artifact: Artifact, field_: Field) -> object:
    artifact.refresh_from_db()
    return artifact.current_values.get(str(field_.pk))


def set_default_in_the_admin(client_as, admin: User, field_: Field, default: FieldOption | None) -> object:
    return client_as(admin).post(
        reverse("tracker:field-edit", args=[field_.pk]),
        {"label": field_.label, "default_option": "" if default is None else str(default.pk)},
    )


def test_an_admin_sets_the_default_status_on_the_field_page(client_as, alice: User, status: Field) -> None:
    page = client_as(alice).get(reverse("tracker:field-edit", args=[status.pk])).content.decode()
    assert "Default value" in page and "No default" in page
    response = set_default_in_the_admin(client_as, alice, status, option(status, "New"))
    assert response.status_code == 302
    status.refresh_from_db()
    assert status.default_option == option(status, "New")
    page = client_as(alice).get(reverse("tracker:field-edit", args=[status.pk])).content.decode()
    assert '<span class="badge">default</span>' in page
    # It should clear the default when "No default" is chosen.
    set_default_in_the_admin(client_as, alice, status, None)
    status.refresh_from_db()
    assert status.default_option is None


def test_a_value_of_another_field_is_refused_as_default(
    client_as, alice: User, bugs: Tracker, status: Field
) -> None:
    other = Field.objects.create(tracker=bugs, name="severity", label="Severity", type="sb", rank=99)
    foreign = FieldOption.objects.create(field=other, label="Major")
    response = set_default_in_the_admin(client_as, alice, status, foreign)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(field_admin.TrackerAdminError):
        field_admin.update_field(
            status, label="Status", required=False, help_text="", notify=False, default_option_id=foreign.pk
        )
    status.refresh_from_db()
    assert status.default_option is None


def test_a_web_creation_without_a_status_gets_the_default(
    client_as, bob: User, bugs: Tracker, status: Field
) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    client_as(bob).post(reverse("tracker:artifact-create", args=[bugs.pk]), {"title": "No status chosen"})
    artifact = Artifact.objects.get(title="No status chosen")
    assert status_of(artifact, status) == option(status, "New").pk
    # The default is stored in the creation changeset, like any value chosen: the history shows it.
    assert artifact.changesets.get().values.filter(field=status).exists()


def test_an_api_creation_without_a_status_gets_the_default(bob: User, bugs: Tracker, status: Field) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    response = client_for(bob).post(
        "/api/artifacts/", {"tracker": bugs.pk, "values": {"title": "From a script"}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["values"]["status"] == "New"


def test_an_explicit_value_wins_over_the_default(client_as, bob: User, bugs: Tracker, status: Field) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    response = client_for(bob).post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "Started", "status": "In progress"}},
        format="json",
    )
    assert response.json()["values"]["status"] == "In progress"
    client_as(bob).post(
        reverse("tracker:artifact-create", args=[bugs.pk]),
        {"title": "Done already", "status": str(option(status, "Done").pk)},
    )
    assert status_of(Artifact.objects.get(title="Done already"), status) == option(status, "Done").pk


def test_the_default_applies_to_creations_only(bob: User, bugs: Tracker, status: Field) -> None:
    artifact = create_artifact(bugs, author=bob, values={"title": "Before the default"}).artifact
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    update_artifact(artifact, author=bob, values={"title": "Renamed"})
    assert status_of(artifact, status) is None


def test_a_multi_select_default_is_a_list_of_one(bob: User, bugs: Tracker) -> None:
    platforms = Field.objects.create(tracker=bugs, name="platforms", label="Platforms", type="msb", rank=99)
    linux = FieldOption.objects.create(field=platforms, label="Linux")
    FieldOption.objects.create(field=platforms, label="Windows", rank=1)
    Field.objects.filter(pk=platforms.pk).update(default_option=linux)
    artifact = create_artifact(bugs, author=bob, values={"title": "Everywhere"}).artifact
    assert artifact.current_values[str(platforms.pk)] == [linux.pk]


def test_removing_the_default_value_clears_the_default(
    client_as, alice: User, bob: User, bugs: Tracker, status: Field
) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    # Values cannot be removed from the UI yet; removing the row is what such a removal comes down to.
    option(status, "New").delete()
    status.refresh_from_db()
    assert status.default_option is None
    # It should leave a working field page and creation, with no status given.
    assert client_as(alice).get(reverse("tracker:field-edit", args=[status.pk])).status_code == 200
    response = client_as(bob).post(reverse("tracker:artifact-create", args=[bugs.pk]), {"title": "After"})
    assert response.status_code == 302
    assert status_of(Artifact.objects.get(title="After"), status) is None


def test_a_required_field_with_a_default_needs_no_value(bob: User, bugs: Tracker, status: Field) -> None:
    Field.objects.filter(pk=status.pk).update(required=True, default_option=option(status, "New"))
    artifact = create_artifact(bugs, author=bob, values={"title": "Quick"}).artifact
    assert status_of(artifact, status) == option(status, "New").pk


def test_the_create_form_shows_the_default_chosen(client_as, bob: User, bugs: Tracker, status: Field) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    page = client_as(bob).get(reverse("tracker:artifact-create", args=[bugs.pk])).content.decode()
    assert f'<option value="{option(status, "New").pk}" selected>New</option>' in page


def test_the_api_tells_each_fields_default(bob: User, bugs: Tracker, status: Field) -> None:
    Field.objects.filter(pk=status.pk).update(default_option=option(status, "New"))
    body = client_for(bob).get(f"/api/trackers/{bugs.pk}/").json()
    defaults = {f["name"]: f["default"] for f in body["fields"]}
    assert defaults["status"] == "New" and defaults["title"] is None
