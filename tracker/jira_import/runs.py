"""The life of a ``JiraImport`` row: every change of its state is a function here, and nowhere else.

    create -> pending --claim--> running --finish--> done | failed | cancelled
                 \\--cancel (at once)--> cancelled      (a running one is asked: cancel_requested)

A run owns a running import by its ``run_token``: every write of a run is conditional on it, so a run
whose import was taken over (a retried job, the system check cancelling it) stops at its next page
without touching what the other wrote (:class:`RunSuperseded`). Ending an import, whatever the
outcome, erases the token, drops a partial tracker, tells the requester by email (unless they
cancelled it themselves) and counts it in the ``tuleap_jira_imports`` metric.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from tracker.jira_import import emails, vault
from tracker.jira_import.credentials import JiraCredentials
from tracker.models import (
    Artifact,
    Attachment,
    Changeset,
    JiraImport,
    JiraImportTracker,
    Project,
    TimeEntry,
    Tracker,
    User,
)
from tracker.monitoring import metrics
from tracker.services.bulk_import import delete_tracker
from tracker.services.imported_links import count_links
from tracker.services.trackers import TrackerSpec, create_tracker

logger = logging.getLogger("tracker.jira_import")

Status = JiraImport.Status
WORKER_DIED = (
    "The backend worker running the import stopped (it was killed or crashed) and the retries are used "
    "up; start the import again."
)


class ImportStopped(Exception):
    """The run ends early without failing."""


class ImportCancelled(ImportStopped):
    """Someone asked to cancel: the run removes what it wrote."""


class RunSuperseded(ImportStopped):
    """Another run owns the import now (a retried job, or the system check cancelled it)."""


class ImportFailed(Exception):
    """The import cannot go on for a reason on our side; the message is for the user."""


# -- before the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTracker:
    """A tracker the import will create: its names, and the Jira issue types it holds."""

    name: str
    shortname: str
    color: str
    issue_type_ids: tuple[str, ...] = ()
    role: str = JiraImportTracker.Role.ISSUES


def create(
    *,
    project: Project,
    requested_by: User | None,
    credentials: JiraCredentials,
    flavor: str,
    jira_project_key: str,
    jira_project_name: str,
    issue_types: list[tuple[str, str]],
    layout: str,
    trackers: list[PlannedTracker],
) -> JiraImport:
    """A pending import, its token encrypted, its trackers' names reserved while it is active.

    ``issue_types``: (id, name) of each chosen Jira issue type. Raises ValidationError when another
    import took the names between the caller's check and now.
    """
    first = trackers[0]
    try:
        with transaction.atomic():
            jira_import = JiraImport.objects.create(
                project=project,
                requested_by=requested_by,
                jira_url=credentials.url,
                flavor=flavor,
                username=credentials.username,
                token_encrypted=vault.encrypt(credentials.token),
                jira_project_key=jira_project_key,
                jira_project_name=jira_project_name[:255],
                issue_type_id=issue_types[0][0],
                issue_type_name=", ".join(name for _, name in issue_types)[:255],
                issue_types=[{"id": type_id, "name": name[:255]} for type_id, name in issue_types],
                layout=layout,
                tracker_name=first.name,
                tracker_shortname=first.shortname,
                tracker_color=first.color,
            )
            JiraImportTracker.objects.bulk_create(
                JiraImportTracker(
                    jira_import=jira_import,
                    project=project,
                    role=planned.role,
                    issue_type_ids=list(planned.issue_type_ids),
                    name=planned.name,
                    shortname=planned.shortname,
                    color=planned.color,
                    rank=rank,
                )
                for rank, planned in enumerate(trackers)
            )
            return jira_import
    except IntegrityError:
        taken = ["Another import of this project is using this name or short name."]
        raise ValidationError({"tracker_name": taken, "tracker_shortname": taken}) from None


def record_job(jira_import: JiraImport, job_id: str) -> None:
    """The id of the job that will run the import (to cancel it in the queue)."""
    JiraImport.objects.filter(pk=jira_import.pk).update(job_id=job_id)
    jira_import.job_id = job_id


def _release_names(jira_import: JiraImport) -> None:
    """The import has ended: its trackers' names are free again (the trackers it kept have them)."""
    JiraImportTracker.objects.filter(jira_import=jira_import).update(active=False)


def withdraw(jira_import: JiraImport) -> None:
    """Take back an import whose job could not be queued: as if it had never been asked for."""
    jira_import.delete()


