"""Reading artifacts back: current values and the history of changesets with old -> new diffs.

Everything here loads with a bounded number of queries whatever the number of changesets, fields,
users or options involved: the web pages, the API and the notification emails all use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.safestring import SafeString, mark_safe

from tracker.models import Artifact, Changeset, Field, FieldType, Tracker
from tracker.permissions import AnyUser
from tracker.services.history_queries import changesets_before, values_before

# Rendering happens once, when a comment or rich text is stored (tracker.services.rendering); the Jira
# import sanitizes its HTML with the same function.
from tracker.services.rendering import sanitize_html as sanitize_html
from tracker.services.value_rendering import ValueRenderer, imported_name, person_name
from tracker.services.values import is_markdown_text, spans_lines

# Accounts an import made for people without an account here (tracker.jira_import.people): inactive,
# named "jira.<hash>", their last name saying where they come from.


@dataclass
class FieldChange:
    field: Field
    old: Any
    new: Any
    old_text: str
    new_text: str
    # Links fields shown to a known reader: the values as HTML, with links to what they may read.
    old_html: SafeString | str = ""
    new_html: SafeString | str = ""

    @property
    def new_markdown_html(self) -> SafeString | str:
        """A Markdown text's new value as HTML, for the HTML email (rendered and sanitized when stored)."""
        if self.field.type == FieldType.TEXT and is_markdown_text(self.new):
            return mark_safe(self.new["html"])  # noqa: S308 (values.markdown_text sanitized it)
        return ""

    @property
    def multiline(self) -> bool:
        """A text change that spans lines: emails show it as a block, not as one `old -> new` run-on line."""
        return spans_lines(self.old_text) or spans_lines(self.new_text)


@dataclass
class HistoryEntry:
    changeset: Changeset
    changes: list[FieldChange]
    # Rendered when the changeset was stored (Changeset.comment_html): reading never renders.
    comment_html: str

    @property
    def author_name(self) -> str:
        if self.changeset.imported_author_name:
            return imported_name(self.changeset.imported_author_name)
        if self.changeset.author is not None:
            return person_name(self.changeset.author)
        return "Unknown"


@dataclass
class ArtifactView:
    artifact: Artifact
    fields: list[Field]
    renderer: ValueRenderer

    def closed_field_ids(self) -> set[int]:
        """The select fields whose current option means the work is done (shown as closed, like the list)."""
        values = self.artifact.current_values
        return {
            f.pk
            for f in self.fields
            if f.type == FieldType.SELECT
            and (option := self.renderer.options.get(values.get(str(f.pk)))) is not None
            and option.is_closed
        }

    def option_colors(self) -> dict[int, str]:
        """The select fields whose current value has a badge colour: field id -> colour key."""
        values = self.artifact.current_values
        return {
            f.pk: option.color
            for f in self.fields
            if f.type == FieldType.SELECT
            and (option := self.renderer.options.get(values.get(str(f.pk)))) is not None
            and option.color
        }

    def current(self) -> list[tuple[Field, Any, str, str]]:
        """Each field with its stored value, its text and, for rich text, its sanitized HTML (for
        links shown to a known reader, their HTML)."""
        values = self.artifact.current_values
        return [
            (
                f,
                value,
                self.renderer.text(f, value),
                self.renderer.html(f, value) or self.renderer.links_html(f, value),
            )
            for f in self.fields
            for value in [values.get(str(f.pk))]
        ]


def tracker_fields(tracker: Tracker) -> list[Field]:
    return list(Field.objects.filter(tracker=tracker).order_by("rank", "id"))


def artifact_view(
    artifact: Artifact, fields: Sequence[Field] | None = None, *, reader: AnyUser | None = None
) -> ArtifactView:
    """``reader``: who reads the page (links are named and linked for what they may read)."""
    fields = list(fields) if fields is not None else tracker_fields(artifact.tracker)
    renderer = ValueRenderer.for_values(
        fields,
        [artifact.current_values],
        rich_text=is_imported(artifact),
        project_id=artifact.tracker.project_id,
        reader=reader,
    )
    return ArtifactView(artifact, fields, renderer)


def is_imported(artifact: Artifact) -> bool:
    return artifact.jira_issue_id is not None


def entries_for(
    artifact: Artifact,
    changesets: Sequence[Changeset],
    fields: Sequence[Field] | None = None,
    *,
    before: dict[int, Any] | None = None,
    reader: AnyUser | None = None,
) -> list[HistoryEntry]:
    """History entries (old -> new) of some consecutive changesets, oldest first.

    ``changesets`` come with their author selected and their values prefetched, in history order, each
    value with its ``previous`` one (``history_pages.with_previous_values``) when they may not be
    consecutive. Otherwise the old values before the first one come from :func:`values_before`
    (``before``: those values when the caller has them already). The cost is the page's, not the
    history's.
    """
    if not changesets:
        return []
    fields = list(fields) if fields is not None else tracker_fields(artifact.tracker)
    if before is None and not _with_previous(changesets):
        changed = {v.field_id for c in changesets for v in c.values.all()}
        before = values_before(changesets[0], changed)
    return _entries(artifact, fields, changesets, before or {}, reader)


def _with_previous(changesets: Sequence[Changeset]) -> bool:
    return any(hasattr(value, "previous") for changeset in changesets for value in changeset.values.all())


def history(
    artifact: Artifact, fields: Sequence[Field] | None = None, *, up_to: Changeset | None = None
) -> list[HistoryEntry]:
    """Every changeset of the artifact, oldest first, each with its changed fields as old -> new.

    ``up_to`` stops after that changeset. Its cost grows with the history: pages and emails read a
    bounded part of it instead (:func:`entries_for`, ``tracker.services.history_pages``).
    """
    fields = list(fields) if fields is not None else tracker_fields(artifact.tracker)
    changesets = Changeset.objects.filter(artifact=artifact)
    if up_to is not None:
        changesets = changesets.filter(changesets_before(up_to) | Q(pk=up_to.pk))
    changesets = list(
        changesets.select_related("author").prefetch_related("values").order_by("submitted_on", "id")
    )
    return _entries(artifact, fields, changesets, {})


def _entries(
    artifact: Artifact,
    fields: list[Field],
    changesets: Sequence[Changeset],
    state: dict[int, Any],
    reader: AnyUser | None = None,
) -> list[HistoryEntry]:
    """Replay ``changesets`` from ``state`` (field id -> value before the first of them)."""
    by_id = {f.pk: f for f in fields}
    state = dict(state)
    renderer = ValueRenderer.for_values(
        fields,
        [{str(k): v for k, v in state.items()}]
        + [{str(v.field_id): v.value for v in c.values.all()} for c in changesets],
        rich_text=is_imported(artifact),
        project_id=artifact.tracker.project_id,
        reader=reader,
    )
    entries: list[HistoryEntry] = []
    for changeset in changesets:
        changes = []
        for value in sorted(
            changeset.values.all(),
            key=lambda v: (by_id[v.field_id].rank if v.field_id in by_id else 0, v.field_id),
        ):
            field_ = by_id.get(value.field_id)
            if field_ is None:
                continue
            # A page's values come with their previous value (history_pages.with_previous_values).
            old = value.previous if hasattr(value, "previous") else state.get(field_.pk)
            changes.append(
                FieldChange(
                    field_,
                    old,
                    value.value,
                    renderer.text(field_, old),
                    renderer.text(field_, value.value),
                    renderer.links_html(field_, old),
                    renderer.links_html(field_, value.value),
                )
            )
            state[field_.pk] = value.value
        entries.append(HistoryEntry(changeset, changes, changeset.comment_html))
    return entries
