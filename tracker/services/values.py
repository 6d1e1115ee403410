"""Field values: turning what people type or send into what a changeset stores, and back.

Stored representations (JSON): string/text -> str (a Markdown text -> {"format": "markdown",
"source": str, "html": sanitized HTML rendered when stored}, see :func:`markdown_text`); int -> int;
float -> float; date -> "YYYY-MM-DD";
datetime -> ISO 8601 in UTC; select -> option id; multi-select -> [option ids]; user -> user id;
users -> [user ids]; open list -> [labels]; files -> [attachment ids];
links -> [{"artifact": id, "type": name}] or [{"key": ..., "url": ..., "type": ...}] for outside issues.
``None`` means empty.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from tracker.models import Artifact, Field, FieldOption, FieldType, User
from tracker.plain_numbers import is_plain_number
from tracker.services.rendering import MARKDOWN, render_comment
from tracker.utc import in_utc

STRING_MAX_LENGTH = 255
MAX_ID = 2**63
TEXT_MAX_LENGTH = 200_000
LIST_MAX_ITEMS = 200


class InvalidValue(Exception):
    """A value that does not fit its field; the message is shown next to the field."""


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def spans_lines(text: str) -> bool:
    """Whether ``text`` holds a line break: "\\n", "\\r\\n" or a lone "\\r" (old Mac files, some pastes).

    The one rule for both sides: a string field refuses such text, and the history and the emails
    show a changed text that has one as a block rather than as one run-on line.
    """
    return "\n" in text or "\r" in text


@dataclass
class ValueContext:
    """What normalizing a tracker's values needs, loaded once: options and the users named."""

    fields: list[Field]
    options: dict[int, list[FieldOption]] = field(default_factory=dict)

    @classmethod
    def for_fields(cls, fields: Iterable[Field]) -> ValueContext:
        fields = list(fields)
        options: dict[int, list[FieldOption]] = {f.pk: [] for f in fields}
        choice_ids = [f.pk for f in fields if f.is_choice_field]
        if choice_ids:
            for option in FieldOption.objects.filter(field_id__in=choice_ids):
                options[option.field_id].append(option)
        return cls(fields=fields, options=options)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) > LIST_MAX_ITEMS:
            raise InvalidValue(f"At most {LIST_MAX_ITEMS} values are allowed.")
        return list(value)
    return [value]


def _option(field_: Field, options: list[FieldOption], raw: Any) -> int:
    if isinstance(raw, FieldOption):
        raw = raw.pk
    for option in options:
        if (isinstance(raw, int) and not isinstance(raw, bool) and option.pk == raw) or (
            isinstance(raw, str) and option.label.casefold() == raw.strip().casefold()
        ):
            return option.pk
    allowed = ", ".join(option.label for option in options) or "none defined"
    raise InvalidValue(f"{raw!r} is not a value of this field; choose one of: {allowed}.")


def _resolve_users(raws: list[Any], kept: Iterable[int] = ()) -> dict[Any, User]:
    """Map each raw reference (id, username, email or User) to an active user, in one query; the
    accounts of ``kept`` resolve even when inactive (a value kept as it is names nobody new)."""
    wanted_ids = {r for r in raws if isinstance(r, int) and not isinstance(r, bool) and 0 < r < MAX_ID}
    wanted_names = {r.strip() for r in raws if isinstance(r, str) and r.strip()}
    found: dict[Any, User] = {r: r for r in raws if isinstance(r, User)}
    if wanted_ids or wanted_names:
        query = Q(pk__in=wanted_ids) | Q(username__in=wanted_names)
        for name in wanted_names:
            if "@" in name:
                query |= Q(email__iexact=name)
        for user in User.objects.filter(query).filter(Q(is_active=True) | Q(pk__in=set(kept))):
            found[user.pk] = user
            found[user.username] = user
            if user.email:
                found[user.email.casefold()] = user
    return found


def _user(raw: Any, known: dict[Any, User]) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, User)):
        raise InvalidValue("Give a username, an email address or a user id.")
    key = raw.strip().casefold() if isinstance(raw, str) and "@" in raw else raw
    key = key.strip() if isinstance(key, str) else key
    user = known.get(key)
    if user is None:
        raise InvalidValue(
            f"{raw!r} is not a known active user of this project; use a member's username or email address."
        )
    return user.pk


