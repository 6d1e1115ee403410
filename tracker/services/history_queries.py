"""The queries that read one point of an artifact's history without walking it.

History order is (submitted_on, id) within an artifact, on the index ``changeset_artifact_history``:
"before this changeset" is a range of it, so these cost the same for 1 changeset or 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import JSONField, OuterRef, Q, Subquery

from tracker.models import Changeset, ChangesetValue, Field


def changesets_before(changeset: Changeset, prefix: str = "") -> Q:
    """Changesets before ``changeset`` in history order (submitted_on, then id).

    Written as ``submitted_on <= t and not (submitted_on = t and id >= pk)``: a range on the
    (artifact, submitted_on, id) index, which an OR of the two cases would not use.
    """
    return Q(**{f"{prefix}submitted_on__lte": changeset.submitted_on}) & ~Q(
        **{f"{prefix}submitted_on": changeset.submitted_on, f"{prefix}pk__gte": changeset.pk}
    )


def values_before(changeset: Changeset, field_ids: Iterable[int]) -> dict[int, Any]:
    """Each field's stored value just before ``changeset``: one query, whatever the history's length.

    A page of history, or an email, needs the old value of the fields it shows changing without
    replaying every changeset before it.
    """
    field_ids = set(field_ids)
    if not field_ids:
        return {}
    latest = (
        ChangesetValue.objects.filter(changeset__artifact_id=changeset.artifact_id, field_id=OuterRef("pk"))
        .filter(changesets_before(changeset, "changeset__"))
        .order_by("-changeset__submitted_on", "-changeset_id")
        .values("value")[:1]
    )
    rows = (
        Field.objects.filter(pk__in=field_ids)
        .annotate(previous=Subquery(latest, output_field=JSONField()))
        .values_list("pk", "previous")
    )
    return dict(rows)


def earlier_authors(changeset: Changeset) -> set[int | None]:
    """The authors of the artifact's changesets before ``changeset``: one aggregated query.

    None stands for changesets without an account (imported ones by someone unknown), so an empty set
    means there is nothing before: ``changeset`` is the first, and ``values_before`` need not be asked.
    """
    return set(
        Changeset.objects.filter(artifact_id=changeset.artifact_id)
        .filter(changesets_before(changeset))
        .order_by()  # DISTINCT over the authors alone, not the default ordering's columns
        .values_list("author_id", flat=True)
        .distinct()
    )
