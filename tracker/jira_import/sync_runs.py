"""The life of a ``JiraSyncRun`` row (an update from Jira): every change of its state is here.

    create -> pending --claim--> running --finish--> done | failed | cancelled
                 \\--cancel (at once)--> cancelled      (a running one is asked: cancel_requested)

Like :mod:`tracker.jira_import.runs` for an import, a run owns its row by ``run_token``; each page
it writes adds to the row's counts in the page's own transaction (:meth:`SyncRun.add_page`), so a
retried job that rewrites a page (a no-op, thanks to the per-item records) counts nothing twice.
Ending a run erases its token, emails the requester when it brought something (or failed, or was
cancelled by the system check) and counts it in the ``tuleap_jira_updates`` metric.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from tracker.jira_import import emails, update_notifications, vault
from tracker.jira_import.runs import ImportCancelled, ImportFailed, RunSuperseded
from tracker.models import JiraImport, JiraImportTracker, JiraSyncRun, Tracker, User
from tracker.models.jira_sync import UP_TO_DATE
from tracker.monitoring import metrics
from tracker.services.trackers import TrackerSpec, create_tracker

logger = logging.getLogger("tracker.jira_import")

Status = JiraSyncRun.Status
COUNTS = ("new_issues", "updated_issues", "new_changesets", "conflicts")


class UpdateRefused(Exception):
    """The import cannot be updated now (not finished, or an update is running); the message says why."""


def create(
    jira_import: JiraImport, *, requested_by: User | None, token: str, scheduled: bool = False
) -> JiraSyncRun:
    """A pending update of a finished import, its token encrypted (UpdateRefused)."""
    if jira_import.status != JiraImport.Status.DONE:
        raise UpdateRefused("Only a finished import can be updated from Jira.")
    try:
        with transaction.atomic():
            return JiraSyncRun.objects.create(
                jira_import=jira_import,
                requested_by=requested_by,
                scheduled=scheduled,
                token_encrypted=vault.encrypt(token),
            )
    except IntegrityError:
        raise UpdateRefused("An update of this import is already pending or running.") from None


def record_job(sync_run: JiraSyncRun, job_id: str) -> None:
    JiraSyncRun.objects.filter(pk=sync_run.pk).update(job_id=job_id)
    sync_run.job_id = job_id


def withdraw(sync_run: JiraSyncRun) -> None:
    """Take back a run whose job could not be queued."""
    sync_run.delete()


def cancel(sync_run: JiraSyncRun) -> bool:
    """Cancel a pending run now (True), or ask a running one to stop; ``sync_run`` is refreshed."""
    now = JiraSyncRun.objects.filter(pk=sync_run.pk, status=Status.PENDING).update(
        status=Status.CANCELLED,
        cancel_requested=True,
        token_encrypted="",
        ended_at=timezone.now(),
        message="Cancelled before it started.",
    )
    if now:
        metrics.record_jira_update(str(Status.CANCELLED))
    else:
        JiraSyncRun.objects.filter(pk=sync_run.pk, status=Status.RUNNING).update(cancel_requested=True)
    sync_run.refresh_from_db()
    return bool(now)


def cancel_stale(max_age: dt.timedelta) -> list[JiraSyncRun]:
    """Cancel the runs pending or running for longer than ``max_age`` and email their requesters.

    What their pages wrote stays (it is Jira's), and its artifacts are notified as at any run's end.
    """
    cutoff = timezone.now() - max_age
    hours = max(1, round(max_age.total_seconds() / 3600))
    message = (
        f"Cancelled by the system check: the update was pending or running for more than {hours} hours "
        "(JIRA_IMPORT_MAX_DURATION), so its worker is presumed stuck or gone."
    )
    cancelled = []
    stale = (
        JiraSyncRun.objects.filter(status__in=JiraSyncRun.ACTIVE, created_at__lt=cutoff)
        .select_related("jira_import", "jira_import__project", "requested_by")
        .order_by("pk")
    )
    for sync_run in stale:
        # run_token cleared: a run still alive somewhere fails its next page (rolled back) and stops.
        updated = JiraSyncRun.objects.filter(pk=sync_run.pk, status__in=JiraSyncRun.ACTIVE).update(
            status=Status.CANCELLED,
            cancel_requested=True,
            run_token="",
            token_encrypted="",
            ended_at=timezone.now(),
            message=message,
        )
        if not updated:
            continue
        sync_run.refresh_from_db()
        update_notifications.notify_changes(sync_run)
        logger.warning(
            "Update %s of Jira import %s cancelled by the system check.", sync_run.pk, sync_run.jira_import_id
        )
        emails.send_update_outcome(sync_run)
        metrics.record_jira_update(str(Status.CANCELLED))
        cancelled.append(sync_run)
    return cancelled


def previous_start(jira_import: JiraImport, *, before: JiraSyncRun | None = None) -> dt.datetime | None:
    """When the last run that brought Jira in completely started: the latest finished update's start,
    else the import's (what happened in Jira after it may be missing here)."""
    done = JiraSyncRun.objects.filter(jira_import=jira_import, status=Status.DONE).exclude(started_at=None)
    if before is not None:
        done = done.exclude(pk=before.pk)
    latest = done.order_by("-started_at").values_list("started_at", flat=True).first()
    return latest or jira_import.started_at or jira_import.created_at


def claim(sync_run: JiraSyncRun, margin: dt.timedelta) -> SyncRun | None:
    """Start (or resume) a run; None when it has ended or was cancelled. ``since`` is set once."""
    token = uuid.uuid4().hex
    start = previous_start(sync_run.jira_import, before=sync_run)
    since = (start - margin) if start else None
    claimed = JiraSyncRun.objects.filter(pk=sync_run.pk, status__in=JiraSyncRun.ACTIVE).update(
        status=Status.RUNNING,
        run_token=token,
        started_at=Coalesce("started_at", Now()),
        since=Coalesce("since", since),
    )
    sync_run.refresh_from_db()
    return SyncRun(sync_run, token) if claimed else None


def fail_abandoned(run_id: int, reason: str) -> JiraSyncRun | None:
    """The job's worker died and RQ will not run it again: end the run as failed."""
    token = uuid.uuid4().hex
    taken = JiraSyncRun.objects.filter(pk=run_id, status__in=JiraSyncRun.ACTIVE).update(run_token=token)
    sync_run = JiraSyncRun.objects.select_related("jira_import").filter(pk=run_id).first()
    if not taken or sync_run is None:
        return sync_run
    return SyncRun(sync_run, token).finish(Status.FAILED, reason)


class SyncRun:
    """One run's hold on its row; offers the engine what :class:`~tracker.jira_import.runs.ImportRun`
    offers an import (the trackers exist: only a Sprints tracker may be made, when sprints appear)."""

    def __init__(self, sync_run: JiraSyncRun, token: str) -> None:
        self.sync_run = sync_run
        self.jira_import = sync_run.jira_import
        self.token = token

    def _mine(self) -> Any:
        return JiraSyncRun.objects.filter(pk=self.sync_run.pk, run_token=self.token)

    def record_flavor(self, flavor: str) -> None:
        """The import keeps its flavor (a site does not change dialect)."""

    def record_names(self, jira_project_name: str, issue_type_name: str) -> None:
        """The import's names stay those of its first run (its page and emails)."""

    def record_notes(self, notes: list[str]) -> None:
        self.sync_run.notes = list(notes)
        self._mine().update(notes=self.sync_run.notes)

    def create_tracker(self, planned: JiraImportTracker, spec: TrackerSpec) -> Tracker:
        if planned.role != JiraImportTracker.Role.SPRINTS:
            raise ImportFailed(
                f"The tracker {planned.name!r} of this import was deleted; the update cannot bring its "
                "issues back. Import the project again instead."
            )
        try:
            with transaction.atomic():
                tracker = create_tracker(self.jira_import.project, spec)
                if not self._mine().update(run_token=self.token):
                    raise RunSuperseded
                JiraImportTracker.objects.filter(pk=planned.pk).update(tracker=tracker)
        except IntegrityError:
            raise ImportFailed(
                f"The sprints appeared in Jira, but a tracker named {planned.name!r} or with the short name "
                f"{planned.shortname!r} exists already; rename it and update again."
            ) from None
        planned.tracker = tracker
        return tracker

    def checkpoint(self, *, done: int, total: int, skipped: list[dict[str, str]], user_report: Any) -> None:
        updated = (
            self._mine()
            .filter(cancel_requested=False)
            .update(progress_done=done, progress_total=total, skipped=skipped)
        )
        if not updated:
            self.check_owner()
            raise ImportCancelled

    def check_owner(self) -> None:
        row = JiraSyncRun.objects.filter(pk=self.sync_run.pk).values("run_token").first()
        if row is None or row["run_token"] != self.token:
            raise RunSuperseded

    def add_page(
        self, counts: dict[str, int], conflicts: list[dict[str, Any]], changed: dict[int, int]
    ) -> None:
        """Add a page's figures; call it inside the page's transaction (RunSuperseded rolls it back)."""
        row = self._mine().select_for_update().values("counts", "conflicts", "changed").first()
        if row is None:
            raise RunSuperseded
        totals = {key: (row["counts"] or {}).get(key, 0) + counts.get(key, 0) for key in COUNTS}
        self._mine().update(
            counts=totals,
            conflicts=[*(row["conflicts"] or []), *conflicts],
            changed={**(row["changed"] or {}), **{str(k): v for k, v in changed.items()}},
        )

    def changed_so_far(self) -> list[int]:
        """The artifacts the run's pages changed, those of an earlier attempt of the job included."""
        return [int(pk) for pk in self._mine().values_list("changed", flat=True).first() or {}]

    def record_missing(self, missing: list[dict[str, Any]]) -> None:
        self.sync_run.missing = missing
        self._mine().update(missing=missing)

    def _newly_missing(self) -> set[str]:
        """The issues this run found gone from Jira that the previous finished run had not reported."""
        before = (
            JiraSyncRun.objects.filter(jira_import=self.jira_import, status=Status.DONE)
            .exclude(pk=self.sync_run.pk)
            .order_by("-started_at")
            .values_list("missing", flat=True)
            .first()
        )
        return {m["key"] for m in self.sync_run.missing or []} - {m["key"] for m in before or []}

    def finish(self, outcome: str, message: str = "") -> JiraSyncRun:
        """Record the outcome, erase the token, email the requester when there is news."""
        sync_run = self.sync_run
        if outcome == Status.CANCELLED and not message:
            message = "Cancelled on request."
        updated = self._mine().update(
            status=outcome,
            ended_at=timezone.now(),
            token_encrypted="",
            message=message[:2000],
        )
        sync_run.refresh_from_db()
        if not updated:
            return sync_run
        if outcome == Status.DONE and sync_run.brought_nothing and not self._newly_missing():
            JiraSyncRun.objects.filter(pk=sync_run.pk).update(message=UP_TO_DATE)
            sync_run.message = UP_TO_DATE
        # What the run brought is Jira's news, even when it stopped half-way: one email per artifact.
        update_notifications.notify_changes(sync_run)
        log = logger.info if outcome == Status.DONE else logger.warning
        log(
            "Update %s of Jira import %s ended %s. %s",
            sync_run.pk,
            self.jira_import.pk,
            outcome,
            sync_run.message,
        )
        # Nothing new, nothing to say: a scheduled sync every 15 minutes must not fill a mailbox.
        if outcome == Status.FAILED or (outcome == Status.DONE and not sync_run.up_to_date):
            emails.send_update_outcome(sync_run)
        metrics.record_jira_update(str(outcome))
        return sync_run
