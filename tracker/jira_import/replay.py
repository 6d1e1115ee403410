"""How a fetched Jira issue becomes an artifact's history: planned changesets, no database.

The first changeset is the issue as it was created: dated ``created``, authored by its creator, each
field holding its first changelog ``from`` value, or its current value when it never changed. Jira
only gives the current values and the changelog, so :class:`Replay` starts from the current values
and undoes the changelog newest first; that also rebuilds multi-valued fields, whose changelog adds or
removes one value per item. Then comes one changeset per changelog entry (its author, date and changed
values) and one per comment, merged in date order. Values are converted to the representations of
:mod:`tracker.services.values`; files name Jira's attachment ids and links keep the Jira key and URL
(with the Jira id), both settled by the writer (:mod:`tracker.services.bulk_import`).

What needs the database stays behind two small interfaces given to :class:`Replay`: the options of
select fields (:class:`OptionResolver`, :class:`tracker.jira_import.options.Options` in the import)
and who is who (:class:`Directory`, :class:`tracker.jira_import.people.People`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from django.utils.html import escape, linebreaks

from tracker.jira_import import adf
from tracker.jira_import.fetch import MAX_COMMENTS, FetchedIssue, parse_timestamp
from tracker.jira_import.links import LinkReplay
from tracker.jira_import.mapping import (
    CHANGELOG_ALIASES,
    RESOLUTION_DATE,
    FieldPlan,
    cascading_label,
)
from tracker.jira_import.people import Person
from tracker.models import Changeset, Field
from tracker.services.bulk_import import (
    ImportedArtifact,
    ImportedAttachment,
    ImportedChangeset,
    ImportedTimeEntry,
    SourceFiles,
)
from tracker.services.history import sanitize_html
from tracker.services.values import LIST_MAX_ITEMS, STRING_MAX_LENGTH, TEXT_MAX_LENGTH

# Kinds whose changelog adds or removes one value per item, instead of giving the whole value.
ITEMIZED = {"named_items", "attachments"}
# Kinds the changelog never changes (the always-created metadata).
FIXED = {"key", "url", "creator", "created", "updated", "resolution"}


class OptionResolver(Protocol):
    def resolve(self, jira_id: Any, label: Any) -> int | None:
        """The option id of a select field's value, by its Jira id or else its label."""


class Directory(Protocol):
    def person(self, user: dict[str, Any] | None) -> Person | None:
        """The person for a user object of an issue, comment or history."""

    def by_reference(self, ref: str | None, display_name: str | None) -> Person | None:
        """The person the changelog names by account id (Cloud) or user key (Server)."""


@dataclass(eq=False)
class Binding:
    """A tracker field and how the engine reads its Jira values."""

    plan: FieldPlan
    field: Field
    options: OptionResolver | None = None

    @property
    def kind(self) -> str:
        return self.plan.kind


