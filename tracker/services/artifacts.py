"""The one place that creates and updates artifacts.

Web views, the API, the admin and the demo seeding all call :func:`create_artifact` and
:func:`update_artifact`. Each validates the values against the field types, stores the changeset
and its values in one transaction, and, unless ``notify=False``, sends ``changeset_recorded`` inside
that transaction and ``artifact_saved`` once it has committed. Imports store whole histories in bulk
through :mod:`tracker.services.bulk_import`, with the same value rules and :func:`apply_changes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from tracker import permissions, signals
from tracker.models import (
    Artifact,
    Attachment,
    Changeset,
    ChangesetValue,
    Field,
    FieldType,
    Tracker,
    User,
)
from tracker.services.rendering import render_comment, sanitize_html
from tracker.services.values import (
    InvalidValue,
    ValueContext,
    check_links,
    check_offered,
    is_empty,
    normalize,
    users_named,
)

NON_FIELD = "__all__"
COMMENT_MAX_LENGTH = 200_000
# Markdown is rendered once, when stored, under a time budget; past the budget it is kept as plain text.
MARKDOWN_COMMENT_MAX_LENGTH = 20_000


class ArtifactValidationError(Exception):
    """Values that do not fit the tracker: ``errors`` maps a field name (or ``__all__``) to messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        summary = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())
        super().__init__(summary)


class NothingToSave(ArtifactValidationError):
    """An update that changes no value and adds no comment or file: no changeset is stored."""

    MESSAGE = "Nothing to save: change a value or add a comment."

    def __init__(self) -> None:
        super().__init__({NON_FIELD: [self.MESSAGE]})


def _check_comment(comment: str, comment_format: str) -> None:
    if comment_format not in Changeset.CommentFormat.values:
        raise ArtifactValidationError({"comment": ["Choose plain text or Markdown for the comment."]})
    limit = (
        MARKDOWN_COMMENT_MAX_LENGTH
        if comment_format == Changeset.CommentFormat.MARKDOWN
        else COMMENT_MAX_LENGTH
    )
    if len(comment) > limit:
        raise ArtifactValidationError(
            {
                "comment": [
                    f"Write at most {limit} characters in a {comment_format} comment ({len(comment)} here)."
                ]
            }
        )


def _fields(tracker: Tracker) -> list[Field]:
    return list(tracker.fields.all())


def _validate(
    tracker: Tracker,
    fields: list[Field],
    values: Mapping[str, Any],
    *,
    artifact: Artifact | None,
    author: User | None,
    uploads: Mapping[str, Sequence[UploadedFile]],
) -> dict[Field, Any]:
    """Normalize ``values`` (keyed by field name) or raise ArtifactValidationError with every problem."""
    by_name = {f.name: f for f in fields}
    errors: dict[str, list[str]] = {}
    for name in values:
        if name not in by_name:
            errors[name] = [f"Unknown field; this tracker's fields are: {', '.join(by_name)}."]
    for name, files in uploads.items():
        field_ = by_name.get(name)
        if field_ is None or field_.type != FieldType.FILES:
            errors[name] = ["Files can only be attached to a file field."]
            continue
        for upload in files:
            if upload.size > settings.ATTACHMENT_MAX_SIZE:
                errors.setdefault(name, []).append(
                    f"{upload.name} is too large ({upload.size} bytes; the limit is "
                    f"{settings.ATTACHMENT_MAX_SIZE} bytes)."
                )
    context = ValueContext.for_fields(fields)
    already = _named_on(artifact, fields)
    known_users = _assignable(
        tracker, known=users_named(fields, values, already_named=already), already=already
    )
    normalized: dict[Field, Any] = {}
    current = artifact.current_values if artifact is not None else {}
    for field_ in fields:
        if field_.name not in values:
            continue
        try:
            stored = normalize(field_, values[field_.name], context, known_users)
            check_offered(field_, stored, current.get(str(field_.pk)), context)
            if field_.type == FieldType.LINKS and stored:
                allowed = permissions.readable_artifacts(author) if author is not None else None
                check_links(stored, artifact, allowed)
            if field_.type == FieldType.FILES and stored:
                owned = set(current.get(str(field_.pk)) or [])
                if not set(stored) <= owned:
                    raise InvalidValue("Only attachments already on this artifact can be kept.")
            if (
                field_.type == FieldType.TEXT
                and isinstance(stored, str)
                and artifact is not None
                and artifact.jira_issue_id
            ):
                # An imported artifact's text is HTML, shown as stored: sanitized now, never when read.
                stored = sanitize_html(stored)
        except InvalidValue as error:
            errors.setdefault(field_.name, []).append(str(error))
            continue
        normalized[field_] = stored
    for field_ in fields:
        if not field_.required or field_.hidden or field_.name in errors:
            continue
        will_be_empty = (
            is_empty(normalized[field_]) if field_ in normalized else is_empty(current.get(str(field_.pk)))
        )
        if field_.type == FieldType.FILES and uploads.get(field_.name):
            will_be_empty = False
        if will_be_empty:
            errors.setdefault(field_.name, []).append("This field is required.")
    if errors:
        raise ArtifactValidationError(errors)
    return normalized