def normalize(field_: Field, raw: Any, context: ValueContext, known_users: dict[Any, User]) -> Any:
    """The stored form of ``raw`` for ``field_``, or ``None`` when empty; raises InvalidValue."""
    if is_empty(raw):
        return None
    kind = field_.type
    if kind == FieldType.TEXT and isinstance(raw, dict):
        return _markdown_text(raw)
    if kind in (FieldType.STRING, FieldType.TEXT):
        if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
            raise InvalidValue("Enter text.")
        text = str(raw)
        limit = STRING_MAX_LENGTH if kind == FieldType.STRING else TEXT_MAX_LENGTH
        if kind == FieldType.STRING:
            text = text.strip()
            if spans_lines(text):
                raise InvalidValue("Enter a single line of text.")
        if len(text) > limit:
            raise InvalidValue(f"Enter at most {limit} characters (this has {len(text)}).")
        return text or None
    if kind == FieldType.INTEGER:
        if isinstance(raw, bool):
            raise InvalidValue("Enter a whole number.")
        if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
            raw = int(raw)
        try:
            value = int(raw.strip()) if isinstance(raw, str) else raw
        except ValueError:
            raise InvalidValue("Enter a whole number.") from None
        if not isinstance(value, int) or abs(value) > 2**53:
            raise InvalidValue("Enter a whole number.")
        return value
    if kind == FieldType.FLOAT:
        if isinstance(raw, bool):
            raise InvalidValue("Enter a number.")
        try:
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError, OverflowError):
            raise InvalidValue("Enter a number.") from None
        if not math.isfinite(value):
            raise InvalidValue("Enter a finite number.")
        return value
    if kind == FieldType.DATE:
        if isinstance(raw, dt.datetime):
            raw = raw.date()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            value = parse_date(str(raw).strip())
        except ValueError:
            value = None
        if value is None:
            raise InvalidValue("Enter a date as YYYY-MM-DD.")
        return value.isoformat()
    if kind == FieldType.DATETIME:
        value = raw if isinstance(raw, dt.datetime) else None
        if value is None:
            try:
                value = parse_datetime(str(raw).strip())
            except ValueError:
                value = None
        if value is None:
            raise InvalidValue("Enter a date and time as YYYY-MM-DDTHH:MM[:SS][+HH:MM].")
        utc = in_utc(value)
        if utc is None:
            raise InvalidValue("Enter a date and time between the years 1 and 9999 in UTC.")
        return utc.isoformat()
    if kind == FieldType.SELECT:
        if isinstance(raw, (list, tuple)):
            if len(raw) != 1:
                raise InvalidValue("Choose a single value.")
            raw = raw[0]
        return _option(field_, context.options.get(field_.pk, []), raw)
    if kind == FieldType.MULTI_SELECT:
        ids = [_option(field_, context.options.get(field_.pk, []), item) for item in _as_list(raw)]
        return sorted(set(ids)) or None
    if kind == FieldType.USER:
        if isinstance(raw, (list, tuple)):
            if len(raw) != 1:
                raise InvalidValue("Choose a single user.")
            raw = raw[0]
        return _user(raw, known_users)
    if kind == FieldType.USERS:
        return sorted({_user(item, known_users) for item in _as_list(raw)}) or None
    if kind == FieldType.OPEN_LIST:
        items = raw.split(",") if isinstance(raw, str) else _as_list(raw)
        labels: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidValue("Enter labels as text.")
            label = item.strip()
            if len(label) > 100:
                raise InvalidValue("A label has at most 100 characters.")
            if label and label not in labels:
                labels.append(label)
        return labels or None
    if kind == FieldType.FILES:
        ids = []
        for item in _as_list(raw):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < MAX_ID:
                raise InvalidValue("Give attachment ids; upload new files separately.")
            ids.append(item)
        return sorted(set(ids)) or None
    if kind == FieldType.LINKS:
        links = []
        for item in _as_list(raw):
            if isinstance(item, dict) and "artifact" not in item and "key" in item:
                links.append(_outside_link(item))
                continue
            if isinstance(item, int) and not isinstance(item, bool):
                item = {"artifact": item}
            text = item.strip() if isinstance(item, str) else ""
            if is_plain_number(text):
                item = {"artifact": int(text)}
            target = item.get("artifact") if isinstance(item, dict) else None
            if isinstance(target, bool) or not isinstance(target, int) or not 0 < target < MAX_ID:
                raise InvalidValue('Give artifact ids, or objects like {"artifact": 42, "type": "relates"}.')
            link_type = item.get("type") or ""
            if not isinstance(link_type, str) or len(link_type) > 50:
                raise InvalidValue("A link type is a name of at most 50 characters.")
            links.append({"artifact": item["artifact"], "type": link_type.strip()})
        return links or None
    raise InvalidValue(f"Unsupported field type {kind!r}.")  # pragma: no cover - choices forbid it


