"""The artifact list's presentation: its rows and cells for the chosen columns, and the filter form's
choices. The rules (what matches, in which order) are ``tracker.services.artifact_query``'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from tracker import permissions
from tracker.models import Artifact, Field, FieldOption, FieldType, User
from tracker.services.artifact_query import ArtifactQuery, Column, TrackerContext
from tracker.services.value_rendering import ValueRenderer


@dataclass
class Cell:
    column: Column
    kind: str  # "id", "title", "option", "text", "time", "person"
    text: str = ""
    option: FieldOption | None = None
    when: Any = None


@dataclass
class Row:
    artifact: Artifact
    cells: list[Cell]


def rows_for(
    artifacts: list[Artifact], columns: list[Column], context: TrackerContext
) -> tuple[list[Row], ValueRenderer]:
    """Rows for one page: users and options of all its values are loaded in one query each."""
    shown = [c.field for c in columns if c.field is not None]
    renderer = ValueRenderer.for_values(shown, [a.current_values for a in artifacts])
    rows = []
    for artifact in artifacts:
        cells = []
        for column in columns:
            cells.append(_cell(artifact, column, renderer))
        rows.append(Row(artifact=artifact, cells=cells))
    return rows, renderer


def _cell(artifact: Artifact, column: Column, renderer: ValueRenderer) -> Cell:
    if column.key in ("id", "title"):
        return Cell(column, column.key)
    if column.key == "submitter":
        return Cell(column, "person", text=artifact.submitted_by.username if artifact.submitted_by else "")
    if column.key == "submitted":
        return Cell(column, "time", when=artifact.submitted_on)
    if column.key == "updated":
        by = artifact.last_updated_by.username if artifact.last_updated_by else ""
        return Cell(column, "time", text=by, when=artifact.last_updated_on)
    field_: Field = column.field  # type: ignore[assignment]
    value = artifact.current_values.get(str(field_.pk))
    if field_.type == FieldType.SELECT and value is not None:
        return Cell(column, "option", option=renderer.options.get(value), text=renderer.text(field_, value))
    return Cell(column, "text", text=renderer.text(field_, value))


@dataclass
class Choice:
    value: str
    label: str
    selected: bool


@dataclass
class SelectFilter:
    name: str
    label: str
    choices: list[Choice]


def _choices(pairs: list[tuple[str, str]], chosen: list[str]) -> list[Choice]:
    return [Choice(value, label, value in chosen) for value, label in pairs]


def filter_form(context: TrackerContext, params: QueryDict, query: ArtifactQuery | None) -> dict[str, Any]:
    """What the filter form shows: each control's choices, with what the URL chose selected.

    Built from the raw parameters, so that a bad URL still shows what it asked for next to the error.
    """
    status = context.status_field
    people = permissions.nameable_users(context.tracker.project)
    person_pairs = [(str(u.pk), _person(u)) for u in people]
    status_pairs = [(str(o.pk), o.label) for o in context.options.get(status.pk, [])] if status else []
    selects = [
        SelectFilter(
            name=f"field_{field_.pk}",
            label=field_.label,
            choices=_choices(
                [(str(o.pk), o.label) for o in context.options.get(field_.pk, [])],
                params.getlist(f"field_{field_.pk}"),
            ),
        )
        for field_ in context.filter_fields()
    ]
    columns = query.columns if query else context.default_columns()
    return {
        "status_choices": _choices(status_pairs, params.getlist("status")),
        "assignee_choices": _choices(
            [("me", "Me"), ("nobody", "Nobody"), *person_pairs], params.getlist("assignee")
        ),
        "submitter_choices": _choices([("me", "Me"), *person_pairs], params.getlist("submitter")),
        "state_choices": _choices(
            [("", "Open and closed"), ("open", "Open"), ("closed", "Closed")], [params.get("state", "")]
        ),
        "select_filters": selects,
        "column_choices": [
            Choice(key, column.label, key in columns)
            for key, column in context.columns().items()
            if key not in ("id", "title")
        ],
        "dates": {name: params.get(name, "") for name in _DATE_NAMES},
        "has_assignee": context.assignee_field is not None,
    }


_DATE_NAMES = ("submitted_after", "submitted_before", "updated_after", "updated_before")


def _person(user: User) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


@dataclass
class Header:
    column: Column
    sort_link: str  # the ?sort= a click asks for ("" when the column cannot sort)
    aria_sort: str  # "ascending", "descending" or ""


# Newest, latest and largest first when a column is first clicked.
_DESCENDING_FIRST = {"id", "submitted", "updated"}


def headers_for(columns: list[Column], sort: str) -> list[Header]:
    headers = []
    for column in columns:
        key = column.key
        if not column.sortable:
            headers.append(Header(column, "", ""))
        elif sort == key:
            headers.append(Header(column, f"-{key}", "ascending"))
        elif sort == f"-{key}":
            headers.append(Header(column, key, "descending"))
        else:
            headers.append(Header(column, f"-{key}" if key in _DESCENDING_FIRST else key, ""))
    return headers
