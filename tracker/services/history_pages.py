"""A bounded part of an artifact's history: the artifact page's window and the API's pages.

An artifact lives for years and an import brings hundreds of changesets: a page of history costs the
page's changesets, never the whole history. The old values of a page of consecutive changesets come
from one query (each changed field's latest value before the page); on the comments-only pages, whose
changesets are not consecutive, each value is read with its previous one (a correlated subquery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, JSONField, OuterRef, Prefetch, Q, QuerySet, Subquery

from tracker.models import Artifact, Changeset, ChangesetValue, Field
from tracker.permissions import AnyUser
from tracker.services.history import HistoryEntry, entries_for
from tracker.services.history_queries import changesets_before

# The artifact page shows this many changesets, then "show older" pages of as many.
HISTORY_PAGE_SIZE = 20


def consecutive(changesets: QuerySet[Changeset]) -> QuerySet[Changeset]:
    """Changesets read for a page of consecutive ones: the old values come from one query of the
    fields' values before the page (``entries_for``), cheaper than a subquery per value."""
    return changesets.select_related("author").prefetch_related("values")


def with_previous_values(changesets: QuerySet[Changeset]) -> QuerySet[Changeset]:
    """Changesets with their author and their values, each value with ``previous``: the field's
    value just before that changeset (what :func:`tracker.services.history.entries_for` shows as old).
    """
    earlier = (
        ChangesetValue.objects.filter(
            changeset__artifact_id=OuterRef("changeset__artifact_id"), field_id=OuterRef("field_id")
        )
        .filter(
            # The order of tracker.services.history.changesets_before, on the same index.
            Q(changeset__submitted_on__lte=OuterRef("changeset__submitted_on"))
            & ~Q(
                changeset__submitted_on=OuterRef("changeset__submitted_on"),
                changeset_id__gte=OuterRef("changeset_id"),
            )
        )
        .order_by("-changeset__submitted_on", "-changeset_id")
        .values("value")[:1]
    )
    values = ChangesetValue.objects.annotate(previous=Subquery(earlier, output_field=JSONField()))
    return changesets.select_related("author").prefetch_related(Prefetch("values", queryset=values))


def only_comments(changesets: QuerySet[Changeset]) -> QuerySet[Changeset]:
    return changesets.exclude(comment="")


@dataclass
class HistoryWindow:
    """What the artifact page shows of the history, in the reader's order."""

    entries: list[HistoryEntry]
    newest_first: bool
    # Changesets older than the oldest one shown, and how many of them carry a comment.
    older_count: int
    older_comment_count: int
    # The id to ask for the next older page with (``?before=``), when there is one.
    older_cursor: int | None
    # The changeset this page ends before (None: the latest page, else the page offers the way back).
    before: int | None
    total_count: int

    @property
    def is_latest(self) -> bool:
        return self.before is None

    @property
    def has_older(self) -> bool:
        return self.older_count > 0


def history_window(
    artifact: Artifact,
    fields: Sequence[Field],
    *,
    before: int | None = None,
    newest_first: bool = False,
    size: int = HISTORY_PAGE_SIZE,
    reader: AnyUser | None = None,
) -> HistoryWindow:
    """The latest ``size`` changesets, or the ``size`` ones before changeset ``before``.

    A fixed number of queries, and rows in proportion to ``size``: the page, its values with their
    previous values, and one aggregate for the counts (and, for a ``reader``, which of the linked
    artifacts they may read).
    """
    changesets = Changeset.objects.filter(artifact=artifact)
    anchor = changesets.filter(pk=before).first() if before is not None else None
    window = changesets.filter(changesets_before(anchor)) if anchor is not None else changesets
    page = list(consecutive(window).order_by("-submitted_on", "-id")[:size])
    page.reverse()  # history order, oldest first
    older = changesets_before(page[0]) if page else Q(pk__in=[])
    counts = changesets.aggregate(
        total=Count("id"),
        older=Count("id", filter=older),
        older_comments=Count("id", filter=older & ~Q(comment="")),
    )
    entries = entries_for(artifact, page, fields, reader=reader)
    if newest_first:
        entries.reverse()
    return HistoryWindow(
        entries=entries,
        newest_first=newest_first,
        older_count=counts["older"],
        older_comment_count=counts["older_comments"],
        older_cursor=page[0].pk if counts["older"] else None,
        before=anchor.pk if anchor is not None else None,
        total_count=counts["total"],
    )
