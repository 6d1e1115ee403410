"""Finding artifacts: the one owner of the list's filter, search and sort rules (web page and API).

``artifact_query_params.parse_query`` turns request parameters into an :class:`ArtifactQuery` (or a
QueryError per parameter: the page shows them, the API answers 400). ``matching_artifacts`` turns a
query into a queryset that starts from ``permissions.readable_artifacts``: no parameter can reach an
artifact the user may not read. ``artifact_pages.page_of`` cuts a page of it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from tracker import permissions
from tracker.models import Artifact, Changeset, Field, FieldOption, FieldType, Tracker, User
from tracker.plain_numbers import plain_number
from tracker.services.query_expressions import (
    ARTIFACT_DOCUMENT_SQL,
    COMMENT_DOCUMENT_SQL,
    FieldBestRank,
    FieldIsOneOf,
    FieldJson,
    FieldText,
    TextMatches,
)

SEARCH_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 10
DEFAULT_SORT = "-id"
STATES = ("open", "closed")
BUILT_IN_COLUMNS = {
    "id": "ID",
    "title": "Title",
    "submitter": "Submitted by",
    "submitted": "Submitted on",
    "updated": "Last update",
}
# Fields that can be a column (one line of text each) and, for some, a sort key.
COLUMN_FIELD_TYPES = {
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.FLOAT,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.SELECT,
    FieldType.MULTI_SELECT,
    FieldType.USER,
    FieldType.USERS,
    FieldType.OPEN_LIST,
}
# A multi-select sorts by its best-placed value (the field's order, as a select); several users or
# labels have no order that would mean anything, so those columns do not sort.
SORTABLE_FIELD_TYPES = COLUMN_FIELD_TYPES - {FieldType.USERS, FieldType.OPEN_LIST}
# The existing list links (?sort=updated) and the readable names of the two usual fields.
SORT_ALIASES = {"status": "status", "assignee": "assignee"}
# "#42", "bug #42", "bug#42": a reference to artifact 42 and nothing else; "42": artifact 42 or a match.
REFERENCE = re.compile(r"^(?:(?P<tracker>[A-Za-z][\w-]*)\s*)?#(?P<id>[0-9]{1,18})$")
BARE_NUMBER = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    field: Field | None = None

    @property
    def sortable(self) -> bool:
        return self.field is None or self.field.type in SORTABLE_FIELD_TYPES


class TrackerContext:
    """What parsing and filtering need about a tracker: its fields (one query), and its select
    values (one more, only when a filter, a sort or the form needs them)."""

    def __init__(self, tracker: Tracker, fields: list[Field]) -> None:
        self.tracker = tracker
        self.fields = fields

    @classmethod
    def of(cls, tracker: Tracker) -> TrackerContext:
        return cls(tracker, list(tracker.fields.order_by("rank", "id")))

    @cached_property
    def options(self) -> dict[int, list[FieldOption]]:
        options: dict[int, list[FieldOption]] = {f.pk: [] for f in self.fields}
        for option in FieldOption.objects.filter(field__tracker=self.tracker).order_by("rank", "id"):
            options[option.field_id].append(option)
        return options

    def _usual(self, name: str, kind: str) -> Field | None:
        of_kind = [f for f in self.fields if f.type == kind]
        return next((f for f in of_kind if f.name == name), of_kind[0] if of_kind else None)

    @property
    def status_field(self) -> Field | None:
        """The field shown as the status: the one named "status", else the first select field."""
        return self._usual("status", FieldType.SELECT)

    @property
    def assignee_field(self) -> Field | None:
        return self._usual("assigned_to", FieldType.USER)

    def field_by_key(self, key: str) -> Field | None:
        if key == "status":
            return self.status_field
        if key == "assignee":
            return self.assignee_field
        if key.startswith("field_") and (field_id := plain_number(key[6:])) is not None:
            return next((f for f in self.fields if f.pk == field_id), None)
        return None

    def columns(self) -> dict[str, Column]:
        found = {key: Column(key, label) for key, label in BUILT_IN_COLUMNS.items()}
        for field_ in self.fields:
            # A hidden field (field administration) is no column: it takes no new values.
            if field_.type in COLUMN_FIELD_TYPES and not field_.is_title and not field_.hidden:
                found[f"field_{field_.pk}"] = Column(f"field_{field_.pk}", field_.label, field_)
        return found

    def default_columns(self) -> list[str]:
        shown = [f for f in (self.status_field, self.assignee_field) if f is not None and not f.hidden]
        usual = [f"field_{f.pk}" for f in shown]
        return ["id", "title", *usual, "updated"]

    def filter_fields(self) -> list[Field]:
        """Select fields offered as filters besides the status (which has its own)."""
        status = self.status_field
        return [f for f in self.fields if f.is_choice_field and f != status and not f.hidden]


@dataclass
class ArtifactQuery:
    text: str = ""
    state: str = ""
    statuses: list[int] = field(default_factory=list)
    assignees: list[int | None] = field(default_factory=list)  # None: nobody
    submitters: list[int] = field(default_factory=list)
    selects: dict[int, list[int]] = field(default_factory=dict)  # field id -> option ids
    submitted_after: dt.date | None = None
    submitted_before: dt.date | None = None
    updated_after: dt.date | None = None
    updated_before: dt.date | None = None
    sort: str = DEFAULT_SORT
    columns: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.text
            or self.state
            or self.statuses
            or self.assignees
            or self.submitters
            or self.selects
            or self.submitted_after
            or self.submitted_before
            or self.updated_after
            or self.updated_before
        )


# The queryset ----------------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in the site's time zone: a date range means the days people see."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _text_filter(context: TrackerContext, text: str) -> Q | None:
    reference = REFERENCE.match(text)
    if reference:
        shortname = reference.group("tracker")
        if shortname and shortname.lower() != context.tracker.shortname.lower():
            return Q(pk__in=[])
        return Q(pk=int(reference.group("id")))
    words = re.findall(r"\w+", text)[:SEARCH_MAX_WORDS]
    if not words:
        return None
    if connection.vendor == "postgresql":
        # Prefix matching ('word':*), every word: what people expect of a search box. \w+ words hold no
        # tsquery operator or quote, so the string is always a valid query.
        tsquery = " & ".join(f"'{word.lower()}':*" for word in words)
        # Uncorrelated subqueries: each is one scan of its GIN index, and the outer query checks ids
        # against their (hashed) results. A correlated EXISTS, or the match OR'ed into the outer
        # query, computes a tsvector for every artifact of the tracker instead. (Not restricted to
        # the tracker inside: PostgreSQL would then read the tracker's rows instead of the index.)
        in_values = Q(
            pk__in=Artifact.objects.filter(TextMatches("current_values", ARTIFACT_DOCUMENT_SQL, tsquery))
            .order_by()
            .values("pk")
        )
        in_comments = Q(
            pk__in=Changeset.objects.filter(TextMatches("comment", COMMENT_DOCUMENT_SQL, tsquery))
            .order_by()
            .values("artifact_id")
        )
        matches = in_values | in_comments
    else:
        # SQLite has no full-text search Django can use: every word must appear in the title, a text
        # field or a comment (a scan, fine at SQLite's scale).
        in_values = Q()
        in_comments_q = Q()
        text_fields = [f for f in context.fields if f.type in (FieldType.STRING, FieldType.TEXT)]
        for word in words:
            anywhere = Q(title__icontains=word)
            for field_ in text_fields:
                anywhere |= Q(**{f"_text_{field_.pk}__icontains": word})
            in_values &= anywhere
            in_comments_q &= Q(comment__icontains=word)
        in_comments = Q(Exists(Changeset.objects.filter(in_comments_q, artifact=OuterRef("pk"))))
        matches = in_values | in_comments
    if BARE_NUMBER.match(text):
        matches |= Q(pk=int(text))
    return matches


def matching_artifacts(user: User, context: TrackerContext, query: ArtifactQuery) -> QuerySet[Artifact]:
    """The tracker's artifacts the user may read that match ``query``, in its order."""
    artifacts = permissions.readable_artifacts(user).filter(tracker=context.tracker)
    if query.text and connection.vendor != "postgresql":
        artifacts = artifacts.alias(
            **{
                f"_text_{f.pk}": FieldText(f.pk)
                for f in context.fields
                if f.type in (FieldType.STRING, FieldType.TEXT)
            }
        )
    status = context.status_field
    if query.state and status is not None:
        closed = [o.pk for o in context.options.get(status.pk, []) if o.is_closed]
        if query.state == "closed":
            artifacts = artifacts.filter(FieldIsOneOf(status.pk, closed)) if closed else artifacts.none()
        elif closed:
            artifacts = artifacts.exclude(FieldIsOneOf(status.pk, closed))
    elif query.state == "closed":
        artifacts = artifacts.none()
    if query.statuses and status is not None:
        artifacts = artifacts.filter(FieldIsOneOf(status.pk, query.statuses))
    assignee = context.assignee_field
    if query.assignees and assignee is not None:
        people = [pk for pk in query.assignees if pk is not None]
        condition = Q(FieldIsOneOf(assignee.pk, people)) if people else Q(pk__in=[])
        if None in query.assignees:
            artifacts = artifacts.alias(_assignee=FieldText(assignee.pk))
            condition |= Q(_assignee__isnull=True)
        artifacts = artifacts.filter(condition)
    if query.submitters:
        artifacts = artifacts.filter(submitted_by_id__in=query.submitters)
    by_id = {f.pk: f for f in context.fields}
    for field_id, option_ids in query.selects.items():
        multi = by_id[field_id].type == FieldType.MULTI_SELECT
        artifacts = artifacts.filter(FieldIsOneOf(field_id, option_ids, multi=multi))
    for name, lookup in (("submitted", "submitted_on"), ("updated", "last_updated_on")):
        after, before = getattr(query, f"{name}_after"), getattr(query, f"{name}_before")
        if after:
            artifacts = artifacts.filter(**{f"{lookup}__gte": _day_start(after)})
        # On or before the calendar's last day holds for every artifact: no bound (the day after it
        # does not exist, an OverflowError).
        if before and before < dt.date.max:
            artifacts = artifacts.filter(**{f"{lookup}__lt": _day_start(before + dt.timedelta(days=1))})
    if query.text:
        condition = _text_filter(context, query.text)
        if condition is not None:
            artifacts = artifacts.filter(condition)
    return _sorted(artifacts, context, query.sort)


