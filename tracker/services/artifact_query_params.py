"""Reading the artifact list's parameters (web page and API) into an ArtifactQuery, or a QueryError.

Parameters (the same names on the page and in the API; ``PARAMETERS`` documents them for the OpenAPI
schema): ``q``, ``state``, ``status``, ``assignee``, ``submitter``, ``field_<id>``, ``submitted_after``,
``submitted_before``, ``updated_after``, ``updated_before``, ``sort`` and ``columns``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from tracker.models import Field, User
from tracker.plain_numbers import plain_number
from tracker.services.artifact_query import (
    DEFAULT_SORT,
    SEARCH_MAX_LENGTH,
    SORT_ALIASES,
    STATES,
    ArtifactQuery,
    TrackerContext,
)

MAX_VALUES = 50  # per parameter: a URL naming more is a mistake or an attack

PARAMETERS: dict[str, str] = {
    "q": "Words searched in titles, descriptions, text fields and comments; `#42`, `bug #42` or `42` "
    "find artifact 42.",
    "state": "`open` (status not marked done, or no status) or `closed`.",
    "status": "Status value ids (repeat the parameter for several).",
    "assignee": "User ids or usernames, `me` or `nobody` (repeatable).",
    "submitter": "User ids or usernames, or `me` (repeatable).",
    "submitted_after": "Submitted on or after this date (YYYY-MM-DD).",
    "submitted_before": "Submitted on or before this date (YYYY-MM-DD).",
    "updated_after": "Last updated on or after this date (YYYY-MM-DD).",
    "updated_before": "Last updated on or before this date (YYYY-MM-DD).",
    "sort": "`id`, `title`, `submitter`, `submitted`, `updated`, `status`, `assignee` or `field_<id>` "
    "(a select, multi-select, user, string, number or date field; a multi-select by its first chosen "
    "value in the field's order); `-` first for descending. Default `-id`.",
    "columns": "Columns shown on the page: `submitter`, `submitted`, `updated`, `field_<id>` "
    "(comma-separated; ID and title are always shown).",
}
FIELD_PARAMETER = "field_<id>: value ids of that select or multi-select field (repeatable)."


class QueryError(ValueError):
    """Parameters that do not make a query; ``errors`` maps each parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {' '.join(m)}" for name, m in errors.items()))


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    raw = getlist(name) if getlist else params.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    # PostgreSQL refuses NUL characters in a query: they could only come from a crafted URL.
    return [str(value).replace("\x00", "").strip() for value in raw if str(value).strip()]


