"""The bulk writer of imported artifacts: the artifact service's rules, in one transaction per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.jira import replayed
from tracker.models import Artifact, Changeset, FieldType
from tracker.services.bulk_import import (
    ImportedArtifact,
    ImportedAttachment,
    ImportedChangeset,
    ImportWriter,
    InvalidImportedValue,
    SourceFiles,
)
from tracker.services.trackers import FieldSpec, TrackerSpec, create_tracker

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def imported(public_project):
    tracker = create_tracker(
        public_project,
        TrackerSpec(
            name="Imported",
            shortname="imported",
            fields=[
                FieldSpec("title", "Title", FieldType.STRING, is_title=True),
                FieldSpec("score", "Score", FieldType.FLOAT),
                FieldSpec("files", "Files", FieldType.FILES),
            ],
        ),
    )
    return tracker, {f.name: f for f in tracker.fields.all()}


def test_it_stores_histories_with_the_current_values_the_artifact_service_keeps(imported, alice, bob) -> None:
    tracker, fields = imported
    log = ImportedAttachment("901", "attachments/x/log.txt", "log.txt", 3, "text/plain", bob.pk, T0)
    artifact = ImportedArtifact(
        "10100",
        "DEMO-1",
        [
            ImportedChangeset(
                T0, alice.pk, values={fields["title"]: " Crash ", fields["score"]: 2}, is_creation=True
            ),
            ImportedChangeset(
                T0 + timedelta(hours=1), bob.pk, values={fields["files"]: SourceFiles(("901",))}
            ),
            ImportedChangeset(T0 + timedelta(hours=2), None, "Carol", {fields["title"]: "Crash on save"}),
        ],
        [log],
    )

    ImportWriter(tracker, list(fields.values())).write([artifact])

    stored = Artifact.objects.get(tracker=tracker, jira_issue_id="10100")
    attachment = stored.attachments.get()
    # It should store each value as normalize makes it, and files as the ids of their attachment rows.
    assert stored.current_values == {
        str(fields["title"].pk): "Crash on save",
        str(fields["score"].pk): 2.0,
        str(fields["files"].pk): [attachment.pk],
    }
    assert stored.current_values == replayed(stored)
    assert stored.title == "Crash on save"
    assert (stored.submitted_by, stored.last_updated_by_id, stored.last_updated_on) == (
        alice,
        None,
        T0 + timedelta(hours=2),
    )
    assert (attachment.jira_attachment_id, attachment.submitted_by, attachment.filename) == (
        "901",
        bob,
        "log.txt",
    )
    assert (
        Changeset.objects.get(artifact=stored, is_creation=False, author=None).imported_author_name == "Carol"
    )


def test_a_value_that_does_not_fit_its_field_stores_nothing_of_the_batch(imported, alice) -> None:
    tracker, fields = imported
    good = ImportedArtifact(
        "1", "DEMO-1", [ImportedChangeset(T0, alice.pk, values={fields["title"]: "Fine"})]
    )
    bad = ImportedArtifact(
        "2", "DEMO-2", [ImportedChangeset(T0, alice.pk, values={fields["score"]: float("nan")})]
    )

    with pytest.raises(InvalidImportedValue, match=r"DEMO-2, Score: Enter a finite number\."):
        ImportWriter(tracker, list(fields.values())).write([good, bad])

    assert not Artifact.objects.filter(tracker=tracker).exists()


def test_a_files_value_names_attachments_of_its_own_artifact_only(imported, alice) -> None:
    tracker, fields = imported
    artifact = ImportedArtifact(
        "1", "DEMO-1", [ImportedChangeset(T0, alice.pk, values={fields["files"]: SourceFiles(("7",))})]
    )

    with pytest.raises(InvalidImportedValue, match="Only attachments of this artifact"):
        ImportWriter(tracker, list(fields.values())).write([artifact])