def cancel(jira_import: JiraImport) -> bool:
    """Cancel a pending import now (True), or ask a running one to stop; ``jira_import`` is refreshed."""
    cancelled_now = JiraImport.objects.filter(pk=jira_import.pk, status=Status.PENDING).update(
        status=Status.CANCELLED,
        cancel_requested=True,
        token_encrypted="",
        ended_at=timezone.now(),
        error="Cancelled before it started.",
    )
    if cancelled_now:
        _release_names(jira_import)
        metrics.record_jira_import(str(Status.CANCELLED))
    else:
        JiraImport.objects.filter(pk=jira_import.pk, status=Status.RUNNING).update(cancel_requested=True)
    jira_import.refresh_from_db()
    return bool(cancelled_now)


def cancel_stale(max_age: dt.timedelta) -> list[JiraImport]:
    """Cancel the imports pending or running for longer than ``max_age`` and email their requesters."""
    cutoff = timezone.now() - max_age
    hours = max(1, round(max_age.total_seconds() / 3600))
    message = (
        f"Cancelled by the system check: the import was pending or running for more than {hours} hours "
        "(JIRA_IMPORT_MAX_DURATION), so its worker is presumed stuck or gone."
    )
    cancelled = []
    stale = JiraImport.objects.filter(status__in=JiraImport.ACTIVE, created_at__lt=cutoff).order_by("pk")
    for jira_import in stale:
        tracker_id = jira_import.tracker_id
        # run_token cleared: a run still alive somewhere stops at its next page without writing more.
        updated = JiraImport.objects.filter(pk=jira_import.pk, status__in=JiraImport.ACTIVE).update(
            status=Status.CANCELLED,
            cancel_requested=True,
            run_token="",
            token_encrypted="",
            tracker=None,
            ended_at=timezone.now(),
            error=message,
        )
        if not updated:
            continue
        for each in _tracker_ids(jira_import, tracker_id):
            _discard(each, jira_import.pk)
        _release_names(jira_import)
        jira_import.refresh_from_db()
        logger.warning("Jira import %s cancelled by the system check.", jira_import.pk)
        emails.send_outcome(jira_import)
        metrics.record_jira_import(str(Status.CANCELLED))
        cancelled.append(jira_import)
    return cancelled


# -- the run ------------------------------------------------------------------------------------------


def claim(jira_import: JiraImport) -> ImportRun | None:
    """Start a run of a pending (or resumed running) import; None when it has ended or was cancelled.

    ``jira_import`` is refreshed either way.
    """
    token = uuid.uuid4().hex
    claimed = JiraImport.objects.filter(pk=jira_import.pk, status__in=JiraImport.ACTIVE).update(
        status=Status.RUNNING, run_token=token, started_at=Coalesce("started_at", Now())
    )
    jira_import.refresh_from_db()
    return ImportRun(jira_import, token) if claimed else None


def fail_abandoned(import_id: int, reason: str = WORKER_DIED) -> JiraImport | None:
    """The job's worker died and RQ will not run it again: end the import as failed."""
    token = uuid.uuid4().hex
    taken = JiraImport.objects.filter(pk=import_id, status__in=JiraImport.ACTIVE).update(run_token=token)
    jira_import = JiraImport.objects.filter(pk=import_id).first()
    if not taken or jira_import is None:
        return jira_import
    return ImportRun(jira_import, token).finish(Status.FAILED, reason)


