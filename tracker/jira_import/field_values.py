"""What a Jira field's value means here: an issue's current value, a changelog side, undoing a
changelog item, and the representation the artifact service stores — pure conversions, no database.

:class:`tracker.jira_import.replay.Replay` walks an issue's history; this module says, for each field
kind of :mod:`tracker.jira_import.mapping`, how one value reads. What needs the database stays behind
two small interfaces: the options of select fields (:class:`OptionResolver`) and who is who
(:class:`Directory`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.html import escape, linebreaks

from tracker.jira_import import adf
from tracker.jira_import.fetch import parse_timestamp
from tracker.jira_import.links import LinkReplay
from tracker.jira_import.mapping import FieldPlan, cascading_label
from tracker.jira_import.people import Person
from tracker.models import Field
from tracker.services.bulk_import import SourceFiles
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


def iso(moment: dt.datetime | None) -> str | None:
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


class FieldValues:
    """Reads and converts the values of one import's fields; people and links come from the replay."""

    def __init__(self, people: Directory, linking: LinkReplay) -> None:
        self.people = people
        self.linking = linking

    def current(self, binding: Binding, issue: dict[str, Any], context: dict[str, Any]) -> Any:
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
            return iso(parse_timestamp(raw))
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
            return iso(context["created"])
        if kind == "updated":
            return iso(parse_timestamp(fields.get("updated")) or context["created"])
        if kind == "resolution":
            return iso(parse_timestamp(fields.get("resolutiondate")))
        if kind == "attachments":
            return frozenset(str(a.get("id")) for a in raw or [] if isinstance(a, dict))
        if kind == "links":
            return frozenset(context["links"])
        return None  # pragma: no cover - every kind of mapping.py is handled above

    def side(self, binding: Binding, raw: Any, text: Any) -> Any:
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
            return iso(parse_timestamp(raw) or parse_timestamp(text))
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

    def undo(self, binding: Binding, value: Any, item: dict[str, Any]) -> Any:
        """The value before ``item``, given the value after it."""
        if binding.kind == "links":
            return self.linking.undo(value, item)
        before = (item.get("from"), item.get("fromString"))
        if binding.kind in ITEMIZED:
            values = set(value or ())
            after = (item.get("to"), item.get("toString"))
            if after != (None, None):
                values.discard(self.side(binding, *after))
            if before != (None, None):
                values.add(self.side(binding, *before))
            return frozenset(values - {None})
        return self.side(binding, *before)

    def stored(self, binding: Binding, value: Any, context: dict[str, Any]) -> Any:
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