class _Parser:
    def __init__(
        self, context: TrackerContext, params: Mapping[str, Any], user: User, *, lenient: bool
    ) -> None:
        self.context = context
        self.params = params
        self.user = user
        self.lenient = lenient
        self.errors: dict[str, list[str]] = {}
        self.notes: dict[str, list[str]] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def display_error(self, name: str, message: str) -> None:
        """A bad sort or column choice: with ``lenient``, a note and the default instead (the page
        still lists what the filters match); otherwise an error."""
        (self.notes if self.lenient else self.errors).setdefault(name, []).append(message)

    def many(self, name: str) -> list[str]:
        values = _values(self.params, name)
        if len(values) > MAX_VALUES:
            self.error(name, f"At most {MAX_VALUES} values.")
            return []
        return values

    def one(self, name: str) -> str:
        values = _values(self.params, name)
        if len(values) > 1:
            self.error(name, "Give this parameter once.")
        return values[0] if values else ""

    def options(self, name: str, field_: Field | None) -> list[int]:
        values = self.many(name)
        if values and field_ is None:
            self.error(name, "This tracker has no such field.")
            return []
        chosen: list[int] = []
        for value in values:
            option = next(
                (
                    o
                    for o in self.context.options.get(field_.pk, [])
                    if str(o.pk) == value or o.label.casefold() == value.casefold()
                ),
                None,
            )
            if option is None:
                allowed = ", ".join(f"{o.pk} ({o.label})" for o in self.context.options.get(field_.pk, []))
                self.error(name, f"{value!r} is not a value of {field_.label}; use one of: {allowed}.")
            else:
                chosen.append(option.pk)
        return chosen

    def people(self, name: str, *, nobody: bool) -> list[int | None]:
        values = self.many(name)
        chosen: list[int | None] = []
        usernames: list[str] = []
        for value in values:
            if value.lower() == "me":
                chosen.append(self.user.pk)
            elif value.lower() == "nobody" and nobody:
                chosen.append(None)
            elif (number := plain_number(value)) is not None:
                chosen.append(number)
            else:
                usernames.append(value)
        if usernames:
            found = dict(
                User.objects.filter(username__in=usernames).values_list("username", "pk")[: MAX_VALUES + 1]
            )
            for username in usernames:
                if username in found:
                    chosen.append(found[username])
                else:
                    words = (
                        "a user id, a username, `me` or `nobody`"
                        if nobody
                        else "a user id, a username or `me`"
                    )
                    self.error(name, f"No user is named {username!r}; use {words}.")
        return chosen

    def date(self, name: str) -> dt.date | None:
        value = self.one(name)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.error(name, f"{value!r} is not a date; use YYYY-MM-DD.")
            return None

    def sort(self) -> str:
        value = self.one("sort") or DEFAULT_SORT
        key = value.removeprefix("-")
        if key in SORT_ALIASES and self.context.field_by_key(key) is not None:
            descending = "-" if value.startswith("-") else ""
            return f"{descending}field_{self.context.field_by_key(key).pk}"
        column = self.context.columns().get(key)
        if column is None or not column.sortable:
            sortable = [c for c, col in self.context.columns().items() if col.sortable]
            # A known column that cannot sort says why, rather than looking like a typo.
            why = f" ({column.label} holds several people or labels: no order)" if column else ""
            self.display_error(
                "sort",
                f"Cannot sort by {value!r}{why}; use one of: {', '.join(sortable)} (- first: descending).",
            )
            return DEFAULT_SORT
        return value

    def columns(self) -> list[str]:
        values = [part.strip() for value in self.many("columns") for part in value.split(",") if part.strip()]
        if not values:
            return self.context.default_columns()
        known = self.context.columns()
        unknown = [value for value in values if value not in known]
        if unknown:
            self.display_error("columns", f"Unknown columns: {', '.join(unknown)}; use: {', '.join(known)}.")
            return self.context.default_columns()
        return ["id", "title", *dict.fromkeys(v for v in values if v not in ("id", "title"))]

    def parse(self) -> ArtifactQuery:
        context = self.context
        state = self.one("state").lower()
        if state not in ("", *STATES):
            self.error("state", f"{state!r} is not a state; use open or closed.")
            state = ""
        text = self.one("q")
        if len(text) > SEARCH_MAX_LENGTH:
            self.error("q", f"Search at most {SEARCH_MAX_LENGTH} characters.")
        selects = {}
        for name in _field_parameter_names(self.params):
            field_ = context.field_by_key(name)
            if field_ is None or not field_.is_choice_field:
                self.error(name, "This tracker has no select field with this id.")
                continue
            chosen = self.options(name, field_)
            if chosen:
                selects[field_.pk] = chosen
        query = ArtifactQuery(
            text=text,
            state=state,
            statuses=self.options("status", context.status_field),
            assignees=self.people("assignee", nobody=True),
            submitters=[pk for pk in self.people("submitter", nobody=False) if pk is not None],
            selects=selects,
            submitted_after=self.date("submitted_after"),
            submitted_before=self.date("submitted_before"),
            updated_after=self.date("updated_after"),
            updated_before=self.date("updated_before"),
            sort=self.sort(),
            columns=self.columns(),
        )
        if self.context.assignee_field is None and query.assignees:
            self.error("assignee", "This tracker has no user field to filter by.")
        for prefix in ("submitted", "updated"):
            after, before = getattr(query, f"{prefix}_after"), getattr(query, f"{prefix}_before")
            if after and before and after > before:
                self.error(f"{prefix}_before", f"{prefix}_before comes before {prefix}_after.")
        if self.errors:
            raise QueryError(self.errors)
        query.notes = self.notes
        return query


def _field_parameter_names(params: Mapping[str, Any]) -> list[str]:
    return sorted(name for name in params if name.startswith("field_"))


def parse_query(
    context: TrackerContext, params: Mapping[str, Any], user: User, *, lenient: bool = False
) -> ArtifactQuery:
    """The query the parameters describe, or QueryError naming each bad parameter.

    ``lenient`` (the web page): a bad ``sort`` or ``columns`` falls back to the default, with a note in
    ``query.notes``; a bad filter is always an error (a list that ignored it would mislead).
    """
    return _Parser(context, params, user, lenient=lenient).parse()
