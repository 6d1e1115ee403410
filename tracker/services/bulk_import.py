"""Storing imported artifacts in bulk: whole histories, many artifacts at a time (the Jira import's writer).

The artifact service (:mod:`tracker.services.artifacts`) stores one changeset at a time, for people;
:class:`ImportWriter` stores artifacts with all their changesets at once, with the same rules: every
value goes through :func:`tracker.services.values.normalize` for its field's type before it is stored,
and ``current_values`` and ``title`` are what :func:`~tracker.services.artifacts.apply_changes` makes of
the changesets. What differs is the speed: ``bulk_create`` for artifacts, attachments and changesets,
one ``executemany`` INSERT for the values, and no per-save path, so no signal, notification or metric
fires for each row. Not applied: required fields and who may be named in user fields, which are
rules for people editing; an import keeps the source's history as it was.

An imported value may name what has no id yet when it is planned: a files value names the source's
attachments (:class:`SourceFiles`), written as the ids of their attachment rows; an outside link may
carry the source's id of the issue it names (``LINK_SOURCE_ID``), until
:func:`tracker.services.imported_links.resolve_links` turns the links to imported issues into
artifact links once every issue is in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from tracker.models import (
    Artifact,
    Attachment,
    Changeset,
    ChangesetValue,
    Field,
    FieldType,
    TimeEntry,
    Tracker,
    User,
)
from tracker.services.artifacts import apply_changes
from tracker.services.rendering import render_comment, sanitize_html
from tracker.services.values import InvalidValue, ValueContext, normalize

# The key of an outside link naming an imported issue by the source's id (kept as the Jira import has
# always written it).
LINK_SOURCE_ID = "jira_id"
BATCH = 500


@dataclass(frozen=True)
class SourceFiles:
    """A files value naming attachments by the source's ids; stored as their attachment rows' ids."""

    ids: tuple[str, ...]


@dataclass
class ImportedChangeset:
    submitted_on: dt.datetime
    author_id: int | None
    imported_author_name: str = ""
    values: dict[Field, Any] = field(default_factory=dict)
    comment: str = ""
    comment_format: str = Changeset.CommentFormat.TEXT
    is_creation: bool = False
    # What the source called it, such as ("comment", "10001"): kept by the caller once stored.
    source: tuple[str, str] | None = None
    source_updated: dt.datetime | None = None  # when the source last changed it (an edited comment)
    stored_pk: int | None = None  # set by the writer


@dataclass
class ImportedAttachment:
    """An attachment row to be, named like its columns; the file is in the storage already."""

    jira_attachment_id: str  # the source's id, which files values name (SourceFiles)
    file: str  # the name in the file storage
    filename: str
    size: int
    content_type: str
    submitted_by_id: int | None
    submitted_on: dt.datetime


@dataclass
class ImportedTimeEntry:
    """A time entry row to be (a Jira work log)."""

    jira_worklog_id: str
    user_id: int | None
    started_on: dt.datetime
    seconds: int
    comment: str = ""
    updated: dt.datetime | None = None  # when the source last changed it


@dataclass
class ImportedArtifact:
    source_id: str  # Artifact.jira_issue_id: unique in the tracker, so a resumed import skips it
    reference: str  # how messages name it, such as the Jira key
    changesets: list[ImportedChangeset]  # the creation first
    attachments: list[ImportedAttachment] = field(default_factory=list)
    time_entries: list[ImportedTimeEntry] = field(default_factory=list)


class InvalidImportedValue(Exception):
    """A value that does not fit its field; nothing of the batch is stored."""

    def __init__(self, artifact: ImportedArtifact, field_: Field, error: InvalidValue) -> None:
        self.reference = artifact.reference
        self.field = field_
        self.problem = str(error)
        super().__init__(f"{artifact.reference}, {field_.label}: {error}")


class ImportWriter:
    """Writes the imported artifacts of one tracker, batch after batch.

    It keeps what checking values needs between batches: the options of the choice fields (loaded
    again when a batch names one created since) and the users the values name.
    """

    def __init__(self, tracker: Tracker, fields: Sequence[Field]) -> None:
        self.tracker = tracker
        self.fields = list(fields)
        self._context: ValueContext | None = None
        self._options: dict[int, set[int]] = {}
        self._users: dict[Any, User] = {}

    def write(self, artifacts: list[ImportedArtifact]) -> list[Artifact]:
        """Check every value, then store the artifacts in one transaction.

        Raises InvalidImportedValue before writing anything, and IntegrityError when an artifact of
        the same source id is there already.
        """
        return write_batches([(self, artifacts)])

    def _artifact(self, imported: ImportedArtifact) -> tuple[Artifact, dict[str, SourceFiles]]:
        """The artifact row, and its files values: they wait for their attachments' ids, which wait
        for the artifact's."""
        first, last = imported.changesets[0], imported.changesets[-1]
        row = Artifact(
            tracker=self.tracker,
            current_values={},
            submitted_by_id=first.author_id,
            submitted_on=first.submitted_on,
            last_updated_by_id=last.author_id,
            last_updated_on=max(c.submitted_on for c in imported.changesets),
            jira_issue_id=imported.source_id,
        )
        for changeset in imported.changesets:
            apply_changes(row, changeset.values)
        files = {key: value for key, value in row.current_values.items() if isinstance(value, SourceFiles)}
        for key in files:
            del row.current_values[key]
        return row, files

    # -- checking the values ----------------------------------------------------------------------

    def _check(self, artifacts: list[ImportedArtifact]) -> None:
        """Every value in its field's stored form (normalize's), or InvalidImportedValue."""
        self._load(artifacts)
        for imported in artifacts:
            files = {a.jira_attachment_id for a in imported.attachments}
            for changeset in imported.changesets:
                checked = {}
                for field_, value in changeset.values.items():
                    try:
                        checked[field_] = self._checked(field_, value, files)
                    except InvalidValue as error:
                        raise InvalidImportedValue(imported, field_, error) from None
                changeset.values = checked

    def _checked(self, field_: Field, value: Any, files: set[str]) -> Any:
        assert self._context is not None
        if isinstance(value, SourceFiles):
            if field_.type != FieldType.FILES or not set(value.ids) <= files:
                raise InvalidValue("Only attachments of this artifact can be named.")
            return value
        if field_.type == FieldType.LINKS and isinstance(value, list):
            return checked_links(field_, value)
        stored = normalize(field_, value, self._context, self._users)
        if field_.type == FieldType.TEXT and isinstance(stored, str) and stored:
            # Imported text is HTML, shown as stored: sanitized here, whatever the importer did.
            stored = sanitize_html(stored)
        return stored

    def _load(self, artifacts: list[ImportedArtifact]) -> None:
        """The options and users the batch names, loaded once each (options again after new ones)."""
        options: dict[int, set[int]] = {}
        users: set[int] = set()
        for imported in artifacts:
            for changeset in imported.changesets:
                for field_, value in changeset.values.items():
                    if field_.is_choice_field:
                        options.setdefault(field_.pk, set()).update(_ids(value))
                    elif field_.is_user_field:
                        users.update(_ids(value))
        if self._context is None or any(
            not wanted <= self._options.get(pk, set()) for pk, wanted in options.items()
        ):
            self._context = ValueContext.for_fields(self.fields)
            self._options = {
                pk: {option.pk for option in found} for pk, found in self._context.options.items()
            }
        # Any account may be named, the importer's inactive stand-in too: the source named them.
        missing = users - self._users.keys()
        if missing:
            self._users.update((user.pk, user) for user in User.objects.filter(pk__in=missing).only("pk"))


