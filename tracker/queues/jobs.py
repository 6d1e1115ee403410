"""The platform's RQ queues and jobs: each job's options, enqueueing it, and its failure callback."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import django_rq
import redis
from django.conf import settings
from rq import Callback, Retry
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job
from rq.queue import Queue

from tracker.plain_numbers import plain_number
from tracker.queues.clients import ENQUEUE, Deadlines, breaker, queue_client, queue_url

# Queues -----------------------------------------------------------------------------------------


def rq_queue(name: str, *, connection: redis.Redis | None = None, deadlines: Deadlines = ENQUEUE) -> Queue:
    """Queue ``name`` of ``settings.RQ_QUEUES`` (our metered queue class) on ``connection`` or ours."""
    if connection is None:
        connection = queue_client(name, deadlines)
    return django_rq.get_queue(name, connection=connection, commit_mode="auto")


def notifications_queue() -> Queue:
    return rq_queue(settings.NOTIFICATIONS_QUEUE)


def jira_import_queue() -> Queue:
    return rq_queue(settings.JIRA_IMPORT_QUEUE)


def incoming_email_queue() -> Queue:
    return rq_queue(settings.INCOMING_EMAIL_QUEUE)


# Jobs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """What every job of one kind is enqueued with. ``function`` and ``on_failure``: dotted paths."""

    function: str
    on_failure: str
    retries: int
    # How long RQ keeps the trace of a job, for the RQ admin pages.
    result_ttl: int
    failure_ttl: int


# No RQ retries: the retry schedule is on the notification record (tracker/notifications/schedule.py),
# and each attempt is a job of its own, enqueued (or scheduled) by the attempt before or by the sweep.
NOTIFICATION_JOB = JobKind(
    function="tracker.notifications.jobs.send_changeset_notification",
    on_failure="tracker.notifications.jobs.job_failed",
    retries=0,
    result_ttl=3600,
    failure_ttl=7 * 24 * 3600,
)
# A killed worker's job is run again once (RQ's abandoned-job handling); the run resumes.
JIRA_IMPORT_JOB = JobKind(
    function="tracker.jira_import.jobs.run_jira_import",
    on_failure="tracker.jira_import.jobs.job_failed",
    retries=2,
    result_ttl=24 * 3600,
    failure_ttl=7 * 24 * 3600,
)


# One attempt per job, like notifications: the inbound record says what is left to do, and the recovery
# sweep hands a record whose job Redis lost to a new one.
INCOMING_EMAIL_JOB = JobKind(
    function="tracker.email_gateway.jobs.process_inbound_email",
    on_failure="tracker.email_gateway.jobs.job_failed",
    retries=0,
    result_ttl=3600,
    failure_ttl=7 * 24 * 3600,
)


def _enqueue(
    queue: Queue,
    kind: JobKind,
    object_id: int,
    *,
    retry: Retry | None,
    at: dt.datetime | None,
    **options: Any,
) -> Job:
    """Enqueue, unless this Redis failed moments ago (RedisSkipped); a Redis error trips the breaker."""
    found = breaker(_queue_url_of(queue))
    found.check()
    options.update(
        retry=retry,
        on_failure=Callback(kind.on_failure),
        result_ttl=kind.result_ttl,
        failure_ttl=kind.failure_ttl,
    )
    try:
        if at is not None:
            return queue.enqueue_at(at, kind.function, object_id, **options)
        return queue.enqueue(kind.function, object_id, **options)
    except (redis.RedisError, OSError) as error:
        found.trip_on(error)
        raise


def _queue_url_of(queue: Queue) -> str:
    return queue_url(queue.name) if queue.name in settings.RQ_QUEUES else settings.REDIS_URL


def new_notification_job_id(changeset_id: int) -> str:
    """A fresh id for the next job of a changeset's notification (each attempt gets its own)."""
    return f"notification-{changeset_id}-{uuid.uuid4().hex[:12]}"


def notification_changeset_id(job_id: str) -> int | None:
    """The changeset of a job id made by ``new_notification_job_id``; None for any other job."""
    prefix, _, rest = job_id.partition("-")
    changeset, _, suffix = rest.partition("-")
    changeset_id = plain_number(changeset)
    if prefix != "notification" or not suffix:
        return None
    return changeset_id


def enqueue_notification(changeset_id: int, *, job_id: str, at: dt.datetime | None = None) -> Job:
    """The job ``job_id`` for the changeset's notification (ids only), now or at ``at``.

    Raises redis.RedisError (RedisSkipped while the breaker is open).
    """
    return _enqueue_on_notifications(
        NOTIFICATION_JOB, changeset_id, job_id, at, f"Notification for changeset {changeset_id}"
    )


def _enqueue_on_notifications(
    kind: JobKind, object_id: int, job_id: str, at: dt.datetime | None, description: str
) -> Job:
    """Every job of the notifications queue: one attempt (no RQ retries), the notification timeout."""
    return _enqueue(
        notifications_queue(),
        kind,
        object_id,
        retry=None,
        at=at,
        job_id=job_id,
        job_timeout=settings.NOTIFICATION_JOB_TIMEOUT,
        description=description,
    )


# A batch of a big changeset's recipients (tracker/notifications/fanout.py): one attempt per job, like the
# record's; its retry schedule is on its NotificationBatch row.
NOTIFICATION_BATCH_JOB = JobKind(
    function="tracker.notifications.jobs.send_notification_batch",
    on_failure="tracker.notifications.jobs.batch_job_failed",
    retries=0,
    result_ttl=3600,
    failure_ttl=7 * 24 * 3600,
)


