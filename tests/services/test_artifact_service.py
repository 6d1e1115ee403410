"""The artifact service: history, validation, and the artifact_saved signal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from tests.support.world import typed_tracker
from tracker.models import Changeset, ChangesetValue, Field, FieldOption, FieldType, Tracker, User
from tracker.services.artifacts import ArtifactValidationError, create_artifact, update_artifact
from tracker.services.trackers import FieldSpec
from tracker.signals import artifact_saved, changeset_recorded


@pytest.fixture
def saved_events() -> Iterator[list[Changeset]]:
    events: list[Changeset] = []

    def receiver(sender: object, changeset: Changeset, **kwargs: object) -> None:
        events.append(changeset)

    artifact_saved.connect(receiver, dispatch_uid="test-saved-events")
    yield events
    artifact_saved.disconnect(dispatch_uid="test-saved-events")


def test_update_keeps_full_history(bugs: Tracker, alice: User, bob: User) -> None:
    created = create_artifact(bugs, author=alice, values={"title": "Crash on save", "status": "New"})
    artifact = created.artifact
    update_artifact(artifact, author=bob, values={"status": "In progress", "assigned_to": "bob"})
    update_artifact(artifact, author=alice, values={"title": "Crash on save (Firefox)"}, comment="Narrowed")

    history = list(artifact.changesets.order_by("id"))
    assert [c.author for c in history] == [alice, bob, alice]
    assert history[0].is_creation and not history[1].is_creation
    assert history[2].comment == "Narrowed"
    # Only the changed fields are stored in each changeset; the first one is never rewritten.
    first_values = {v.field.name: v.value for v in history[0].values.select_related("field")}
    status_new = FieldOption.objects.get(field__tracker=bugs, label="New").pk
    assert first_values == {"title": "Crash on save", "status": status_new}
    assert {v.field.name for v in history[1].values.select_related("field")} == {"status", "assigned_to"}
    artifact.refresh_from_db()
    assert artifact.title == "Crash on save (Firefox)"
    assert artifact.last_updated_by == alice


def test_an_update_that_changes_nothing_is_refused(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Same"}).artifact
    with pytest.raises(ArtifactValidationError) as error:
        update_artifact(artifact, author=alice, values={"title": "Same"})
    assert "__all__" in error.value.errors
    assert artifact.changesets.count() == 1


def test_values_are_validated_per_field_type(public_project, alice: User) -> None:
    tracker = typed_tracker(
        public_project, "effort", "ratio", "due", "seen", "severity", "os", "owner", "labels", "links"
    )
    with pytest.raises(ArtifactValidationError) as error:
        create_artifact(
            tracker,
            author=alice,
            values={
                "effort": "three",
                "ratio": "nan",
                "due": "31/12/2026",
                "seen": "yesterday",
                "severity": "Blocker",
                "os": ["Linux", "Windows"],
                "owner": "nobody@example.com",
                "links": [999_999],
                "colour": "red",
            },
        )
    errors = error.value.errors
    assert set(errors) == {
        "title",
        "effort",
        "ratio",
        "due",
        "seen",
        "severity",
        "os",
        "owner",
        "links",
        "colour",
    }
    assert errors["title"] == ["This field is required."]
    assert "Minor, Major" in errors["severity"][0]
    assert "Unknown field" in errors["colour"][0]

    changeset = create_artifact(
        tracker,
        author=alice,
        values={
            "title": "  Typed  ",
            "effort": "3",
            "ratio": 0.5,
            "due": "2026-12-31",
            "seen": "2026-11-30T10:00:00+01:00",
            "severity": "major",
            "os": ["macOS", "Linux", "Linux"],
            "owner": "ALICE@example.com",
            "labels": "ui, crash, ui",
        },
    )
    stored = {
        v.field.name: v.value
        for v in ChangesetValue.objects.filter(changeset=changeset).select_related("field")
    }
    options = {o.label: o.pk for o in FieldOption.objects.filter(field__tracker=tracker)}
    assert stored == {
        "title": "Typed",
        "effort": 3,
        "ratio": 0.5,
        "due": "2026-12-31",
        "seen": "2026-11-30T09:00:00+00:00",
        "severity": options["Major"],
        "os": sorted([options["Linux"], options["macOS"]]),
        "owner": alice.pk,
        "labels": ["ui", "crash"],
    }


def test_artifact_saved_fires_once_per_committed_changeset(
    bugs: Tracker, alice: User, saved_events: list[Changeset], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        changeset = create_artifact(bugs, author=alice, values={"title": "One"})
    with django_capture_on_commit_callbacks(execute=True):
        update = update_artifact(changeset.artifact, author=alice, comment="Two")
    assert saved_events == [changeset, update]


def test_artifact_saved_never_fires_for_a_rolled_back_changeset(
    bugs: Tracker, alice: User, saved_events: list[Changeset], django_capture_on_commit_callbacks
) -> None:
    recorded: list[Changeset] = []
    changeset_recorded.connect(
        lambda sender, changeset, **kw: recorded.append(changeset), weak=False, dispatch_uid="test-recorded"
    )
    try:
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            create_artifact(bugs, author=alice, values={"title": "Doomed"})
            raise RuntimeError("the request failed after the save")
    finally:
        changeset_recorded.disconnect(dispatch_uid="test-recorded")
    assert saved_events == []
    assert len(recorded) == 1  # it ran inside the transaction, and its writes rolled back with it
    assert not Changeset.objects.exists()


def test_saving_without_notifying_sends_no_signal(
    bugs: Tracker, alice: User, saved_events: list[Changeset], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Imported"}, notify=False)
    assert saved_events == []


def test_required_field_cannot_be_emptied(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Keep me"}).artifact
    with pytest.raises(ArtifactValidationError) as error:
        update_artifact(artifact, author=alice, values={"title": "  "})
    assert error.value.errors == {"title": ["This field is required."]}
    assert Field.objects.get(tracker=bugs, name="title").is_title


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [
        (FieldType.USER, {"name": "alice"}),
        (FieldType.USER, ["alice", "bob"]),
        (FieldType.USERS, [["alice"]]),
        (FieldType.LINKS, "9" * 30),
        (FieldType.LINKS, "1" * 5000),
        (FieldType.LINKS, "²"),
        (FieldType.LINKS, [{"artifact": True}]),
        (FieldType.DATETIME, "0001-01-01T00:00:00+01:00"),
        (FieldType.DATETIME, "9999-12-31T23:00:00-05:00"),
        (FieldType.FLOAT, 10**400),
        (FieldType.INTEGER, "9" * 5000),
        (FieldType.FILES, [2**70]),
    ],
)
def test_hostile_values_are_refused_not_crashed_on(
    public_project, alice: User, field_type: str, raw: object
) -> None:
    tracker = typed_tracker(public_project, FieldSpec("edge", "Edge", field_type), shortname="edge")
    with pytest.raises(ArtifactValidationError) as error:
        create_artifact(tracker, author=alice, values={"title": "x", "edge": raw})
    assert list(error.value.errors) == ["edge"]


def test_links_to_outside_issues_are_kept_and_checked(public_project, alice: User) -> None:
    tracker = typed_tracker(public_project, "links", shortname="linked")
    other = create_artifact(tracker, author=alice, values={"title": "Other"}).artifact
    outside = {"key": "OPS-1", "url": "https://jira.example.com/browse/OPS-1", "type": "relates to"}
    changeset = create_artifact(
        tracker,
        author=alice,
        values={"title": "x", "links": [{"artifact": other.pk, "type": "blocks"}, outside]},
    )
    assert changeset.artifact.current_values[str(tracker.fields.get(name="links").pk)] == [
        {"artifact": other.pk, "type": "blocks"},
        outside,
    ]
    with pytest.raises(ArtifactValidationError) as error:
        create_artifact(
            tracker, author=alice, values={"title": "x", "links": [{"key": "OPS-2", "url": "javascript:x"}]}
        )
    assert "http://" in error.value.errors["links"][0]


def test_datetimes_read_as_people_write_them(public_project, alice: User) -> None:
    from tracker.services.history import artifact_view

    tracker = typed_tracker(public_project, "seen", shortname="timed")
    artifact = create_artifact(
        tracker, author=alice, values={"title": "x", "seen": "2026-11-30T11:00:00+01:00"}
    ).artifact
    shown = {field.name: text for field, _, text, _ in artifact_view(artifact).current()}
    assert shown["seen"] == "2026-11-30 10:00 UTC"


def test_imported_rich_text_reads_as_text_in_diffs_and_as_safe_html_on_the_page(
    bugs: Tracker, alice: User
) -> None:
    from tracker.services.history import artifact_view, history

    artifact = create_artifact(
        bugs,
        author=alice,
        values={"title": "Imported", "description": "<p>Steps &amp; notes</p><p>Two</p>"},
        notify=False,
    ).artifact
    artifact.jira_issue_id = "10001"
    artifact.save(update_fields=["jira_issue_id"])
    # An imported artifact's text is HTML: what a person writes into it is sanitized when stored.
    update_artifact(
        artifact,
        author=alice,
        values={"description": "<p>Steps &amp; notes</p><p>Three</p><script>alert(1)</script>"},
    )
    artifact.refresh_from_db()
    shown = {f.name: (text, html) for f, _, text, html in artifact_view(artifact).current()}
    assert shown["description"][0] == "Steps & notes\n\nThree"
    assert shown["description"][1] == "<p>Steps &amp; notes</p><p>Three</p>"
    first, second = history(artifact)
    assert {c.field.name: c.new_text for c in first.changes}["description"] == "Steps & notes\n\nTwo"
    assert {c.field.name: c.new_text for c in second.changes}["description"] == "Steps & notes\n\nThree"


@pytest.mark.parametrize("hostile", ["- " * 5000 + "x", "1. " * 6000, "[" * 20_000, "> " * 9000 + "x"])
def test_a_hostile_markdown_comment_cannot_break_the_history(
    bugs: Tracker, alice: User, hostile: str
) -> None:
    from tracker.services.history import history

    artifact = create_artifact(bugs, author=alice, values={"title": "Target"}).artifact
    update_artifact(artifact, author=alice, comment=hostile, comment_format="markdown")
    # It should still render (the nesting is capped, the parser is linear), escaped and sanitized.
    entries = history(artifact)
    assert entries[-1].comment_html
    assert "<script" not in entries[-1].comment_html


def test_markdown_comments_are_bounded_and_formats_checked(bugs: Tracker, alice: User) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Target"}).artifact
    with pytest.raises(ArtifactValidationError) as error:
        update_artifact(artifact, author=alice, comment="x" * 20_001, comment_format="markdown")
    assert "at most 20000 characters" in error.value.errors["comment"][0]
    with pytest.raises(ArtifactValidationError) as error:
        update_artifact(artifact, author=alice, comment="hi", comment_format="rtf")
    assert list(error.value.errors) == ["comment"]
    update_artifact(artifact, author=alice, comment="x" * 20_001, comment_format="text")
    assert artifact.changesets.count() == 2


def test_user_fields_take_members_site_admins_and_people_already_named(
    bugs: Tracker, alice: User, bob: User, dave: User, admin_user: User
) -> None:
    from tracker.services.projects import remove_member

    # dave is not a member: naming him reads as an unknown user, by username or by email alike.
    for reference in ("dave", "dave@example.com"):
        with pytest.raises(ArtifactValidationError) as error:
            create_artifact(bugs, author=alice, values={"title": "x", "assigned_to": reference})
        assert "not a known active user of this project" in error.value.errors["assigned_to"][0]
    artifact = create_artifact(
        bugs, author=alice, values={"title": "x", "assigned_to": "bob", "cc": ["root"]}
    ).artifact
    # bob leaves the project: he stays on the artifact, and can be kept there while others change.
    remove_member(bugs.project, bob)
    update_artifact(artifact, author=alice, values={"cc": ["root", "bob"]})
    assert artifact.changesets.count() == 2


def test_too_many_users_in_a_user_field_is_a_field_error(bugs: Tracker, alice: User) -> None:
    with pytest.raises(ArtifactValidationError) as error:
        create_artifact(bugs, author=alice, values={"title": "x", "cc": ["alice"] * 201})
    assert error.value.errors == {"cc": ["At most 200 values are allowed."]}