def write_batches(batches: list[tuple[ImportWriter, list[ImportedArtifact]]]) -> list[Artifact]:
    """Store the artifacts of several trackers' writers in one transaction, with one INSERT of each
    kind for them all (a page of a whole-project import holds issues of every tracker).

    Every value is checked first (InvalidImportedValue, nothing written); IntegrityError when an
    artifact of the same source id is there already. The rows come back in the order given.
    """
    batches = [(writer, artifacts) for writer, artifacts in batches if artifacts]
    if not batches:
        return []
    for writer, artifacts in batches:
        writer._check(artifacts)
    artifacts = [imported for _, batch in batches for imported in batch]
    now = timezone.now()
    with transaction.atomic():
        rows, waiting = zip(
            *(writer._artifact(imported) for writer, batch in batches for imported in batch), strict=True
        )
        Artifact.objects.bulk_create(rows)
        attachments = [
            Attachment(artifact=row, **vars(a))
            for imported, row in zip(artifacts, rows, strict=True)
            for a in imported.attachments
        ]
        Attachment.objects.bulk_create(attachments)
        ids = {(a.artifact_id, a.jira_attachment_id): a.pk for a in attachments}

        def stored(row: Artifact, value: Any) -> Any:
            if isinstance(value, SourceFiles):
                return sorted(ids[(row.pk, source_id)] for source_id in value.ids) or None
            return value

        changesets = [
            (row, c, changeset_row(row, c))
            for imported, row in zip(artifacts, rows, strict=True)
            for c in imported.changesets
        ]
        Changeset.objects.bulk_create([changeset for _, _, changeset in changesets])
        for _, planned, changeset in changesets:
            planned.stored_pk = changeset.pk
        insert_rows(
            TimeEntry,
            ("artifact", "user", "started_on", "seconds", "comment", "created_on", "jira_worklog_id"),
            [
                (row.pk, e.user_id, e.started_on, e.seconds, e.comment, now, e.jira_worklog_id)
                for imported, row in zip(artifacts, rows, strict=True)
                for e in imported.time_entries
            ],
        )
        insert_rows(
            ChangesetValue,
            ("changeset", "field", "value"),
            [
                (changeset.pk, field_.pk, stored(row, value))
                for row, planned, changeset in changesets
                for field_, value in planned.values.items()
            ],
        )
        for row, files in zip(rows, waiting, strict=True):
            row.current_values.update({key: stored(row, value) for key, value in files.items()})
        update_rows(
            Artifact,
            "current_values",
            [(row.pk, row.current_values) for row, files in zip(rows, waiting, strict=True) if files],
        )
    return list(rows)