@dataclass(frozen=True)
class TextValue:
    """A rich text as Jira wrote it (wiki markup), made HTML when stored; ``html`` when only
    Atlassian Document Format came (converted already)."""

    raw: str
    html: str | None = None


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def option_label_of(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    label = value.get("value", value.get("name"))
    return " ".join(str(label if label is not None else "").split())[:255]


def _hours(value: Any) -> float | None:
    """Jira's seconds (a number, or the changelog's string) as hours."""
    try:
        seconds = float(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return round(seconds / 3600, 4)


def _cascading_side(binding: Binding, raw: Any, text: Any) -> int | None:
    """A cascading select's changelog side: "Parent values: EMEA(10140)Level 1 values: France(10141)"."""
    if text is None and raw is None:
        return None
    words = str(text or "")
    parent, _, child = words.partition("Level 1 values:")
    parent = parent.replace("Parent values:", "").strip()
    parent_label = parent.rsplit("(", 1)[0].strip() if parent.endswith(")") else parent
    child_label = child.strip().rsplit("(", 1)[0].strip() if child.strip().endswith(")") else child.strip()
    if not parent_label:
        return None
    assert binding.options is not None
    return binding.options.resolve(None, cascading_label(parent_label, child_label or None))


def _split(value: Any, separator: str = ",") -> list[str]:
    if value is None:
        return []
    text = str(value).strip().strip("[]")
    return [part.strip() for part in text.split(separator) if part.strip()]


def _one_line(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if len(text) > STRING_MAX_LENGTH:
        text = text[: STRING_MAX_LENGTH - 1] + "…"
    return text or None


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
            "downloaded": {a.jira_id for a in fetched.attachments},
        }
        # Undo the changelog from the current values, newest first: what each entry left behind,
        # and in the end what the issue held when it was created.
        state = {b: self._current(b, issue, context) for b in self.bindings}
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
                    state[binding] = self._undo(binding, state[binding], item)
        resolution = self.resolution
        first_resolution = next((item for item in resolution_items if item is not None), None)
        if resolution is not None and first_resolution is not None:
            # Resolved at creation, or not: the date is the creation's, or none until an entry resolves it.
            state[resolution] = _iso(created) if first_resolution.get("from") else None

        stored = {b: self._stored(b, v, context) for b, v in state.items()}
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
                new = self._stored(binding, value, context)
                if new != stored[binding]:
                    values[binding.field] = stored[binding] = new
            if resolution is not None and resolution_items[index] is not None:
                new = _iso(when) if resolution_items[index].get("to") else None
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
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
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

    # -- values -----------------------------------------------------------------------------------

    def _current(self, binding: Binding, issue: dict[str, Any], context: dict[str, Any]) -> Any:
        fields = issue["fields"]
        kind = binding.kind
        raw = fields.get(binding.plan.jira_id) if binding.plan.jira_id else None
        if kind == "string":
            return _one_line(raw) if isinstance(raw, (str, int, float)) else None
        if kind == "text":
            if adf.is_adf(raw):
                html = adf.to_html(raw)
                return TextValue(html, html) if html else None
            return TextValue(raw) if isinstance(raw, str) and raw.strip() else None
        if kind == "seconds":
            return _hours(raw)
        if kind == "named_text":
            return _one_line(raw.get("name")) if isinstance(raw, dict) else None
        if kind == "cascading":
            if not isinstance(raw, dict):
                return None
            assert binding.options is not None
            child = raw.get("child") if isinstance(raw.get("child"), dict) else None
            label = cascading_label(option_label_of(raw), option_label_of(child) if child else None)
            jira_id = f"{raw.get('id')}/{child.get('id')}" if child else raw.get("id")
            return binding.options.resolve(jira_id, label)
        if kind == "number":
            return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if kind == "date":
            return _date(raw)
        if kind == "datetime":
            return _iso(parse_timestamp(raw))
        if kind in ("named", "option"):
            if not isinstance(raw, dict):
                return None
            assert binding.options is not None
            return binding.options.resolve(raw.get("id"), raw.get("value", raw.get("name")))
        if kind in ("options", "named_items"):
            assert binding.options is not None
            items = [v for v in raw or [] if isinstance(v, dict)] if isinstance(raw, list) else []
            resolved = {binding.options.resolve(v.get("id"), v.get("value", v.get("name"))) for v in items}
            return frozenset(resolved - {None})
        if kind == "labels":
            return [str(v) for v in raw] if isinstance(raw, list) else []
        if kind == "user":
            person = self.people.person(raw)
            return person.user_id if person else None
        if kind == "users":
            people = [self.people.person(v) for v in raw] if isinstance(raw, list) else []
            return frozenset(p.user_id for p in people if p is not None)
        if kind == "key":
            return context["key"]
        if kind == "url":
            return _one_line(context["url"])
        if kind == "creator":
            return context["creator"].user_id if context["creator"] else None
        if kind == "created":
            return _iso(context["created"])
        if kind == "updated":
            return _iso(parse_timestamp(fields.get("updated")) or context["created"])
        if kind == "resolution":
            return _iso(parse_timestamp(fields.get("resolutiondate")))
        if kind == "attachments":
            return frozenset(str(a.get("id")) for a in raw or [] if isinstance(a, dict))
        if kind == "links":
            return frozenset(context["links"])
        return None  # pragma: no cover - every kind of mapping.py is handled above

    def _side(self, binding: Binding, raw: Any, text: Any) -> Any:
        """One side (``from``/``fromString`` or ``to``/``toString``) of a changelog item, as a state value."""
        kind = binding.kind
        if kind in ("string", "named_text"):
            return _one_line(text)
        if kind == "seconds":
            return _hours(raw if raw is not None else text)
        if kind == "cascading":
            assert binding.options is not None
            return _cascading_side(binding, raw, text)
        if kind == "text":
            return TextValue(str(text)) if text is not None and str(text).strip() else None
        if kind == "number":
            try:
                value = float(str(text).strip()) if text is not None else None
            except ValueError:
                return None
            return value if value is not None and math.isfinite(value) else None
        if kind == "date":
            return _date(raw) or _date(text)
        if kind == "datetime":
            return _iso(parse_timestamp(raw) or parse_timestamp(text))
        if kind in ("named", "option", "named_items"):
            assert binding.options is not None
            return binding.options.resolve(raw, text) if (raw is not None or text is not None) else None
        if kind == "options":
            assert binding.options is not None
            ids, labels = _split(raw), _split(text)
            if ids and len(ids) == len(labels):
                pairs = list(zip(ids, labels, strict=True))
            elif ids:
                pairs = [(i, None) for i in ids]
            else:
                pairs = [(None, label) for label in labels]
            return frozenset({binding.options.resolve(i, label) for i, label in pairs} - {None})
        if kind == "labels":
            return str(text).split() if text is not None else []
        if kind == "user":
            person = self.people.by_reference(raw, text)
            return person.user_id if person else None
        if kind == "users":
            refs, names = _split(raw), _split(text)
            people = [
                self.people.by_reference(ref, names[n] if len(names) == len(refs) else None)
                for n, ref in enumerate(refs)
            ]
            return frozenset(p.user_id for p in people if p is not None)
        if kind == "attachments":
            return str(raw) if raw is not None else None
        return None

    def _undo(self, binding: Binding, value: Any, item: dict[str, Any]) -> Any:
        """The value before ``item``, given the value after it."""
        if binding.kind == "links":
            return self.linking.undo(value, item)
        before = (item.get("from"), item.get("fromString"))
        if binding.kind in ITEMIZED:
            values = set(value or ())
            after = (item.get("to"), item.get("toString"))
            if after != (None, None):
                values.discard(self._side(binding, *after))
            if before != (None, None):
                values.add(self._side(binding, *before))
            return frozenset(values - {None})
        return self._side(binding, *before)

    def _stored(self, binding: Binding, value: Any, context: dict[str, Any]) -> Any:
        """A state value in the representation the artifact service stores (files: Jira ids still)."""
        if value is None:
            return None
        kind = binding.kind
        if kind == "links":
            return self.linking.stored(value)
        if kind == "text":
            raw = value.raw
            rendered = context["rendered"].get(binding.plan.jira_id)
            if value.html is not None:
                html = value.html
            elif raw == context["raw_text"].get(binding.plan.jira_id) and isinstance(rendered, str):
                html = sanitize_html(rendered[:TEXT_MAX_LENGTH])
            else:  # the history has the wiki markup only: kept as text, made HTML like the rest
                html = str(linebreaks(escape(raw[:TEXT_MAX_LENGTH])))
            return html.strip()[:TEXT_MAX_LENGTH] or None
        if kind == "attachments":
            kept = sorted(jid for jid in value if jid in context["downloaded"])
            return SourceFiles(tuple(kept)) if kept else None
        if isinstance(value, frozenset):
            return sorted(value)[:LIST_MAX_ITEMS] or None
        if kind == "labels":
            labels: list[str] = []
            for label in value:
                label = str(label).strip()[:100]
                if label and label not in labels:
                    labels.append(label)
            return labels[:LIST_MAX_ITEMS] or None
        return value

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