class ImportRun:
    """One run's hold on its import: what it records while it runs, and how it ends."""

    def __init__(self, jira_import: JiraImport, token: str) -> None:
        self.jira_import = jira_import
        self.token = token

    def _update(self, **values: Any) -> int:
        return JiraImport.objects.filter(pk=self.jira_import.pk, run_token=self.token).update(**values)

    def record_flavor(self, flavor: str) -> None:
        self.jira_import.flavor = flavor
        self._update(flavor=flavor)

    def record_names(self, jira_project_name: str, issue_type_name: str) -> None:
        """Jira's names of the project and issue type, as they are now (for the pages and the email)."""
        ji = self.jira_import
        ji.jira_project_name, ji.issue_type_name = jira_project_name[:255], issue_type_name[:255]
        self._update(jira_project_name=ji.jira_project_name, issue_type_name=ji.issue_type_name)

    def record_notes(self, notes: list[str]) -> None:
        self.jira_import.notes = list(notes)
        self._update(notes=self.jira_import.notes)

    def create_tracker(self, planned: JiraImportTracker, spec: TrackerSpec) -> Tracker:
        """One of the import's trackers, created and recorded in one transaction (RunSuperseded,
        ImportFailed). The first one is also the import's ``tracker``."""
        ji = self.jira_import
        try:
            with transaction.atomic():
                tracker = create_tracker(ji.project, spec)
                first = {"tracker": tracker} if ji.tracker_id is None else {"run_token": self.token}
                if not self._update(**first):
                    raise RunSuperseded
                JiraImportTracker.objects.filter(pk=planned.pk).update(tracker=tracker)
        except IntegrityError:
            raise ImportFailed(
                f"A tracker named {planned.name!r} or with the short name {planned.shortname!r} "
                "already exists in the project; start the import again with other names."
            ) from None
        planned.tracker = tracker
        if ji.tracker_id is None:
            ji.tracker = tracker
        return tracker

    def checkpoint(self, *, done: int, total: int, skipped: list[dict[str, str]], user_report: Any) -> None:
        """Record progress; raise ImportCancelled when asked to stop, RunSuperseded when taken over."""
        updated = JiraImport.objects.filter(
            pk=self.jira_import.pk, run_token=self.token, cancel_requested=False
        ).update(progress_done=done, progress_total=total, skipped=skipped, user_report=user_report)
        if not updated:
            self.check_owner()
            raise ImportCancelled

    def check_owner(self) -> None:
        """Raise RunSuperseded unless this run still owns the import."""
        row = JiraImport.objects.filter(pk=self.jira_import.pk).values("run_token").first()
        if row is None or row["run_token"] != self.token:
            raise RunSuperseded

    def finish(self, outcome: str, message: str) -> JiraImport:
        """Record the outcome, erase the token, drop a partial tracker, email; the import as it ended.

        When another run owns the import now, nothing is written: the import as the other left it.
        """
        jira_import = self.jira_import
        tracker_id = jira_import.tracker_id
        tracker_ids = _tracker_ids(jira_import, tracker_id)
        trackers = list(Tracker.objects.filter(pk__in=tracker_ids))
        counts = _counts(trackers) if outcome == Status.DONE and trackers else {}
        tracker = next((t for t in trackers if t.pk == tracker_id), None)
        if outcome == Status.CANCELLED and not message:
            message = "Cancelled on request."
        updated = self._update(
            status=outcome,
            ended_at=timezone.now(),
            token_encrypted="",
            error=message[:2000],
            counts=counts,
            tracker=tracker if outcome == Status.DONE else None,
        )
        if not updated:
            jira_import.refresh_from_db()
            return jira_import
        if outcome != Status.DONE:
            for each in tracker_ids:
                _discard(each, jira_import.pk)
        _release_names(jira_import)
        jira_import.refresh_from_db()
        log = logger.info if outcome == Status.DONE else logger.warning
        log("Jira import %s ended %s. %s", jira_import.pk, outcome, message)
        if outcome != Status.CANCELLED:
            emails.send_outcome(jira_import)
        metrics.record_jira_import(str(outcome))
        return jira_import


def _discard(tracker_id: int, import_id: int) -> None:
    try:
        delete_tracker(tracker_id)
    except Exception as error:
        logger.error(
            "Jira import %s: its partial tracker %s could not be removed: %s", import_id, tracker_id, error
        )


def _tracker_ids(jira_import: JiraImport, tracker_id: int | None) -> list[int]:
    """Every tracker the import created so far (the first is also ``JiraImport.tracker``)."""
    ids = set(
        JiraImportTracker.objects.filter(jira_import=jira_import, tracker__isnull=False).values_list(
            "tracker_id", flat=True
        )
    )
    if tracker_id:
        ids.add(tracker_id)
    return sorted(ids)


def _counts(trackers: list[Tracker]) -> dict[str, int]:
    """What the import brought, across all its trackers (issues do not count the sprints)."""
    sprints = set(
        JiraImportTracker.objects.filter(
            tracker__in=trackers, role=JiraImportTracker.Role.SPRINTS
        ).values_list("tracker_id", flat=True)
    )
    issues = [t for t in trackers if t.pk not in sprints]
    changesets = Changeset.objects.filter(artifact__tracker__in=issues).aggregate(
        changesets=Count("pk"), comments=Count("pk", filter=~Q(comment=""))
    )
    time = TimeEntry.objects.filter(artifact__tracker__in=trackers).aggregate(
        n=Count("pk"), seconds=Sum("seconds")
    )
    return {
        "issues": Artifact.objects.filter(tracker__in=issues).count(),
        "changesets": changesets["changesets"],
        "comments": changesets["comments"],
        "attachments": Attachment.objects.filter(artifact__tracker__in=issues).count(),
        "links": sum(count_links(t) for t in issues),
        "sprints": Artifact.objects.filter(tracker__in=sprints).count(),
        "time_entries": time["n"],
        "time_spent_seconds": time["seconds"] or 0,
    }