def changeset_row(row: Artifact, planned: ImportedChangeset) -> Changeset:
    """The changeset row of a planned changeset (both writers of imported history use it)."""
    return Changeset(
        artifact=row,
        author_id=planned.author_id,
        imported_author_name=planned.imported_author_name[:255],
        submitted_on=planned.submitted_on,
        is_creation=planned.is_creation,
        comment=planned.comment,
        comment_format=planned.comment_format,
        comment_html=render_comment(planned.comment, planned.comment_format),
    )


def _ids(value: Any) -> set[int]:
    """The ids a choice or user value names (one, or a list)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return {item for item in items if isinstance(item, int) and not isinstance(item, bool)}


def checked_links(field_: Field, links: list[Any]) -> list[dict[str, Any]] | None:
    """A links value through normalize, an outside link's source id kept (normalize knows none)."""
    sources = [link.get(LINK_SOURCE_ID) if isinstance(link, dict) else None for link in links]
    plain = [
        {key: item for key, item in link.items() if key != LINK_SOURCE_ID} if isinstance(link, dict) else link
        for link in links
    ]
    stored = normalize(field_, plain, ValueContext(fields=[field_]), {})
    if stored is None:
        return None
    return [
        link if source is None else link | {LINK_SOURCE_ID: source}
        for link, source in zip(stored, sources, strict=True)
    ]


def delete_tracker(tracker_id: int) -> None:
    """Remove a partial tracker: its rows, then its files (nothing partial is left behind)."""
    Tracker.objects.filter(pk=tracker_id).delete()
    _delete_tree(f"attachments/{tracker_id}")


def _delete_tree(prefix: str) -> None:
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for directory in directories:
        _delete_tree(f"{prefix}/{directory}")
    # FileSystemStorage leaves empty directories behind; other storages have none.
    path = getattr(default_storage, "path", None)
    if path is not None:
        with contextlib.suppress(OSError, NotImplementedError):
            os.rmdir(path(prefix))


# -- rows without model instances -------------------------------------------------------------------


def insert_rows(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """A plain INSERT run with executemany: no model instance for each of an import's many rows.

    Values go through each field's ``get_db_prep_save``, so JSON is stored exactly as the ORM would.
    """
    if not rows:
        return
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in columns]
    # Table and column names come from the model's metadata, quoted; values are parameters.
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)) for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def update_rows(model: type[Model], column: str, rows: list[tuple[int, Any]]) -> None:
    """``UPDATE ... SET column = value WHERE pk = id`` for each (id, value), with executemany."""
    if not rows:
        return
    ops = connection.ops
    field_ = model._meta.get_field(column)
    table, name = ops.quote_name(model._meta.db_table), ops.quote_name(field_.column)
    sql = f"UPDATE {table} SET {name} = %s WHERE {ops.quote_name(model._meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(field_.get_db_prep_save(value, connection), pk) for pk, value in rows])