def is_markdown_text(value: Any) -> bool:
    """A text value written in Markdown (stored with its source and its rendered HTML)."""
    return isinstance(value, dict) and value.get("format") == MARKDOWN


def markdown_text(source: str) -> dict[str, str]:
    """The stored form of a Markdown text: the source (what editing shows, what emails and the history
    quote: Markdown reads as plain text) and its HTML, rendered and sanitized once, now, by the
    comments' renderer under the comments' budget (past it: the text escaped, with a note)."""
    return {"format": MARKDOWN, "source": source, "html": render_comment(source, MARKDOWN)}


def _markdown_text(raw: dict[str, Any]) -> dict[str, str] | None:
    """``{"format": "markdown", "source": "..."}`` from a client; any "html" it sends is ignored
    (the HTML stored is always ours)."""
    if raw.get("format") != MARKDOWN or not isinstance(raw.get("source"), str):
        raise InvalidValue('Send text, or {"format": "markdown", "source": "..."} for Markdown.')
    source = raw["source"].replace("\r\n", "\n").replace("\r", "\n")
    if len(source) > TEXT_MAX_LENGTH:
        raise InvalidValue(f"Enter at most {TEXT_MAX_LENGTH} characters (this has {len(source)}).")
    return markdown_text(source) if source.strip() else None


def _outside_link(item: dict[str, Any]) -> dict[str, str]:
    """A link to an issue outside this platform (kept by the Jira import): its key and URL."""
    key, url, link_type = item.get("key"), item.get("url", ""), item.get("type") or ""
    if not isinstance(key, str) or not key.strip() or len(key) > 100:
        raise InvalidValue("An outside link needs the issue key, such as OPS-1.")
    if not isinstance(url, str) or len(url) > 500 or (url and not url.startswith(("http://", "https://"))):
        raise InvalidValue("An outside link's URL must start with http:// or https://.")
    if not isinstance(link_type, str) or len(link_type) > 50:
        raise InvalidValue("A link type is a name of at most 50 characters.")
    return {"key": key.strip(), "url": url, "type": link_type.strip()}


def users_named(
    fields: Iterable[Field], values: Mapping[str, Any], *, already_named: Iterable[int] = ()
) -> dict[Any, User]:
    """Resolve every user reference of ``values`` (keyed by field name) in one query.

    ``already_named``: the accounts the artifact names now, which resolve even when inactive (an
    imported artifact names placeholder accounts; a client sending its values back keeps them).
    Only gathers: bounds and shapes are :func:`normalize`'s to report, next to their field.
    """
    raws: list[Any] = []
    for field_ in fields:
        value = values.get(field_.name)
        if field_.is_user_field and not is_empty(value):
            items = value if isinstance(value, (list, tuple)) else [value]
            raws.extend(item for item in items[: LIST_MAX_ITEMS + 1] if isinstance(item, (str, int, User)))
    return _resolve_users(raws, already_named)


def check_links(
    stored: list[dict[str, Any]], artifact: Artifact | None, allowed: QuerySet[Artifact] | None
) -> None:
    """Linked artifacts must exist and be readable by the author; an artifact cannot link to itself."""
    ids = {link["artifact"] for link in stored if "artifact" in link}
    if artifact is not None and artifact.pk in ids:
        raise InvalidValue("An artifact cannot link to itself.")
    candidates = Artifact.objects.all() if allowed is None else allowed
    existing = set(candidates.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(ids - existing)
    if missing:
        raise InvalidValue(f"No artifact with id {', '.join(map(str, missing))}.")


def check_offered(field_: Field, stored: Any, current: Any, context: ValueContext) -> None:
    """Refuse a new value of a hidden field, or a hidden select value the artifact does not have yet.

    Keeping what is there is allowed: an API client may send back the values it read.
    """
    if field_.hidden and stored != current and not (is_empty(stored) and is_empty(current)):
        raise InvalidValue("This field is hidden: it takes no new value.")
    if not field_.is_choice_field or is_empty(stored):
        return
    added = set(_as_list(stored)) - set(_as_list(current) if not is_empty(current) else [])
    for option in context.options.get(field_.pk, []):
        if option.pk in added and option.hidden:
            raise InvalidValue(f"{option.label} is no longer offered; choose another value.")