def new_notification_batch_job_id(batch_id: int) -> str:
    """A fresh id for the next job of a notification batch (each attempt gets its own)."""
    return f"notification-batch-{batch_id}-{uuid.uuid4().hex[:12]}"


def enqueue_notification_batch(batch_id: int, *, job_id: str, at: dt.datetime | None = None) -> Job:
    """The job ``job_id`` sending one batch (its id only) on the notifications queue, now or at ``at``.

    Raises redis.RedisError (RedisSkipped while the breaker is open).
    """
    return _enqueue_on_notifications(
        NOTIFICATION_BATCH_JOB, batch_id, job_id, at, f"Notification batch {batch_id}"
    )


def new_inbound_job_id() -> str:
    """A fresh job id for an inbound email, chosen before its row is written (so written with it)."""
    return f"inbound-email-{uuid.uuid4().hex}"


def enqueue_incoming_email(inbound_id: int, *, job_id: str) -> Job:
    """The job processing inbound email ``inbound_id`` (its id only), with the ENQUEUE deadlines.

    Raises redis.RedisError (RedisSkipped while the breaker is open) or OSError.
    """
    return _enqueue(
        incoming_email_queue(),
        INCOMING_EMAIL_JOB,
        inbound_id,
        retry=None,
        at=None,
        job_id=job_id,
        job_timeout=settings.EMAIL_GATEWAY_JOB_TIMEOUT,
        description=f"Inbound email {inbound_id}",
    )


def enqueue_jira_import(import_id: int, *, job_id: str, project_key: str = "") -> Job:
    """The import's job (its id only) under ``job_id``; raises redis.RedisError (or OSError)."""
    of_project = f" of {project_key}" if project_key else ""
    return _enqueue(
        jira_import_queue(),
        JIRA_IMPORT_JOB,
        import_id,
        retry=Retry(max=JIRA_IMPORT_JOB.retries),
        at=None,
        job_id=job_id,
        description=f"Jira import {import_id}{of_project}",
    )


# An update run resumes like an import: a killed worker's job runs again and rewrites its pages as no-ops.
JIRA_UPDATE_JOB = JobKind(
    function="tracker.jira_import.jobs.run_jira_update",
    on_failure="tracker.jira_import.jobs.update_job_failed",
    retries=2,
    result_ttl=24 * 3600,
    failure_ttl=7 * 24 * 3600,
)


def enqueue_jira_update(run_id: int, *, job_id: str, project_key: str = "") -> Job:
    """An update run's job (its id only) under ``job_id`` on the jira_import queue; raises
    redis.RedisError (or OSError)."""
    of_project = f" of {project_key}" if project_key else ""
    return _enqueue(
        jira_import_queue(),
        JIRA_UPDATE_JOB,
        run_id,
        retry=Retry(max=JIRA_UPDATE_JOB.retries),
        at=None,
        job_id=job_id,
        description=f"Update from Jira {run_id}{of_project}",
    )


def fetch_jira_job(job_id: str) -> Job | None:
    """The Jira import job ``job_id``, or None once RQ has forgotten it; raises redis.RedisError."""
    try:
        return Job.fetch(job_id, connection=jira_import_queue().connection)
    except NoSuchJobError:
        return None


def cancel_jira_job(job_id: str) -> None:
    """Take a Jira import job off its queue; raises NoSuchJobError when it is gone, or a Redis error."""
    Job.fetch(job_id, connection=jira_import_queue().connection).cancel()


def final_failure_id(job: Job) -> int | None:
    """For a failure callback: the id the job carries (its first argument) once RQ will not retry it.

    None while a retry is left (RQ calls the callback before deciding to retry, and the next attempt
    takes the work back), or when the job carries no id we can read.
    """
    if job.should_retry:
        return None
    try:
        return int(job.args[0])
    except (IndexError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class FinalFailure:
    """A job RQ will not run again: its id, the object id it carried, and why it ended."""

    job_id: str
    object_id: int
    # The worker died under it (RQ's AbandonedJobError), rather than the job raising.
    abandoned: bool
    error_name: str
    error: BaseException | None

    def describe(self) -> str:
        """``ExceptionName: message``, for a record's error and the log."""
        return f"{self.error_name or 'Error'}: {self.error}"


RQFailureCallback = Callable[
    [Job, Any, "type[BaseException] | None", "BaseException | None", "TracebackType | None"], None
]


def on_final_failure(handler: Callable[[FinalFailure], None]) -> RQFailureCallback:
    """RQ's failure callback around ``handler``, which runs only once RQ will not retry the job (RQ
    calls the callback before deciding to retry) and the job carries an id it can read.

    The callback keeps the handler's module and name (``functools.wraps``): RQ stores a callback by
    its dotted path (``JobKind.on_failure``) and imports it back in the worker.
    """

    @functools.wraps(handler)
    def callback(
        job: Job,
        connection: Any,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        object_id = final_failure_id(job)
        if object_id is None:
            return
        abandoned = exc_type is not None and issubclass(exc_type, AbandonedJobError)
        handler(FinalFailure(job.id, object_id, abandoned, exc_type.__name__ if exc_type else "", exc_value))

    return callback
