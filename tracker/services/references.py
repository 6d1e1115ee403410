"""References between artifacts as one reader sees them: `bug #42` in text, and "Linked from".

Comments and rich text are rendered once, when stored (``tracker.services.rendering``), and that HTML
is the same for everyone. Whether ``#42`` may become a link depends on who reads it, so it is decided
here, at reading time, per page: every reference of the page is collected first and the targets the
reader may read come from one query (``tracker.permissions.readable_artifacts``, the one owner of the
rule; Jira-like keys add one look-up of the keys). A target the reader may not read stays plain
text, its title never shown.

Written forms: ``#42``, ``art #42``, ``<tracker shortname> #42`` (Tuleap's), and the Jira key an
imported issue had (``DI-7``, kept in ``JiraIssueRecord.jira_issue_key``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection
from django.db.models import Func, JSONField, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from tracker.models import Artifact, Field, FieldType, JiraIssueRecord
from tracker.permissions import AnyUser, readable_artifacts
from tracker.services.history import FieldChange, HistoryEntry
from tracker.services.value_rendering import ValueRenderer

# `#42`, `art #42`, `bug #42`: not inside a word, a URL's fragment (`/#42`) or an entity (`&#42;`).
# Jira keys (`DI-7`): capitals, a dash, digits, not inside a longer word or dashed name.
REFERENCE = re.compile(
    r"(?<![\w&#/])(?:(?P<keyword>[A-Za-z][\w-]{0,29}) )?#(?P<id>\d{1,18})(?![\w-])"
    r"|(?<![\w/-])(?P<key>[A-Z][A-Z0-9_]{0,29}-\d{1,12})(?![\w-])"
)
GENERIC_KEYWORD = "art"
MAX_ID = 2**63

# A tag of sanitized HTML. nh3 (html5ever's serializer) always double-quotes attribute values and
# does not escape ">" inside them, so a quoted value is read whole. Text never holds a raw "<" (it is
# "&lt;" in sanitized and in escaped text), so every "<" starts a tag that ends.
TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)")
# Inside these, text is a link already or code: left as written.
UNLINKED_TAGS = frozenset({"a", "code", "pre"})

# How many artifacts "Linked from" lists (it says when there are more): the page's cost stays bounded.
BACKLINKS_SHOWN = 50


def _text_segments(html: str) -> Iterable[tuple[str, bool]]:
    """``(piece, is_linkable_text)`` in order: tags, text inside a/code/pre, and the rest."""
    depth = 0
    position = 0
    for match in TAG.finditer(html):
        if match.start() > position:
            yield html[position : match.start()], depth == 0
        tag = match.group(0)
        name_match = TAG_NAME.match(tag)
        name = name_match.group(1).lower() if name_match else ""
        if name in UNLINKED_TAGS and not tag.endswith("/>"):
            depth = max(0, depth - 1) if tag.startswith("</") else depth + 1
        yield tag, False
        position = match.end()
    if position < len(html):
        yield html[position:], depth == 0


@dataclass(frozen=True)
class Mentions:
    ids: frozenset[int] = frozenset()
    keys: frozenset[str] = frozenset()


def mentions_in(htmls: Iterable[str]) -> Mentions:
    """Every artifact id and Jira key written in the text of these (sanitized or escaped) HTML texts."""
    ids: set[int] = set()
    keys: set[str] = set()
    for html in htmls:
        for piece, linkable in _text_segments(html or ""):
            if not linkable:
                continue
            for match in REFERENCE.finditer(piece):
                if match.group("key"):
                    keys.add(match.group("key"))
                elif 0 < int(match.group("id")) < MAX_ID:
                    ids.add(int(match.group("id")))
    return Mentions(frozenset(ids), frozenset(keys))


@dataclass
class ReadableTargets:
    """The referenced artifacts one reader may read, by id and by Jira key."""

    by_id: dict[int, Artifact] = field(default_factory=dict)
    by_key: dict[str, Artifact] = field(default_factory=dict)

    @classmethod
    def load(cls, reader: AnyUser, mentions: Mentions) -> ReadableTargets:
        """One query whatever the number of references (two when the text holds Jira-like keys).

        The keys are looked up first, on their own: ``pk IN (...) OR <joined key> IN (...)`` makes
        PostgreSQL scan every artifact (50 ms at 100,000 of them) where ``pk IN (...)`` reads the
        primary key's index (2 ms).
        """
        if not mentions.ids and not mentions.keys:
            return cls()
        artifact_keys: dict[int, str] = {}
        ambiguous: set[str] = set()
        if mentions.keys:
            seen: set[str] = set()
            for artifact_id, key in JiraIssueRecord.objects.filter(
                jira_issue_key__in=mentions.keys
            ).values_list("artifact_id", "jira_issue_key"):
                # Two Jira sites may both have had a DI-7: such a key names nothing for sure.
                if key in seen:
                    ambiguous.add(key)
                seen.add(key)
                artifact_keys[artifact_id] = key
        found = (
            readable_artifacts(reader)
            .filter(pk__in=mentions.ids | artifact_keys.keys())
            .select_related("tracker")
        )
        by_id: dict[int, Artifact] = {}
        by_key: dict[str, Artifact] = {}
        for artifact in found:
            if artifact.pk in mentions.ids:
                by_id[artifact.pk] = artifact
            key = artifact_keys.get(artifact.pk)
            if key is not None and key not in ambiguous:
                by_key[key] = artifact
        return cls(by_id, by_key)

    def _link(self, text: str, target: Artifact) -> str:
        return format_html(
            '<a href="{}" class="reference" title="{}">{}</a>',
            target.get_absolute_url(),
            f"{target.reference} {target.title}".strip(),
            text,
        )

    def _replace(self, match: re.Match[str]) -> str:
        written = match.group(0)
        if match.group("key"):
            target = self.by_key.get(match.group("key"))
            return self._link(written, target) if target is not None else written
        target = self.by_id.get(int(match.group("id")))
        if target is None:
            return written
        keyword = match.group("keyword")
        if keyword is None or keyword.lower() in (GENERIC_KEYWORD, target.tracker.shortname.lower()):
            return self._link(written, target)
        # "see #42": the word before is prose, not a reference keyword.
        return f"{keyword} {self._link(f'#{target.pk}', target)}"

    def link(self, html: str) -> str:
        """``html`` (sanitized or escaped) with its references to readable targets made links.

        The pieces matched are letters, digits, "#" and "-" of the escaped text, so they need no
        escaping; the title goes through ``format_html``.
        """
        if not html or (not self.by_id and not self.by_key):
            return html
        return "".join(
            REFERENCE.sub(self._replace, piece) if linkable else piece
            for piece, linkable in _text_segments(html)
        )


def plain_text_html(text: str) -> str:
    """A plain-text value as escaped HTML (its line breaks are kept by the page's CSS)."""
    return str(escape(text))


# -- Linked from -----------------------------------------------------------------------------------


@dataclass
class Backlink:
    artifact: Artifact
    link_type: str


@dataclass
class Backlinks:
    shown: list[Backlink]
    # More than ``limit`` artifacts link here: the page says so rather than listing them all.
    more: bool


def _points_at(value: object, target_id: int) -> str | None:
    """The link type when a links value holds a link to ``target_id``."""
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("artifact") == target_id:
            return str(item.get("type") or "")
    return None


class LinkTargets(Func):
    """Every link target of an artifact as one JSON array: the expression the PostgreSQL index
    ``artifact_link_targets`` (migration 0014) is built on, written the same way so that it is used."""

    template = "jsonb_path_query_array(%(expressions)s, 'lax $.*[*].artifact')"
    output_field = JSONField()


def _pointing_at(artifacts: QuerySet[Artifact], target_id: int) -> QuerySet[Artifact]:
    """The artifacts whose current values hold a link to ``target_id`` (and, on SQLite, a few that
    only look so: the caller checks)."""
    if connection.vendor == "postgresql":
        return artifacts.alias(link_targets=LinkTargets("current_values")).filter(
            link_targets__contains=[target_id]
        )
    text = Cast("current_values", TextField())
    needle = f'"artifact": {target_id}'
    return artifacts.alias(values_text=text).filter(
        Q(values_text__contains=f"{needle},") | Q(values_text__contains=f"{needle}}}")
    )


def backlinks(reader: AnyUser, target: Artifact, *, limit: int = BACKLINKS_SHOWN) -> Backlinks:
    """The artifacts whose links field points at ``target`` now, those ``reader`` may read only.

    Two queries and at most ``limit + 1`` rows whatever their number: the candidates, then their
    trackers' links fields to check them. Links live in ``current_values`` (JSON). On PostgreSQL the
    candidates come from the GIN index on every link target (:class:`LinkTargets`). On SQLite (no
    such index: a scan) the values are read as text: Django writes them with ``json.dumps``, so a
    member reads ``"artifact": 42`` followed by "," or "}" and the match is exact on the id (inside a
    JSON string the quotes would be escaped). The links-field check then drops a value of another
    field type that holds such an object.
    """
    candidates = list(
        _pointing_at(readable_artifacts(reader).exclude(pk=target.pk), target.pk)
        .select_related("tracker")
        .order_by("-last_updated_on", "-id")[: limit + 1]
    )
    if not candidates:
        return Backlinks([], more=False)
    link_fields: dict[int, list[str]] = {}
    for tracker_id, field_id in Field.objects.filter(
        tracker_id__in={a.tracker_id for a in candidates}, type=FieldType.LINKS
    ).values_list("tracker_id", "pk"):
        link_fields.setdefault(tracker_id, []).append(str(field_id))
    found: list[Backlink] = []
    for artifact in candidates:
        for key in link_fields.get(artifact.tracker_id, []):
            link_type = _points_at(artifact.current_values.get(key), target.pk)
            if link_type is not None:
                found.append(Backlink(artifact, link_type))
                break
    return Backlinks(found[:limit], more=len(candidates) > limit)


def linked_texts(reader: AnyUser, htmls: Sequence[str]) -> list[str]:
    """Each HTML text with its references linked for ``reader``: one query for them all."""
    targets = ReadableTargets.load(reader, mentions_in(htmls))
    return [targets.link(html) for html in htmls]


ValueRow = tuple[Field, Any, str, str]


def linked_page(reader: AnyUser, rows: Sequence[ValueRow], entries: Sequence[HistoryEntry]) -> list[ValueRow]:
    """The artifact page's text values and comments, references linked for ``reader`` (one query).

    ``rows``: ``ArtifactView.current()``; each text value comes back with its HTML set (the stored
    rich text, or the escaped plain text) and linked. The entries (built for this request, never
    shared) get their ``comment_html`` linked in place: the stored, shared HTML is left as it is.
    """
    text_rows = [i for i, (f, _, text, _) in enumerate(rows) if f.type == FieldType.TEXT and text]
    sources = [rows[i][3] or plain_text_html(rows[i][2]) for i in text_rows]
    linked = linked_texts(reader, sources + [entry.comment_html for entry in entries])
    result = list(rows)
    for i, html in zip(text_rows, linked, strict=False):
        field_, value, text, _ = rows[i]
        result[i] = (field_, value, text, mark_safe(html))  # noqa: S308 (sanitized or escaped, then linked)
    for entry, html in zip(entries, linked[len(text_rows) :], strict=True):
        entry.comment_html = html
    return result


# -- Emails ----------------------------------------------------------------------------------------


def links_as_read_by(
    fields: Sequence[Field],
    changes: Sequence[FieldChange],
    readable: Iterable[int],
    *,
    project_id: int | None = None,
) -> list[FieldChange]:
    """``changes`` with their links named for readers who may read ``readable`` only (the linked
    artifacts every recipient of an email may read), and, with ``project_id``, only those of that
    project (for plain addresses, who read nothing but this project's emails). One query."""
    links = [c for c in changes if c.field.type == FieldType.LINKS]
    if not links:
        return list(changes)
    renderer = ValueRenderer.for_values(fields, [{str(c.field.pk): v} for c in links for v in (c.old, c.new)])
    renderer.readable = frozenset(
        pk
        for pk in readable
        if pk in renderer.artifacts and project_id in (None, renderer.artifacts[pk].tracker.project_id)
    )
    return [
        replace(c, old_text=renderer.text(c.field, c.old), new_text=renderer.text(c.field, c.new))
        if c.field.type == FieldType.LINKS
        else c
        for c in changes
    ]


def link_targets(changes: Iterable[FieldChange]) -> set[int]:
    """The artifacts the links values of ``changes`` point at."""
    return {
        item["artifact"]
        for c in changes
        if c.field.type == FieldType.LINKS
        for value in (c.old, c.new)
        for item in (value or [])
        if isinstance(item, dict) and "artifact" in item
    }
