"""After the last batch of an import: outside links to imported issues become artifact links.

While an import runs, a link to an issue not written yet keeps the source's id (``LINK_SOURCE_ID``,
see :mod:`tracker.services.bulk_import`); once every issue is in, :func:`resolve_links` rewrites every
changeset and current value that holds such a link, in batches.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tracker.models import Artifact, ChangesetValue, Field, FieldType, Tracker
from tracker.services.bulk_import import BATCH, LINK_SOURCE_ID, checked_links, update_rows


def imported_ids(tracker: Tracker) -> dict[str, int]:
    """The tracker's imported artifacts: source id -> artifact id."""
    return dict(
        Artifact.objects.filter(tracker=tracker)
        .exclude(jira_issue_id=None)
        .values_list("jira_issue_id", "id")
    )


def resolve_links(
    tracker: Tracker, field_: Field, targets: dict[str, int], *, artifact_ids: set[int] | None = None
) -> None:
    """Outside links whose source id is in ``targets`` (source id -> artifact id: the import's issues,
    in any of its trackers, and earlier imports') become links to that artifact; the others keep the
    key and URL only. Every changeset that holds a links value is rewritten with them, so the history
    reads "link to bug #12 added" where Jira had "link to DI-7 added". ``artifact_ids``: only those."""
    candidates = Artifact.objects.filter(tracker=tracker).order_by("pk").only("pk", "current_values")
    if artifact_ids is not None:  # an update from the source: only the artifacts it touched
        candidates = candidates.filter(pk__in=artifact_ids)
    batch: list[Artifact] = []
    for artifact in candidates.iterator(chunk_size=BATCH):
        batch.append(artifact)
        if len(batch) >= BATCH:
            _resolve_links(batch, field_, targets)
            batch = []
    if batch:
        _resolve_links(batch, field_, targets)


def _resolved(links: list[dict[str, Any]] | None, artifact_id: int, targets: dict[str, int]) -> Any:
    resolved: list[dict[str, Any]] = []
    for link in links or []:
        target = targets.get(link.get(LINK_SOURCE_ID) or "") or targets.get(link.get("key") or "")
        if target is not None and target != artifact_id:
            entry: dict[str, Any] = {"artifact": target, "type": link["type"]}
        elif "artifact" in link:
            entry = link
        else:
            entry = {"key": link["key"], "url": link["url"], "type": link["type"]}
        if entry not in resolved:
            resolved.append(entry)
    return resolved or None


def _resolve_links(artifacts: list[Artifact], field_: Field, targets: dict[str, int]) -> None:
    key = str(field_.pk)
    by_artifact = {a.pk: a for a in artifacts}
    with transaction.atomic():
        values = list(
            ChangesetValue.objects.filter(field=field_, changeset__artifact_id__in=by_artifact).values_list(
                "pk", "changeset__artifact_id", "value"
            )
        )
        rows = []
        for pk, artifact_id, value in values:
            stored = _resolved(value, artifact_id, targets)
            rows.append((pk, checked_links(field_, stored) if stored else None))
        update_rows(ChangesetValue, "value", rows)
        changed = []
        for artifact in artifacts:
            current = artifact.current_values.get(key)
            if current:
                stored = _resolved(current, artifact.pk, targets)
                artifact.current_values[key] = checked_links(field_, stored) if stored else None
                changed.append((artifact.pk, artifact.current_values))
        update_rows(Artifact, "current_values", changed)


def count_links(tracker: Tracker) -> int:
    """How many links the tracker's artifacts hold now."""
    keys = [
        str(pk)
        for pk in Field.objects.filter(tracker=tracker, type=FieldType.LINKS).values_list("pk", flat=True)
    ]
    if not keys:
        return 0
    total = 0
    for value in Artifact.objects.filter(tracker=tracker).values_list("current_values", flat=True).iterator():
        total += sum(len(value.get(key) or []) for key in keys)
    return total
