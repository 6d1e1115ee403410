"""The service functions of an update from Jira: what the import's page, the API and ``import_jira
--update`` call. Every change of a run's row is :mod:`tracker.jira_import.sync_runs`'s; the job
carries the run's id only (queue and options: :func:`tracker.queues.enqueue_jira_update`)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied

from tracker import permissions, queues
from tracker.jira_import import run_loop, schedules, sync_runs
from tracker.jira_import.importer import Progress
from tracker.jira_import.services import UNAVAILABLE, ImportUnavailable, import_available
from tracker.jira_import.sync_runs import UpdateRefused
from tracker.jira_import.update import Updater
from tracker.models import JiraImport, JiraSyncRun, User

logger = logging.getLogger("tracker.jira_import")

Status = JiraSyncRun.Status

__all__ = [
    "ImportUnavailable",
    "UpdateRefused",
    "cancel_stale_updates",
    "cancel_update",
    "create_update",
    "run_update",
    "start_update",
]


def create_update(
    jira_import: JiraImport, *, requested_by: User | None, token: str, scheduled: bool = False
) -> JiraSyncRun:
    """A pending update of a finished import with the requester's token (PermissionDenied, UpdateRefused)."""
    if not permissions.may_update_import(requested_by, jira_import):
        raise PermissionDenied("Only an administrator of the project can update an import from Jira.")
    if not token:
        raise UpdateRefused("Give the Jira token (or password) again: it is not kept after an import.")
    return sync_runs.create(jira_import, requested_by=requested_by, token=token, scheduled=scheduled)


def start_update(
    jira_import: JiraImport, *, requested_by: User | None, token: str, scheduled: bool = False
) -> JiraSyncRun:
    """Create the update and hand it to the jira_import workers (ImportUnavailable when Redis is down)."""
    available, reason = import_available()
    if not available:
        raise ImportUnavailable(reason)
    sync_run = create_update(jira_import, requested_by=requested_by, token=token, scheduled=scheduled)
    job_id = f"jira-update-{sync_run.pk}-{uuid.uuid4().hex[:12]}"
    sync_runs.record_job(sync_run, job_id)
    try:
        queues.enqueue_jira_update(sync_run.pk, job_id=job_id, project_key=jira_import.jira_project_key)
    except (redis.RedisError, OSError):
        sync_runs.withdraw(sync_run)
        raise ImportUnavailable(UNAVAILABLE) from None
    logger.info("Update %s of Jira import %s enqueued as job %s.", sync_run.pk, jira_import.pk, job_id)
    return sync_run


def cancel_update(sync_run: JiraSyncRun, *, by: User | None) -> None:
    """Cancel a pending update now; ask a running one to stop (what its pages wrote stays: it is
    Jira's, and the next update would bring it anyway)."""
    if not permissions.may_cancel_update(by, sync_run.jira_import, sync_run.requested_by_id):
        raise PermissionDenied(
            "Only the requester or an administrator of the project can cancel this update."
        )
    if sync_runs.cancel(sync_run):
        _drop_job(sync_run.job_id)


def _drop_job(job_id: str) -> None:
    if not job_id:
        return
    try:
        queues.cancel_jira_job(job_id)
    except Exception as error:  # gone already; the run checks its row anyway
        logger.info("Update job %s could not be cancelled in RQ: %s", job_id, type(error).__name__)


def cancel_stale_updates(max_age: dt.timedelta) -> list[JiraSyncRun]:
    """Cancel updates pending or running for longer than ``max_age``, and email their requesters."""
    cancelled = sync_runs.cancel_stale(max_age)
    for sync_run in cancelled:
        _drop_job(sync_run.job_id)
    return cancelled


def latest_update(jira_import: JiraImport) -> JiraSyncRun | None:
    return JiraSyncRun.objects.filter(jira_import=jira_import).order_by("-created_at", "-pk").first()


def _claim(sync_run: JiraSyncRun) -> sync_runs.SyncRun | None:
    return sync_runs.claim(sync_run, dt.timedelta(minutes=settings.JIRA_SYNC_MARGIN_MINUTES))


UPDATE = run_loop.RunKind[JiraSyncRun](
    name="Update",
    noun="update",
    claim=_claim,
    of=lambda sync_run: f"Jira import {sync_run.jira_import_id}",
    engine=Updater,
    timeout_message="The update took longer than the backend worker allows for one job; run it again.",
    # A scheduled run's end counts towards (or resets) its schedule's failures in a row.
    after_finish=schedules.record_outcome,
)


def run_update(sync_run: JiraSyncRun, *, progress: Progress | None = None) -> JiraSyncRun:
    """Run the update now, in this process (the worker's job and the command call it)."""
    return run_loop.run(UPDATE, sync_run, progress)