def _sorted(artifacts: QuerySet[Artifact], context: TrackerContext, sort: str) -> QuerySet[Artifact]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")

    def order(expression: Any, *, nullable: bool = True) -> Any:
        # Empty values last either way. Only on nullable expressions: NULLS LAST on a DESC order of
        # a NOT NULL column would no longer match its index's order (DESC is NULLS FIRST), and
        # PostgreSQL would sort every match instead of reading the index's first rows.
        expression = F(expression) if isinstance(expression, str) else expression
        nulls = {"nulls_last": True} if nullable else {}
        return expression.desc(**nulls) if descending else expression.asc(**nulls)

    tie = order("id", nullable=False)
    simple = {"title": "title", "submitted": "submitted_on", "updated": "last_updated_on"}
    if key == "id":
        return artifacts.order_by(tie)
    if key in simple:
        return artifacts.order_by(order(simple[key], nullable=False), tie)
    if key == "submitter":
        return artifacts.order_by(order("submitted_by__username"), tie)
    field_ = context.field_by_key(key)
    if field_ is None:  # parse_query only lets known keys through
        return artifacts.order_by(tie)
    if field_.type == FieldType.SELECT:
        # By the values' order in the field (New, In progress, Done), not by their ids or labels.
        options = context.options.get(field_.pk, [])
        artifacts = artifacts.alias(_sort_value=FieldText(field_.pk))
        rank = Case(
            *(When(_sort_value=str(o.pk), then=Value(i)) for i, o in enumerate(options)), default=None
        )
        return artifacts.order_by(order(rank), tie)
    if field_.type == FieldType.MULTI_SELECT:
        # By the best-placed chosen value in the field's order: "Backend, UI" sorts with "Backend".
        options = context.options.get(field_.pk, [])
        if not options:  # nothing can be chosen: every artifact is empty
            return artifacts.order_by(tie)
        best = FieldBestRank(field_.pk, {o.pk: i for i, o in enumerate(options)})
        return artifacts.order_by(order(best), tie)
    if field_.type == FieldType.USER:
        artifacts = artifacts.alias(_sort_user=Cast(FieldText(field_.pk), BigIntegerField()))
        username = Subquery(User.objects.filter(pk=OuterRef("_sort_user")).values("username")[:1])
        return artifacts.order_by(order(username), tie)
    return artifacts.order_by(order(FieldJson(field_.pk)), tie)


def chosen_columns(context: TrackerContext, keys: Sequence[str]) -> list[Column]:
    columns = context.columns()
    return [columns[key] for key in keys if key in columns]