def with_defaults(fields: list[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` completed with each select field's default value where a new artifact has none.

    The one rule for every creation (web form, API, email gateway, demo): a field left out or sent
    empty gets its default (``Field.default_option``); any value given wins. Imports keep Jira's values
    (they do not come through here).
    """
    result = dict(values)
    for field_ in fields:
        # A hidden field takes no new value, its default included.
        if field_.default_option_id is None or field_.hidden or not is_empty(values.get(field_.name)):
            continue
        if field_.type == FieldType.SELECT:
            result[field_.name] = field_.default_option_id
        elif field_.type == FieldType.MULTI_SELECT:
            result[field_.name] = [field_.default_option_id]
    return result


def _named_on(artifact: Artifact | None, fields: list[Field]) -> set[int]:
    """The accounts the artifact's user fields name now."""
    named: set[int] = set()
    if artifact is not None:
        for field_ in fields:
            if field_.is_user_field:
                current = artifact.current_values.get(str(field_.pk))
                named |= set(current if isinstance(current, list) else [current]) - {None}
    return named


def _assignable(tracker: Tracker, *, known: dict[Any, User], already: set[int]) -> dict[Any, User]:
    """The named users who may be put in a user field (``permissions.nameable_among``); anyone else
    reads as unknown, so an email address cannot be used to learn whether someone has an account."""
    if not known:
        return known
    allowed = permissions.nameable_among(
        tracker.project_id, {user.pk for user in known.values()}, already_named=already
    )
    return {key: user for key, user in known.items() if user.pk in allowed}


def apply_changes(artifact: Artifact, changes: Mapping[Field, Any]) -> None:
    """``current_values`` and ``title`` after a changeset of ``changes`` (stored values by field).

    The one rule for both writers: this service and the imports' (:mod:`tracker.services.bulk_import`).
    """
    for field_, value in changes.items():
        artifact.current_values[str(field_.pk)] = value
        if field_.is_title:
            artifact.title = (value or "")[:255]


def _store(
    artifact: Artifact,
    fields: list[Field],
    changes: dict[Field, Any],
    uploads: Mapping[str, Sequence[UploadedFile]],
    *,
    author: User | None,
    comment: str,
    comment_format: str,
    submitted_on: dt.datetime,
    is_creation: bool,
) -> Changeset:
    changeset = Changeset.objects.create(
        artifact=artifact,
        author=author,
        submitted_on=submitted_on,
        is_creation=is_creation,
        comment=comment,
        comment_format=comment_format,
        comment_html=render_comment(comment, comment_format),
    )
    by_name = {f.name: f for f in fields}
    for name, files in uploads.items():
        field_ = by_name[name]
        kept = changes.get(field_, artifact.current_values.get(str(field_.pk))) or []
        new_ids = [
            Attachment.objects.create(
                artifact=artifact,
                file=upload,
                filename=upload.name[:255],
                size=upload.size,
                content_type=(getattr(upload, "content_type", None) or "application/octet-stream")[:255],
                submitted_by=author,
                submitted_on=submitted_on,
            ).pk
            for upload in files
        ]
        changes[field_] = sorted(set(kept) | set(new_ids)) or None
    ChangesetValue.objects.bulk_create(
        [ChangesetValue(changeset=changeset, field=field_, value=value) for field_, value in changes.items()]
    )
    apply_changes(artifact, changes)
    artifact.last_updated_by = author
    artifact.last_updated_on = submitted_on
    artifact.save(update_fields=["current_values", "title", "last_updated_by", "last_updated_on"])
    return changeset


def _announce(changeset: Changeset, *, created: bool) -> None:
    signals.changeset_recorded.send(sender=Changeset, changeset=changeset, created=created)
    # on_commit binds to the outermost transaction: nothing is announced if it rolls back.
    transaction.on_commit(
        lambda: signals.artifact_saved.send(sender=Changeset, changeset=changeset, created=created)
    )


def create_artifact(
    tracker: Tracker,
    *,
    author: User | None,
    values: Mapping[str, Any],
    comment: str = "",
    comment_format: str = Changeset.CommentFormat.TEXT,
    uploads: Mapping[str, Sequence[UploadedFile]] | None = None,
    submitted_on: dt.datetime | None = None,
    notify: bool = True,
) -> Changeset:
    """Create an artifact with its first changeset; raises ArtifactValidationError on bad values."""
    uploads = uploads or {}
    comment = comment.strip()
    _check_comment(comment, comment_format)
    fields = _fields(tracker)
    values = with_defaults(fields, values)
    changes = _validate(tracker, fields, values, artifact=None, author=author, uploads=uploads)
    changes = {f: v for f, v in changes.items() if not is_empty(v)}
    when = submitted_on or timezone.now()
    with transaction.atomic():
        artifact = Artifact.objects.create(
            tracker=tracker,
            submitted_by=author,
            submitted_on=when,
            last_updated_by=author,
            last_updated_on=when,
        )
        changeset = _store(
            artifact,
            fields,
            changes,
            uploads,
            author=author,
            comment=comment,
            comment_format=comment_format,
            submitted_on=when,
            is_creation=True,
        )
        if notify:
            _announce(changeset, created=True)
    return changeset


def update_artifact(
    artifact: Artifact,
    *,
    author: User | None,
    values: Mapping[str, Any] | None = None,
    comment: str = "",
    comment_format: str = Changeset.CommentFormat.TEXT,
    uploads: Mapping[str, Sequence[UploadedFile]] | None = None,
    submitted_on: dt.datetime | None = None,
    notify: bool = True,
) -> Changeset:
    """Add a changeset holding the changed values and the comment; never rewrites earlier ones."""
    values = values or {}
    uploads = uploads or {}
    comment = comment.strip()
    _check_comment(comment, comment_format)
    with transaction.atomic():
        # Lock the row: two concurrent edits must each see the other's values as "old".
        artifact = Artifact.objects.select_for_update().select_related("tracker").get(pk=artifact.pk)
        fields = _fields(artifact.tracker)
        normalized = _validate(
            artifact.tracker, fields, values, artifact=artifact, author=author, uploads=uploads
        )
        changes = {
            field_: value
            for field_, value in normalized.items()
            if value != artifact.current_values.get(str(field_.pk))
        }
        if not changes and not comment and not any(uploads.values()):
            raise NothingToSave
        changeset = _store(
            artifact,
            fields,
            changes,
            uploads,
            author=author,
            comment=comment,
            comment_format=comment_format,
            submitted_on=submitted_on or timezone.now(),
            is_creation=False,
        )
        if notify:
            _announce(changeset, created=False)
    return changeset
