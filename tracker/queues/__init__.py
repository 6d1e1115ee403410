"""The one place that builds Redis clients and RQ queues, and holds the options of every job we enqueue.

Callers import the package (``from tracker import queues``); its three modules are ``clients``
(connections, deadlines, the breaker), ``jobs`` (queues, enqueueing, failure callbacks) and
``recovery`` (what Redis still knows of jobs, for the sweep).

What it owns:

- **Clients.** Every Redis client of the platform's own code comes from here: ``redis_client()`` (one
  client, and so one connection pool, per process, kind of caller and URL), ``new_client()`` (a client
  of its own, which the caller closes), ``anonymous_client()`` (the system check's probe without
  credentials) and ``unpooled_connection()`` (one connection outside any pool, the delivery journal's).
  Each kind of caller gets deadlines suited to it, one :class:`Deadlines` each: ``ENQUEUE`` (a web
  request, or a job, handing work to the workers), ``METRICS`` (the metrics store), ``SYSTEM_CHECK``,
  ``SUPERVISOR`` (its registry maintenance and stand-in scheduler) and ``RQ_WORKER`` (rq ``Worker``
  objects, which set their own socket timeout). ``_connect()`` is the only place a URL becomes a client.
- **Queues.** ``rq_queue()`` and the three queues of the platform, ``notifications_queue()``,
  ``jira_import_queue()`` and ``incoming_email_queue()`` (the email gateway's); ``commit_mode="auto"``:
  we enqueue after the commit already, and want a Redis error raised at the call.
- **Jobs.** ``enqueue_notification()`` (and its fan-out's ``enqueue_notification_batch()``),
  ``enqueue_incoming_email()``, ``enqueue_jira_import()`` and
  ``enqueue_jira_update()`` with their job ids, timeouts, retries, failure callbacks, TTLs and
  descriptions; ``fetch_jira_job()`` and ``cancel_jira_job()``; ``on_final_failure()``, which turns a
  handler of :class:`FinalFailure` into RQ's failure callback (run only once RQ will not retry, with
  the job's id read for it). Jobs are named by dotted string, so this package imports no job module
  and no job imports the module that enqueued it.
- **Skipping a Redis that just failed.** ``breaker(url)``: one :class:`Breaker` per process and URL,
  shared by the enqueue and the metrics store: after a failure seen by either, both skip that Redis for
  ``BREAKER_SECONDS`` (:class:`RedisSkipped`), so a save waits for a dead or frozen Redis at most once
  per window, and at most the ENQUEUE deadlines (about half a second) then.
- **Recovery helpers.** ``job_states()`` (what Redis still knows of some jobs: status, last heartbeat)
  and ``sweep_client()``, the client of the recovery sweep's lock and counters.
- **Redis Sentinel** (``settings.REDIS_SENTINEL``, from ``REDIS_SENTINELS``): ``_connect()`` builds
  ``Sentinel(...).master_for(...)`` with the caller's ``Deadlines.client_options()`` (the sentinels are
  asked with the same deadlines) instead of ``Redis.from_url``, so every caller above follows the
  master; REDIS_URL then lends only its credentials, database and TLS. ``sentinel_manager()`` and
  ``master_address()`` serve the system check (its topology check, the anonymous probe). For what
  django-rq connects itself, settings give the ``RQ_QUEUES`` entries django-rq's own
  ``SENTINELS``/``MASTER_NAME`` keys from the same parsed value.

Not built here: what django-rq connects itself from ``settings.RQ_QUEUES`` (the ``manage.py rqworker``
processes, its admin pages and the RQ collector of ``/metrics``).

"""

from __future__ import annotations

from tracker.queues.clients import (
    BREAKER_SECONDS,
    ENQUEUE,
    METRICS,
    RQ_WORKER,
    SUPERVISOR,
    SYSTEM_CHECK,
    Breaker,
    Deadlines,
    RedisSkipped,
    anonymous_client,
    breaker,
    master_address,
    new_client,
    queue_client,
    queue_url,
    redis_client,
    redis_label,
    reset,
    sentinel_manager,
    timed_out,
    unpooled_connection,
)
from tracker.queues.jobs import (
    INCOMING_EMAIL_JOB,
    JIRA_IMPORT_JOB,
    JIRA_UPDATE_JOB,
    NOTIFICATION_BATCH_JOB,
    NOTIFICATION_JOB,
    FinalFailure,
    JobKind,
    cancel_jira_job,
    enqueue_incoming_email,
    enqueue_jira_import,
    enqueue_jira_update,
    enqueue_notification,
    enqueue_notification_batch,
    fetch_jira_job,
    final_failure_id,
    incoming_email_queue,
    jira_import_queue,
    new_inbound_job_id,
    new_notification_batch_job_id,
    new_notification_job_id,
    notification_changeset_id,
    notifications_queue,
    on_final_failure,
    rq_queue,
)
from tracker.queues.recovery import (
    HEARTBEAT_GRACE_SECONDS,
    HEARTBEAT_SECONDS,
    JobState,
    job_states,
    sweep_client,
)
from tracker.queues.waiting import listening_workers, take_off, waiting_job_ids

__all__ = [
    "BREAKER_SECONDS",
    "ENQUEUE",
    "HEARTBEAT_GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "INCOMING_EMAIL_JOB",
    "JIRA_IMPORT_JOB",
    "JIRA_UPDATE_JOB",
    "METRICS",
    "NOTIFICATION_BATCH_JOB",
    "NOTIFICATION_JOB",
    "RQ_WORKER",
    "SUPERVISOR",
    "SYSTEM_CHECK",
    "Breaker",
    "Deadlines",
    "FinalFailure",
    "JobKind",
    "JobState",
    "RedisSkipped",
    "anonymous_client",
    "breaker",
    "cancel_jira_job",
    "enqueue_incoming_email",
    "enqueue_jira_import",
    "enqueue_jira_update",
    "enqueue_notification",
    "enqueue_notification_batch",
    "fetch_jira_job",
    "final_failure_id",
    "incoming_email_queue",
    "jira_import_queue",
    "job_states",
    "listening_workers",
    "master_address",
    "new_client",
    "new_inbound_job_id",
    "new_notification_batch_job_id",
    "new_notification_job_id",
    "notification_changeset_id",
    "notifications_queue",
    "on_final_failure",
    "queue_client",
    "queue_url",
    "redis_client",
    "redis_label",
    "reset",
    "rq_queue",
    "sentinel_manager",
    "sweep_client",
    "take_off",
    "timed_out",
    "unpooled_connection",
    "waiting_job_ids",
]
