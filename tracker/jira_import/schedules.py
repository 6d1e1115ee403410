"""The scheduled sync of an import (opt-in): the life of a ``JiraSyncSchedule`` row, all of it here.

    start --(every interval, by the recovery sweep)--> an update run, scheduled
      \\--stop (asked for) | expired (the period ended) | three failures in a row--> stopped

Keeping the token is the point of a schedule, and the only case a Jira token outlives a run: it is
encrypted (:mod:`.vault`) and erased the moment the schedule stops, whatever the reason. The runs are
ordinary update runs (:mod:`.sync_runs`) on the ``jira_import`` queue; the sweep of the worker
supervisor (:mod:`tracker.workers.sweep`), one host at a time, starts those that are due, each
claimed by a conditional UPDATE of ``next_run_at`` so no two sweeps start the same.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.utils import timezone

from tracker import permissions, queues
from tracker.jira_import import emails, sync_runs, vault
from tracker.jira_import.sync_runs import UpdateRefused
from tracker.models import JiraImport, JiraSyncRun, JiraSyncSchedule, User

logger = logging.getLogger("tracker.jira_import")

MIN_INTERVAL_MINUTES = 15
MAX_DAYS = 90
# Once in the longest period at least (and within the database's integer).
MAX_INTERVAL_MINUTES = MAX_DAYS * 24 * 60
MAX_FAILURES = 3
EXPIRED = "The sync period ended; the token was erased."
ASKED = "Stopped on request; the token was erased."


def start_schedule(
    jira_import: JiraImport, *, requested_by: User | None, token: str, interval_minutes: int, days: int
) -> JiraSyncSchedule:
    """Keep the import in sync every ``interval_minutes`` (15 or more) for ``days`` (90 at most);
    asked for at import time, the first update is the first due after the import has finished.

    Raises PermissionDenied, or ValidationError keyed by ``interval_minutes``, ``days``, ``token``.
    """
    if not permissions.may_update_import(requested_by, jira_import):
        raise PermissionDenied("Only an administrator of the project can keep an import in sync with Jira.")
    errors: dict[str, list[str]] = {}
    if jira_import.status in (JiraImport.Status.FAILED, JiraImport.Status.CANCELLED):
        errors["__all__"] = ["This import did not finish: there is nothing to keep in sync."]
    if interval_minutes < MIN_INTERVAL_MINUTES:
        errors["interval_minutes"] = [f"Sync at most every {MIN_INTERVAL_MINUTES} minutes."]
    elif interval_minutes > MAX_INTERVAL_MINUTES:
        errors["interval_minutes"] = [
            f"Sync at least every {MAX_INTERVAL_MINUTES} minutes ({MAX_DAYS} days)."
        ]
    if not 1 <= days <= MAX_DAYS:
        errors["days"] = [f"Sync for 1 to {MAX_DAYS} days."]
    if not token:
        errors["token"] = ["Give the Jira token of the import's account: the schedule keeps it, encrypted."]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    schedule, _ = JiraSyncSchedule.objects.update_or_create(
        jira_import=jira_import,
        defaults={
            "requested_by": requested_by,
            "interval_minutes": interval_minutes,
            "expires_at": now + dt.timedelta(days=days),
            "next_run_at": now,  # the first run at the next sweep
            "token_encrypted": vault.encrypt(token),
            "active": True,
            "consecutive_failures": 0,
            "stopped_reason": "",
            "stopped_at": None,
        },
    )
    logger.info(
        "Jira import %s: synced every %s minutes for %s days.", jira_import.pk, interval_minutes, days
    )
    return schedule


def stop_schedule(schedule: JiraSyncSchedule, reason: str = ASKED) -> bool:
    """Stop syncing and erase the token; False when it had stopped already."""
    stopped = JiraSyncSchedule.objects.filter(pk=schedule.pk, active=True).update(
        active=False, token_encrypted="", stopped_reason=reason[:2000], stopped_at=timezone.now()
    )
    schedule.refresh_from_db()
    if stopped:
        logger.info("Jira import %s: sync stopped. %s", schedule.jira_import_id, reason)
    return bool(stopped)


def start_due(now: dt.datetime) -> list[str]:
    """Stop the expired schedules, and start an update of each due one (the sweep calls it)."""
    done = []
    for schedule in JiraSyncSchedule.objects.filter(active=True, expires_at__lte=now):
        if stop_schedule(schedule, EXPIRED):
            done.append(f"sync of import {schedule.jira_import_id} expired")
    due = (
        JiraSyncSchedule.objects.filter(active=True, next_run_at__lte=now, expires_at__gt=now)
        .select_related("jira_import", "jira_import__project")
        .order_by("next_run_at")[:100]
    )
    for schedule in due:
        if schedule.jira_import.status in (JiraImport.Status.FAILED, JiraImport.Status.CANCELLED):
            if stop_schedule(schedule, "The import did not finish: nothing to sync; the token was erased."):
                done.append(f"sync of import {schedule.jira_import_id} stopped")
            continue
        claimed = JiraSyncSchedule.objects.filter(pk=schedule.pk, next_run_at=schedule.next_run_at).update(
            next_run_at=now + dt.timedelta(minutes=schedule.interval_minutes)
        )
        if claimed and _start_run(schedule):
            done.append(f"sync of import {schedule.jira_import_id} started")
    return done


def _start_run(schedule: JiraSyncSchedule) -> bool:
    try:
        token = vault.decrypt(schedule.token_encrypted)
        sync_run = sync_runs.create(
            schedule.jira_import, requested_by=schedule.requested_by, token=token, scheduled=True
        )
    except UpdateRefused:
        return False  # an update is running already: this turn is skipped
    except vault.TokenUnavailable as error:
        stop_schedule(schedule, str(error))
        return False
    job_id = f"jira-update-{sync_run.pk}-{uuid.uuid4().hex[:12]}"
    sync_runs.record_job(sync_run, job_id)
    try:
        queues.enqueue_jira_update(
            sync_run.pk, job_id=job_id, project_key=schedule.jira_import.jira_project_key
        )
    except (redis.RedisError, OSError):
        sync_runs.withdraw(sync_run)
        return False
    return True


def record_outcome(sync_run: JiraSyncRun) -> None:
    """After a scheduled run: a success resets the failures; the third failure in a row stops the
    schedule (its token erased) and tells the requester."""
    if not sync_run.scheduled or sync_run.status not in (JiraSyncRun.Status.DONE, JiraSyncRun.Status.FAILED):
        return
    schedules = JiraSyncSchedule.objects.filter(jira_import_id=sync_run.jira_import_id, active=True)
    if sync_run.status == JiraSyncRun.Status.DONE:
        schedules.update(consecutive_failures=0)
        return
    schedules.update(consecutive_failures=F("consecutive_failures") + 1)
    schedule = JiraSyncSchedule.objects.filter(jira_import_id=sync_run.jira_import_id).first()
    if schedule is None or not schedule.active or schedule.consecutive_failures < MAX_FAILURES:
        return
    reason = (
        f"Stopped after {MAX_FAILURES} failed updates in a row (the last: {sync_run.message}); "
        "the token was erased."
    )
    if stop_schedule(schedule, reason):
        emails.send_sync_stopped(schedule)
