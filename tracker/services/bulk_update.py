"""Adding to artifacts imported earlier: what their source brought since (an update from Jira).

The bulk writer (:mod:`tracker.services.bulk_import`) stores whole new artifacts; this module adds
changesets, attachments and time entries to existing ones, with the same rules: values checked by
the tracker's :class:`~tracker.services.bulk_import.ImportWriter` (``normalize``), the snapshot kept
by :func:`~tracker.services.artifacts.apply_changes`, no signal and no per-row save. The changesets
keep the source's dates, so they take their place in time among those made here; the current value
of each field they touch is the value of the latest changeset that set it, whoever made it (a change
made here after the source's keeps its value, and the other way round).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.html import escape

from tracker.models import Artifact, Attachment, Changeset, ChangesetValue, Field, TimeEntry
from tracker.services.artifacts import apply_changes
from tracker.services.bulk_import import (
    ImportedArtifact,
    ImportWriter,
    InvalidImportedValue,
    SourceFiles,
    changeset_row,
    insert_rows,
)
from tracker.services.rendering import render_comment
from tracker.services.values import InvalidValue


@dataclass
class Addition:
    """What to add to one artifact: ``imported`` holds only the new changesets, files and work logs."""

    artifact: Artifact
    imported: ImportedArtifact


@dataclass
class CommentEdit:
    """A comment edited at the source: its new text replaces the stored one, with ``note`` after it."""

    changeset_id: int
    comment: str
    comment_format: str
    note: str


def add_to_artifacts(writer: ImportWriter, additions: list[Addition]) -> None:
    """Check every value (InvalidImportedValue, nothing written), then store the additions of one
    tracker's artifacts in one transaction; each planned changeset's ``stored_pk`` is set."""
    additions = [
        a for a in additions if a.imported.changesets or a.imported.attachments or a.imported.time_entries
    ]
    if not additions:
        return
    rows = {a.artifact.pk: a.artifact for a in additions}
    kept: dict[tuple[int, str], int] = {
        (artifact_id, jira_id): pk
        for pk, artifact_id, jira_id in Attachment.objects.filter(artifact_id__in=rows)
        .exclude(jira_attachment_id="")
        .values_list("pk", "artifact_id", "jira_attachment_id")
    }
    writer._load([a.imported for a in additions])
    for addition in additions:
        pk = addition.artifact.pk
        files = {a.jira_attachment_id for a in addition.imported.attachments}
        files |= {jira_id for artifact_id, jira_id in kept if artifact_id == pk}
        for changeset in addition.imported.changesets:
            checked = {}
            for field_, value in changeset.values.items():
                try:
                    checked[field_] = writer._checked(field_, value, files)
                except InvalidValue as error:
                    raise InvalidImportedValue(addition.imported, field_, error) from None
            changeset.values = checked
    now = timezone.now()
    with transaction.atomic():
        attachments = [
            Attachment(artifact=a.artifact, **vars(planned))
            for a in additions
            for planned in a.imported.attachments
        ]
        Attachment.objects.bulk_create(attachments)
        kept.update({(a.artifact_id, a.jira_attachment_id): a.pk for a in attachments})

        def stored(row: Artifact, value: Any) -> Any:
            if isinstance(value, SourceFiles):
                return sorted(kept[(row.pk, jira_id)] for jira_id in value.ids) or None
            return value

        changesets = [
            (a.artifact, c, changeset_row(a.artifact, c)) for a in additions for c in a.imported.changesets
        ]
        Changeset.objects.bulk_create([changeset for _, _, changeset in changesets])
        for _, planned, changeset in changesets:
            planned.stored_pk = changeset.pk
        insert_rows(
            ChangesetValue,
            ("changeset", "field", "value"),
            [
                (changeset.pk, field_.pk, stored(row, value))
                for row, planned, changeset in changesets
                for field_, value in planned.values.items()
            ],
        )
        insert_rows(
            TimeEntry,
            ("artifact", "user", "started_on", "seconds", "comment", "created_on", "jira_worklog_id"),
            [
                (
                    a.artifact.pk,
                    e.user_id,
                    e.started_on,
                    e.seconds,
                    e.comment,
                    now,
                    e.jira_worklog_id,
                )
                for a in additions
                for e in a.imported.time_entries
            ],
        )
        touched: dict[int, set[Field]] = defaultdict(set)
        for row, planned, _ in changesets:
            touched[row.pk] |= set(planned.values)
            if planned.submitted_on >= row.last_updated_on:
                row.last_updated_on, row.last_updated_by_id = planned.submitted_on, planned.author_id
        _latest_values(rows, touched)
        Artifact.objects.bulk_update(
            list(rows.values()), ["current_values", "title", "last_updated_on", "last_updated_by"]
        )


def _latest_values(rows: dict[int, Artifact], touched: dict[int, set[Field]]) -> None:
    """Each touched field's current value: that of the latest changeset (by date, then id) setting it."""
    fields = {f.pk: f for each in touched.values() for f in each}
    if not fields:
        return
    latest: dict[tuple[int, int], Any] = {}
    values = (
        ChangesetValue.objects.filter(changeset__artifact_id__in=list(touched), field_id__in=list(fields))
        .order_by("changeset__submitted_on", "changeset_id")
        .values_list("changeset__artifact_id", "field_id", "value")
    )
    for artifact_id, field_id, value in values.iterator():
        latest[(artifact_id, field_id)] = value
    for artifact_id, each in touched.items():
        apply_changes(rows[artifact_id], {f: latest.get((artifact_id, f.pk)) for f in each})


def edit_comments(edits: list[CommentEdit]) -> None:
    """Replace each comment's text in place, the note saying it was edited at the source."""
    for edit in edits:
        if edit.comment_format == Changeset.CommentFormat.HTML:
            comment = f"{edit.comment}\n<p><em>{escape(edit.note)}</em></p>"
        else:
            comment = f"{edit.comment}\n\n{edit.note}"
        Changeset.objects.filter(pk=edit.changeset_id).update(
            comment=comment,
            comment_format=edit.comment_format,
            comment_html=render_comment(comment, edit.comment_format),
        )
