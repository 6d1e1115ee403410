"""The recovery loop: every NOTIFICATION_SWEEP_INTERVAL, hand what is due to a new job, on one host.

Run by the supervisor (``backend_workers start``) in its loop, and by ``manage.py notifications_sweep``
for setups that run ``rqworker`` by hand. One sweep at a time across hosts: the sweep takes a Redis lock
with an expiry (``sweep_lock``; SET NX PX, released by its holder only) and skips its
turn when another host holds it. A Redis lock rather than ``SELECT ... FOR UPDATE SKIP LOCKED``: SQLite
has no row locks, and a sweep cannot do anything useful without Redis anyway (it hands records to jobs).
Whatever the overlap (a lock that expired under a stalled sweep), each move of a record is a
conditional UPDATE and the delivery records keep exactly-once.

Each sweep:

- the notifications (``tracker.notifications.recovery.sweep``): lost jobs, retries whose scheduled job
  is gone, records whose sender died, and the same for the batches of big changesets (fan-out);
- the Jira imports: an active import whose job Redis lost is enqueued again (the run resumes where it
  stopped), one whose job failed for good while it was still active is ended failed;
- inbound emails (the email gateway) whose job Redis lost are handed to a new job, and raw messages
  older than EMAIL_GATEWAY_RETENTION_DAYS are purged;
- the scheduled syncs with Jira (``tracker.jira_import.schedules``): the expired ones stop (their
  token erased), the due ones get an update run on the jira_import queue;
- the API's idempotency keys older than their 24 hours are deleted.

Between sweeps, every MAIL_PROBE_INTERVAL while notifications wait for a mail server that was down, it
asks the mail server whether it is back (``recovery.wake_if_mail_server_back``): an outage then costs
its own length plus a few seconds, not the retry pause it had grown to.

It also keeps two counters in Redis that say whether sweeps ever overlapped
(``tuleap:notifications:sweep-active``, incremented for the length of each sweep, and
``...:sweep-overlaps``, incremented when a sweep found another active); an overlap is logged as an error.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import redis
import redis.lock
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from redis.exceptions import LockError

from tracker import queues
from tracker.email_gateway import ingest as gateway_ingest
from tracker.email_gateway import recovery as gateway_recovery
from tracker.jira_import import runs, schedules, sync_runs
from tracker.models import IdempotencyKey, JiraImport, JiraSyncRun
from tracker.notifications import recovery

logger = logging.getLogger("tracker.workers.sweep")

MAIL_PROBE_INTERVAL = 5.0
ACTIVE_KEY = "tuleap:notifications:sweep-active"
OVERLAPS_KEY = "tuleap:notifications:sweep-overlaps"
RUNS_KEY = "tuleap:notifications:sweep-runs"
PROBE_KEY = "tuleap:notifications:mail-probe"
ENDED_JOB_STATUSES = {"failed", "stopped", "canceled"}


SWEEP_LOCK_KEY = "tuleap:notifications:sweep-lock"


def sweep_lock(timeout: float) -> redis.lock.Lock:
    """The lock one sweep holds while it runs, on every host; it expires after ``timeout``.

    redis-py's Lock: SET NX PX with a random token, released only by its holder (a Lua compare-and-
    delete), so a sweep that overran its expiry cannot release the next holder's lock.
    """
    return queues.sweep_client().lock(SWEEP_LOCK_KEY, timeout=timeout, blocking=False, thread_local=False)


def lock_seconds() -> float:
    """How long a sweep's lock lives: a stalled sweep cannot keep the others out for longer."""
    return max(60.0, 2.0 * settings.NOTIFICATION_SWEEP_INTERVAL)


def recover_jira_imports(now: dt.datetime) -> list[str]:
    """Active imports whose job Redis lost (enqueued again) or whose job ended in RQ (ended failed)."""
    recovery_after = dt.timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER)
    active = list(
        JiraImport.objects.filter(status__in=JiraImport.ACTIVE, created_at__lt=now - recovery_after)
        .exclude(job_id="")
        .order_by("pk")[: recovery.BATCH]
    )
    states = queues.job_states([item.job_id for item in active], queue_name=settings.JIRA_IMPORT_QUEUE)
    done = []
    for item in active:
        state = states[item.job_id]
        if state.status is None:
            job_id = f"jira-import-{item.pk}-{uuid.uuid4().hex[:12]}"
            runs.record_job(item, job_id)
            queues.enqueue_jira_import(item.pk, job_id=job_id, project_key=item.jira_project_key)
            logger.warning("Jira import %s: Redis lost its job; enqueued again as %s.", item.pk, job_id)
            done.append(f"import {item.pk} resumed")
        elif state.status in ENDED_JOB_STATUSES:
            runs.fail_abandoned(item.pk)
            logger.warning(
                "Jira import %s: its job %s %s in RQ; the import is ended.",
                item.pk,
                item.job_id,
                state.status,
            )
            done.append(f"import {item.pk} ended")
    return done


