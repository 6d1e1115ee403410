"""How a fetched Jira issue becomes an artifact's history: planned changesets, no database.

The first changeset is the issue as it was created: dated ``created``, authored by its creator, each
field holding its first changelog ``from`` value, or its current value when it never changed. Jira
only gives the current values and the changelog, so :class:`Replay` starts from the current values
and undoes the changelog newest first; that also rebuilds multi-valued fields, whose changelog adds or
removes one value per item. Then comes one changeset per changelog entry (its author, date and changed
values) and one per comment, merged in date order. Values are converted to the representations of
:mod:`tracker.services.values`; files name Jira's attachment ids and links keep the Jira key and URL
(with the Jira id), both settled by the writer (:mod:`tracker.services.bulk_import`).

How one value reads (current value, changelog side, undo, stored form) is
:mod:`tracker.jira_import.field_values`; what needs the database stays behind its two small interfaces,
:class:`~tracker.jira_import.field_values.OptionResolver` and
:class:`~tracker.jira_import.field_values.Directory`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from tracker.jira_import import adf
from tracker.jira_import.fetch import MAX_COMMENTS, FetchedIssue, parse_timestamp
from tracker.jira_import.field_values import FIXED, Binding, Directory, FieldValues, iso
from tracker.jira_import.jira_fields import CHANGELOG_ALIASES
from tracker.jira_import.links import LinkReplay
from tracker.jira_import.mapping import RESOLUTION_DATE
from tracker.jira_import.people import Person
from tracker.models import Changeset, Field
from tracker.services.bulk_import import (
    ImportedArtifact,
    ImportedAttachment,
    ImportedChangeset,
    ImportedTimeEntry,
)
from tracker.services.history import sanitize_html
from tracker.services.values import TEXT_MAX_LENGTH

# TimeEntry.seconds is a PositiveIntegerField: 2**31 - 1 on PostgreSQL.
MAX_WORKLOG_SECONDS = 2**31 - 1


def _changeset(
    when: dt.datetime, person: Person | None, values: dict[Field, Any] | None = None, **extra: Any
) -> ImportedChangeset:
    return ImportedChangeset(
        when,
        person.user_id if person else None,
        person.imported_name if person else "",
        values or {},
        **extra,
    )


class Replay:
    """Plans the artifacts of one tracker's bindings; ``browse_url`` gives an issue key's Jira page."""

    def __init__(
        self,
        bindings: list[Binding],
        people: Directory,
        browse_url: Callable[[str], str],
        *,
        link_fields: dict[str, str] | None = None,
        field_names: dict[str, str] | None = None,
    ) -> None:
        """``link_fields``: Jira field id -> EPIC_LINK or SPRINT (fields that feed the links);
        ``field_names``: Jira field id -> name, to know the changelog's names of custom fields."""
        self.bindings = bindings
        self.people = people
        self.browse_url = browse_url
        self.by_jira_id = {b.plan.jira_id: b for b in bindings if b.plan.jira_id}
        names = field_names or {}
        self.by_custom_name = {
            names.get(b.plan.jira_id, b.plan.label): b
            for b in bindings
            if b.plan.jira_id.startswith("customfield_")
        }
        self.resolution = next((b for b in bindings if b.plan.name == RESOLUTION_DATE), None)
        self.links = next((b for b in bindings if b.kind == "links"), None)
        self.linking = LinkReplay(browse_url, link_fields or {}, names)
        self.values = FieldValues(people, self.linking)
        self.link_fields = self.linking.link_fields

    def plan(self, fetched: FetchedIssue) -> ImportedArtifact:
        """The issue's changesets (its attachments come from :meth:`attachments`). Raises KeyError,
        TypeError, AttributeError or ValueError on an issue of an unexpected shape."""
        issue, histories = fetched.issue, fetched.histories
        fields = issue["fields"]
        key = str(issue["key"])[:100]
        created = parse_timestamp(fields.get("created"))
        if created is None:
            raise KeyError("created")
        creator = self.people.person(fields.get("creator")) or self.people.person(fields.get("reporter"))
        comments = self._comments(fetched.comments)
        context = {
            "key": key,
            "url": self.browse_url(quote(key)),
            "creator": creator,
            "created": created,
            "links": self.linking.current(issue),
            "rendered": issue.get("renderedFields") or {},
            "raw_text": {
                b.plan.jira_id: fields.get(b.plan.jira_id) for b in self.bindings if b.kind == "text"
            },
            "downloaded": {a.jira_id for a in fetched.attachments} | fetched.kept_attachments,
        }
        # Undo the changelog from the current values, newest first: what each entry left behind,
        # and in the end what the issue held when it was created.
        state = {b: self.values.current(b, issue, context) for b in self.bindings}
        after: list[dict[Binding, Any]] = [{} for _ in histories]
        resolution_items: list[dict[str, Any] | None] = [None for _ in histories]
        for index in range(len(histories) - 1, -1, -1):
            touched: dict[Binding, list[dict[str, Any]]] = {}
            for item in histories[index].get("items") or []:
                if not isinstance(item, dict):
                    continue
                if item.get("fieldId", item.get("field")) == "resolution":
                    resolution_items[index] = item
                binding = self._binding_of(item)
                if binding is not None and binding.kind not in FIXED:
                    touched.setdefault(binding, []).append(item)
            for binding, items in touched.items():
                after[index][binding] = state[binding]
                for item in reversed(items):
                    state[binding] = self.values.undo(binding, state[binding], item)
        resolution = self.resolution
        first_resolution = next((item for item in resolution_items if item is not None), None)
        if resolution is not None and first_resolution is not None:
            # Resolved at creation, or not: the date is the creation's, or none until an entry resolves it.
            state[resolution] = iso(created) if first_resolution.get("from") else None

        stored = {b: self.values.stored(b, v, context) for b, v in state.items()}
        creation = _changeset(
            created, creator, {b.field: v for b, v in stored.items() if v is not None}, is_creation=True
        )
        changesets = [creation]
        events: list[tuple[dt.datetime, int, int, Any]] = [
            (h["_when"], 0, n, h) for n, h in enumerate(histories)
        ]
        events += [(c.submitted_on, 1, n, c) for n, c in enumerate(comments)]
        events.sort(key=lambda event: event[:3])
        for when, is_comment, index, event in events:
            if is_comment:
                changesets.append(event)
                continue
            values: dict[Field, Any] = {}
            for binding, value in after[index].items():
                new = self.values.stored(binding, value, context)
                if new != stored[binding]:
                    values[binding.field] = stored[binding] = new
            if resolution is not None and resolution_items[index] is not None:
                new = iso(when) if resolution_items[index].get("to") else None
                if new != stored[resolution]:
                    values[resolution.field] = stored[resolution] = new
            if values:
                changeset = _changeset(when, self.people.person(event.get("author")), values)
                changeset.source = ("changelog", str(event.get("id") or "")[:50])
                changesets.append(changeset)
        return ImportedArtifact(
            str(issue["id"])[:50], key, changesets, time_entries=self._time_entries(fetched.worklogs)
        )

    def _time_entries(self, worklogs: list[dict[str, Any]]) -> list[ImportedTimeEntry]:
        """Work logs as time entries: who, when they started, how long, what they wrote."""
        entries = []
        seen: set[str] = set()
        for worklog in worklogs:
            jira_id = str(worklog.get("id") or "")[:50]
            started = parse_timestamp(worklog.get("started")) or parse_timestamp(worklog.get("created"))
            seconds = worklog.get("timeSpentSeconds")
            if not jira_id or jira_id in seen or started is None:
                continue
            # Beyond the column (about 68 years of work) is no work log: skipped as an empty one is.
            if not isinstance(seconds, int) or isinstance(seconds, bool):
                continue
            if not 0 < seconds <= MAX_WORKLOG_SECONDS:
                continue
            seen.add(jira_id)
            comment = worklog.get("comment")
            text = adf.to_text(comment) if adf.is_adf(comment) else str(comment or "").strip()
            person = self.people.person(worklog.get("author"))
            entries.append(
                ImportedTimeEntry(
                    jira_id,
                    person.user_id if person else None,
                    started,
                    seconds,
                    text[:5000],
                    parse_timestamp(worklog.get("updated")),
                )
            )
        return entries

    def attachments(self, fetched: FetchedIssue) -> list[ImportedAttachment]:
        """The issue's downloaded files, each with its author matched."""
        found = []
        for a in fetched.attachments:
            person = self.people.person(a.author)
            user_id = person.user_id if person else None
            found.append(
                ImportedAttachment(a.jira_id, a.name, a.filename, a.size, a.content_type, user_id, a.when)
            )
        return found

    def _binding_of(self, item: dict[str, Any]) -> Binding | None:
        if self.linking.role(item) is not None:
            return self.links
        field_id = item.get("fieldId")
        if field_id:
            return self.by_jira_id.get(str(field_id))
        name = str(item.get("field") or "")
        if item.get("fieldtype") == "custom":
            return self.by_custom_name.get(name)
        return self.by_jira_id.get(CHANGELOG_ALIASES.get(name, name))

    def _comments(self, comments: list[dict[str, Any]]) -> list[ImportedChangeset]:
        planned = []
        for comment in comments[:MAX_COMMENTS]:
            when = parse_timestamp(comment.get("created"))
            if when is None:
                continue
            html = comment.get("renderedBody")
            body = comment.get("body")
            text, text_format = "", Changeset.CommentFormat.TEXT
            if adf.is_adf(body) and not (isinstance(html, str) and html.strip()):
                html = adf.to_html(body)
            if isinstance(html, str) and html.strip():
                text, text_format = (
                    sanitize_html(html[:TEXT_MAX_LENGTH]).strip(),
                    Changeset.CommentFormat.HTML,
                )
            if not text and isinstance(body, str):
                text, text_format = body.strip()[:TEXT_MAX_LENGTH], Changeset.CommentFormat.TEXT
            if text:
                changeset = _changeset(
                    when, self.people.person(comment.get("author")), comment=text, comment_format=text_format
                )
                changeset.source = ("comment", str(comment.get("id") or "")[:50])
                changeset.source_updated = parse_timestamp(comment.get("updated"))
                planned.append(changeset)
        return planned
