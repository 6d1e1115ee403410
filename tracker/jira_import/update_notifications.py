"""The emails an update from Jira owes: one per artifact it changed, never one per changeset.

Each changed artifact's notification is the ordinary one of :mod:`tracker.notifications` (its record,
its recipients, its email), about the latest changeset the run wrote for it; the run's other
changesets are written without notifying, as imports are. A record is unique per changeset, so an
artifact already notified about that changeset (a retried end of run) is not notified twice.
"""

from __future__ import annotations

from django.db import transaction

from tracker.models import Changeset, JiraSyncRun, NotificationRecord
from tracker.notifications import dispatch


def notify_changes(sync_run: JiraSyncRun) -> int:
    """Record, then (after the commit) send or enqueue, one notification per changed artifact."""
    wanted = {int(pk) for pk in (sync_run.changed or {}).values()}
    if not wanted:
        return 0
    with transaction.atomic():
        notified = set(
            NotificationRecord.objects.filter(changeset_id__in=wanted).values_list("changeset_id", flat=True)
        )
        changesets = list(
            Changeset.objects.filter(pk__in=wanted - notified).select_related("artifact__tracker")
        )
        for changeset in changesets:
            dispatch.record_changeset(changeset)
    for changeset in changesets:
        dispatch.dispatch(changeset)
    return len(changesets)