def recover_jira_updates(now: dt.datetime) -> list[str]:
    """The same for updates from Jira: a lost job is enqueued again (the run resumes, its pages
    rewritten as no-ops), one whose job ended in RQ while the run was active ends the run failed."""
    recovery_after = dt.timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER)
    active = list(
        JiraSyncRun.objects.filter(status__in=JiraSyncRun.ACTIVE, created_at__lt=now - recovery_after)
        .exclude(job_id="")
        .select_related("jira_import")
        .order_by("pk")[: recovery.BATCH]
    )
    states = queues.job_states([item.job_id for item in active], queue_name=settings.JIRA_IMPORT_QUEUE)
    done = []
    for item in active:
        state = states[item.job_id]
        if state.status is None:
            job_id = f"jira-update-{item.pk}-{uuid.uuid4().hex[:12]}"
            sync_runs.record_job(item, job_id)
            queues.enqueue_jira_update(item.pk, job_id=job_id, project_key=item.jira_import.jira_project_key)
            logger.warning("Update %s from Jira: Redis lost its job; enqueued again as %s.", item.pk, job_id)
            done.append(f"update {item.pk} resumed")
        elif state.status in ENDED_JOB_STATUSES:
            ended = sync_runs.fail_abandoned(item.pk, "The update's job ended in the workers' queue.")
            if ended is not None:
                schedules.record_outcome(ended)
            done.append(f"update {item.pk} ended")
    return done


def drain_local_spool(host: str) -> None:
    """Store this host's email spool, whichever host holds the sweep lock.

    The fast pipe (``tracker.email_gateway.pipe``) writes to a directory of the mail host; the sweep
    below runs on one host at a time, so without this a spool on a host that never wins the lock
    would wait for an LMTP process that may not run there. Two readers of one spool are safe (the
    record's unique ``spool_name``).
    """
    try:
        gateway_ingest.ingest_spool()
    except (DatabaseError, OSError) as error:
        logger.warning("Email spool on %s not stored (%s); trying again at the next sweep.", host, error)


def run_once(host: str) -> str:
    """One sweep, unless another host holds the lock: ``ran``, ``skipped`` or ``failed``."""
    try:
        lock = sweep_lock(lock_seconds())
        if not lock.acquire():
            return "skipped"
    except (redis.RedisError, OSError) as error:
        logger.warning("Recovery sweep not run: Redis cannot be reached (%s); trying again later.", error)
        return "failed"
    client = queues.sweep_client()
    outcome = "ran"
    try:
        if client.incr(ACTIVE_KEY) > 1:
            client.incr(OVERLAPS_KEY)
            logger.error("Recovery sweep on %s: another sweep is active at the same time.", host)
        client.expire(ACTIVE_KEY, int(lock_seconds()))
        client.hincrby(RUNS_KEY, host, 1)
        now = timezone.now()
        found = recovery.sweep(now)
        imports = recover_jira_imports(now) + recover_jira_updates(now)
        # The scheduled syncs with Jira that are due start here, one host at a time like the rest.
        imports += schedules.start_due(now)
        emails = gateway_recovery.sweep(now)
        gateway_recovery.housekeeping(now)
        # Not recovery, but a chore of the same rhythm on one host: API idempotency keys past their life.
        IdempotencyKey.objects.filter(created_at__lt=now - IdempotencyKey.LIFETIME).delete()
        if found.total or imports or found.failed_enqueues or emails:
            logger.warning(
                "Recovery sweep on %s: %s%s%s%s.",
                host,
                found,
                f"; {found.failed_enqueues} could not be queued" if found.failed_enqueues else "",
                f"; Jira: {', '.join(imports)}" if imports else "",
                f"; {emails} inbound emails handed to new jobs" if emails else "",
            )
        else:
            logger.debug("Recovery sweep on %s: nothing to recover.", host)
    except (redis.RedisError, OSError, DatabaseError) as error:
        logger.warning("Recovery sweep failed (%s: %s); trying again later.", type(error).__name__, error)
        outcome = "failed"
    finally:
        try:
            client.decr(ACTIVE_KEY)
            lock.release()
        except LockError:
            logger.warning("Recovery sweep on %s outlived its lock (%.0f s).", host, lock_seconds())
        except (redis.RedisError, OSError):
            pass  # the lock expires by itself
    return outcome


def probe_once() -> int:
    """Wake the records waiting for a mail server that answers again; the number woken."""
    beyond = dt.timedelta(seconds=MAIL_PROBE_INTERVAL)
    try:
        if not recovery.anything_waiting_for_mail_server(timezone.now(), beyond):
            return 0
        # One probe per interval for the whole platform, whichever host gets there first; the key lives a
        # little less than the interval, so the same host's next turn finds it gone.
        if not queues.sweep_client().set(PROBE_KEY, "1", nx=True, px=int(MAIL_PROBE_INTERVAL * 800)):
            return 0
        return recovery.wake_if_mail_server_back(beyond).total
    except (redis.RedisError, OSError, DatabaseError) as error:
        logger.warning("Mail server probe failed (%s: %s).", type(error).__name__, error)
        return 0


class Sweeper:
    """When the next sweep and the next mail probe are due; ``tick()`` from a loop runs what is."""

    def __init__(self, host: str) -> None:
        self.host = host
        # The first sweep right away: a host that starts after an outage recovers at once.
        self.next_sweep = 0.0
        self.next_probe = time.monotonic() + MAIL_PROBE_INTERVAL

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self.next_sweep:
            self.next_sweep = now + settings.NOTIFICATION_SWEEP_INTERVAL
            drain_local_spool(self.host)
            run_once(self.host)
            close_old_connections()  # a long-lived process: like the end of a request
        if now >= self.next_probe:
            self.next_probe = now + MAIL_PROBE_INTERVAL
            probe_once()
            close_old_connections()

    def seconds_to_next(self) -> float:
        return max(0.0, min(self.next_sweep, self.next_probe) - time.monotonic())
