"""Stored values as people and the API read them: :class:`ValueRenderer`, and how people are named.

One batch of queries per page (users, options, attachments, linked artifacts and which of those the
reader may read), whatever the number of values rendered; the history, the pages, the API and the
emails (tracker.services.history, tracker.services.references) all name values through it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import nh3
from django.db.models import Exists, OuterRef
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from tracker.models import Artifact, Attachment, Field, FieldOption, FieldType, User
from tracker.permissions import AnyUser, readable_artifacts
from tracker.services.values import is_markdown_text

LINE_END = re.compile(r"(?i)<br\s*/?>|</(li|tr|div)>")
PARAGRAPH_END = re.compile(r"(?i)</(p|h[1-6]|pre|blockquote|ul|ol|table)>")


def html_to_text(html: str) -> str:
    """Readable plain text from (sanitized) HTML, for diffs and the plain-text email part."""
    text = PARAGRAPH_END.sub("\n\n", LINE_END.sub("\n", html))
    text = unescape(nh3.clean(text, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


MULTI_VALUED = {
    FieldType.USERS,
    FieldType.MULTI_SELECT,
    FieldType.OPEN_LIST,
    FieldType.FILES,
    FieldType.LINKS,
}


IMPORTED_PERSON_PREFIX = "jira."
IMPORTED_PERSON_MARK = "(Jira)"


def imported_name(name: str) -> str:
    """How a person known only from an import is named: "<their name there> (Jira)"."""
    return f"{name} {IMPORTED_PERSON_MARK}"


def person_name(user: User) -> str:
    """A user as pages, emails and the API name them; an imported person by their imported name."""
    if (
        not user.is_active
        and user.username.startswith(IMPORTED_PERSON_PREFIX)
        and user.last_name == IMPORTED_PERSON_MARK
    ):
        return imported_name(user.first_name or user.username)
    return user.display_name


def format_datetime(stored: str) -> str:
    """A stored ISO 8601 UTC value as people read it: ``2026-11-30 10:00 UTC``."""
    try:
        moment = dt.datetime.fromisoformat(stored)
    except (TypeError, ValueError):
        return str(stored)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class ValueRenderer:
    """Turns stored values into text for people and into JSON for the API.

    Build it with :meth:`for_values` so that users, options, attachments and linked artifacts named
    by all the values at hand are loaded in one query each.
    """

    users: dict[int, User] = field(default_factory=dict)
    options: dict[int, FieldOption] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    # Text fields of imported artifacts hold sanitized HTML (Jira's rendered descriptions).
    rich_text: bool = False
    # The project of the artifact being shown: links into other private projects stay unnamed, since
    # the reader (or an email's recipient) may not be able to read them.
    project_id: int | None = None
    # When the reader is known (the artifact page): the linked artifacts they may read. Those are
    # named and linked, the others shown as "#42" only (the project rule above is for unknown readers).
    readable: frozenset[int] | None = None

    @classmethod
    def for_values(
        cls,
        fields: Iterable[Field],
        values: Iterable[dict[str, Any]],
        *,
        rich_text: bool = False,
        project_id: int | None = None,
        reader: AnyUser | None = None,
    ) -> ValueRenderer:
        """``values``: dicts keyed by ``str(field.pk)`` (current_values, or a changeset's values).

        ``reader``: who reads the values; which linked artifacts they may read is asked in the query
        that loads them.
        """
        by_id = {str(f.pk): f for f in fields}
        user_ids: set[int] = set()
        option_ids: set[int] = set()
        attachment_ids: set[int] = set()
        artifact_ids: set[int] = set()
        for mapping in values:
            for key, value in mapping.items():
                field_ = by_id.get(key)
                if field_ is None or value is None:
                    continue
                items = value if isinstance(value, list) else [value]
                if field_.is_user_field:
                    user_ids.update(items)
                elif field_.is_choice_field:
                    option_ids.update(items)
                elif field_.type == FieldType.FILES:
                    attachment_ids.update(items)
                elif field_.type == FieldType.LINKS:
                    artifact_ids.update(item["artifact"] for item in items if "artifact" in item)
        artifacts, readable = _linked_artifacts(artifact_ids, reader)
        return cls(
            users=User.objects.in_bulk(user_ids) if user_ids else {},
            options=FieldOption.objects.in_bulk(option_ids) if option_ids else {},
            attachments=Attachment.objects.in_bulk(attachment_ids) if attachment_ids else {},
            artifacts=artifacts,
            rich_text=rich_text,
            project_id=project_id,
            readable=readable,
        )

    def _user_text(self, user_id: int) -> str:
        user = self.users.get(user_id)
        return person_name(user) if user else f"deleted user #{user_id}"

    def _option_text(self, option_id: int) -> str:
        option = self.options.get(option_id)
        return option.label if option else f"deleted value #{option_id}"

    def _link_text(self, link: dict[str, Any]) -> str:
        kind = f"{link['type']} " if link.get("type") else ""
        if "artifact" in link:
            target = self.artifacts.get(link["artifact"])
            if self.readable is not None:
                # The reader is known: only what they may read is named (a deleted artifact and one
                # they may not read look alike, so "#42" tells nothing of what is private).
                if target is None or target.pk not in self.readable:
                    return f"{kind}#{link['artifact']}"
                return f"{kind}{target.reference} {target.title}".strip()
            if target is None:
                return f"{kind}a deleted artifact"
            project = target.tracker.project
            if self.project_id is not None and project.pk != self.project_id and not project.is_public:
                return f"{kind}an artifact of another project"
            return f"{kind}{target.reference}"
        return f"{kind}{link.get('key', '')} {link.get('url', '')}".strip()

    def _link_html(self, link: dict[str, Any]) -> str:
        kind = f"{link['type']} " if link.get("type") else ""
        target = self.artifacts.get(link["artifact"]) if "artifact" in link else None
        if target is not None and self.readable is not None and target.pk in self.readable:
            return format_html(
                '{}<a href="{}" class="artifact-link">{} {}</a>',
                kind,
                target.get_absolute_url(),
                target.reference,
                target.title,
            )
        url = str(link.get("url") or "")
        if "artifact" not in link and url.startswith(("https://", "http://")):
            return format_html(
                '{}<a href="{}" rel="noopener noreferrer nofollow">{}</a>', kind, url, link.get("key") or url
            )
        return str(escape(self._link_text(link)))

    def links_html(self, field_: Field, value: Any) -> SafeString:
        """Links as HTML for a known reader (the artifact page): readable targets are links; "" else."""
        if field_.type != FieldType.LINKS or self.readable is None or not value:
            return mark_safe("")
        items = value if isinstance(value, list) else [value]
        return mark_safe(", ".join(self._link_html(item) for item in items))  # noqa: S308 (escaped above)

    def text(self, field_: Field, value: Any) -> str:
        """A one-line, plain-text rendering (escape it before putting it in HTML)."""
        if value is None or value == []:
            return ""
        items = value if isinstance(value, list) else [value]
        if field_.is_user_field:
            return ", ".join(self._user_text(item) for item in items)
        if field_.is_choice_field:
            return ", ".join(self._option_text(item) for item in items)
        if field_.type == FieldType.FILES:
            return ", ".join(
                self.attachments[item].filename if item in self.attachments else f"#{item}" for item in items
            )
        if field_.type == FieldType.LINKS:
            return ", ".join(self._link_text(item) for item in items)
        if field_.type == FieldType.OPEN_LIST:
            return ", ".join(items)
        if field_.type == FieldType.DATETIME:
            return format_datetime(value)
        if field_.type == FieldType.TEXT and is_markdown_text(value):
            return value["source"]  # Markdown reads as plain text: the history and emails quote it
        if field_.type == FieldType.TEXT and self.rich_text:
            return html_to_text(value)
        return str(value)

    def html(self, field_: Field, value: Any) -> str:
        """Safe HTML for a rich text value (imported artifacts), or "" when it is plain text.

        Stored sanitized: the import and the artifact service sanitize it when they write it.
        """
        if field_.type == FieldType.TEXT and is_markdown_text(value):
            return str(value["html"])  # rendered and sanitized when stored (values.markdown_text)
        if field_.type != FieldType.TEXT or not self.rich_text or not value:
            return ""
        return str(value)

    def api(self, field_: Field, value: Any) -> Any:
        """The API's representation: usernames for users, labels for options, ids for the rest."""
        if value is None:
            return [] if field_.type in MULTI_VALUED else None
        if field_.type == FieldType.USER:
            user = self.users.get(value)
            return _api_user(user) if user else None
        if field_.type == FieldType.USERS:
            return [_api_user(self.users[item]) for item in value if item in self.users]
        if field_.type == FieldType.SELECT:
            option = self.options.get(value)
            return option.label if option else None
        if field_.type == FieldType.MULTI_SELECT:
            return [self.options[item].label for item in value if item in self.options]
        return value


def _linked_artifacts(
    artifact_ids: set[int], reader: AnyUser | None
) -> tuple[dict[int, Artifact], frozenset[int] | None]:
    """The linked artifacts, and (for a known reader) which of them they may read: one query, the
    rule being tracker.permissions' (``readable_artifacts``)."""
    if not artifact_ids:
        return {}, (frozenset() if reader is not None else None)
    found = Artifact.objects.select_related("tracker__project").filter(pk__in=artifact_ids)
    if reader is None:
        return {a.pk: a for a in found}, None
    found = found.annotate(may_read=Exists(readable_artifacts(reader).filter(pk=OuterRef("pk"))))
    artifacts = {a.pk: a for a in found}
    return artifacts, frozenset(pk for pk, a in artifacts.items() if a.may_read)


def _api_user(user: User) -> str:
    """Usernames; an imported person, who has no username to give, by their imported name."""
    name = person_name(user)
    return user.username if name == user.display_name else name
