"""The one module that builds Redis clients and RQ queues, and holds the options of every job we enqueue.

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
- **Jobs.** ``enqueue_notification()``, ``enqueue_incoming_email()`` and ``enqueue_jira_import()`` with
  their job ids, timeouts, retries, failure callbacks, TTLs and descriptions; ``fetch_jira_job()`` and
  ``cancel_jira_job()``; ``final_failure_id()``, what a failure callback asks before giving up on its
  record. Jobs are named by dotted string, so this module imports no job module and no job imports
  the module that enqueued it.
- **Skipping a Redis that just failed.** ``breaker(url)``: one :class:`Breaker` per process and URL,
  shared by the enqueue and the metrics store: after a failure seen by either, both skip that Redis for
  ``BREAKER_SECONDS`` (:class:`RedisSkipped`), so a save waits for a dead or frozen Redis at most once
  per window, and at most the ENQUEUE deadlines (about half a second) then.
- **Recovery helpers.** ``job_states()`` (what Redis still knows of some jobs: status, last heartbeat)
  and ``sweep_client()``, the client of the recovery sweep's lock and counters.

Not built here: what django-rq connects itself from ``settings.RQ_QUEUES`` (the ``manage.py rqworker``
processes, its admin pages and the RQ collector of ``/metrics``); and, until it is pointed at
``jira_import_queue()`` / ``enqueue_jira_import()`` / ``cancel_jira_job()``, the Jira import's own
``_redis``/``_queue`` in ``tracker/jira_import/services.py``.

A later feature and where it goes:

- *Redis Sentinel* (``REDIS_SENTINELS``, parsed in settings): ``_connect()`` (and the anonymous probe)
  build ``Sentinel(...).master_for(...)`` with the same ``Deadlines.client_options()`` instead of
  ``Redis.from_url``, and every caller above follows. For what django-rq connects itself, settings give
  the ``RQ_QUEUES`` entries django-rq's own ``SENTINELS``/``MASTER_NAME`` keys from the same parsed
  value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import django_rq
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry as RedisRetry
from rq import Callback, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcparse

# Clients ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    """How long one kind of caller may wait for Redis: connect and per-command timeouts, retries."""

    name: str
    connect: float | None
    command: float | None
    # redis-py retries without backoff; None keeps redis-py's own default (retries with backoff).
    retries: int | None
    health_check_interval: int = 0

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"socket_connect_timeout": self.connect, "socket_timeout": self.command}
        if self.retries is not None:
            options["retry"] = RedisRetry(NoBackoff(), self.retries)
        if self.health_check_interval:
            options["health_check_interval"] = self.health_check_interval
        return options


# Short: a save must never wait long on an unreachable or frozen Redis (the record is safe in the
# database either way: sent inline, or recovered by the sweep). A loaded Redis answers an enqueue in
# well under a millisecond; these are the budget of one save, with no retry.
ENQUEUE = Deadlines("enqueue", connect=0.3, command=0.5, retries=0, health_check_interval=30)
# redis-py retries three times with backoff by default: seconds per event while Redis is down.
METRICS = Deadlines("metrics", connect=1, command=2, retries=0)
# Long enough for a loaded server, short enough that an unreachable Redis does not stall the run.
SYSTEM_CHECK = Deadlines("system_check", connect=3, command=5, retries=None)
# The supervisor's loop restarts dead workers: a hung Redis must not hold it (it tries again next round).
SUPERVISOR = Deadlines("supervisor", connect=2, command=5, retries=0)
# An rq Worker raises the socket timeout of its client's pool above its blocking dequeue; never give it
# a client another caller shares.
RQ_WORKER = Deadlines("rq_worker", connect=None, command=None, retries=None)

_clients: dict[tuple[str, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def _connect(url: str, deadlines: Deadlines) -> redis.Redis:
    """The one place a URL becomes a client (with Sentinel, the master it names)."""
    return redis.Redis.from_url(url, **deadlines.client_options())


def redis_client(deadlines: Deadlines = ENQUEUE, *, url: str | None = None) -> redis.Redis:
    """The process's client for this kind of caller and URL (``REDIS_URL`` unless told)."""
    key = (deadlines.name, url or settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _connect(key[1], deadlines)
    return client


def queue_url(name: str) -> str:
    return settings.RQ_QUEUES[name]["URL"]


def queue_client(name: str, deadlines: Deadlines = ENQUEUE) -> redis.Redis:
    """The process's client for the Redis of queue ``name`` (the delivery journal lives there too)."""
    return redis_client(deadlines, url=queue_url(name))


def new_client(url: str, deadlines: Deadlines) -> redis.Redis:
    """A client nobody else uses, for one run (the system check: rq's Worker.all rewrites its pool)."""
    return _connect(url, deadlines)


@contextlib.contextmanager
def anonymous_client(url: str, deadlines: Deadlines = SYSTEM_CHECK) -> Iterator[redis.Redis]:
    """A client of the same server without the URL's credentials, closed on exit."""
    options = parse_url(url)
    options.pop("username", None)
    options.pop("password", None)
    # RESP2, so the server answers PING with the plain NOAUTH error rather than refusing HELLO.
    pool = redis.ConnectionPool(
        protocol=2,
        socket_connect_timeout=deadlines.connect,
        socket_timeout=deadlines.command,
        **options,
    )
    client = redis.Redis(connection_pool=pool)
    try:
        yield client
    finally:
        client.close()
        pool.disconnect()


def unpooled_connection(client: redis.Redis, **overrides: Any) -> redis.Connection:
    """A connected connection to ``client``'s server, outside its pool: the caller owns and closes it."""
    pool = client.connection_pool
    connection = pool.connection_class(**{**pool.connection_kwargs, **overrides})
    connection.connect()
    return connection


# Skipping a Redis that just failed --------------------------------------------------------------


# After a failure, every caller of that Redis skips it this long: the enqueue and the metrics store.
BREAKER_SECONDS = 5.0


class RedisSkipped(redis.ConnectionError):
    """Not tried: this Redis failed moments ago. ``timed_out``: it was frozen rather than refusing."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class Breaker:
    """Whether callers should leave a Redis alone for a moment because it failed moments ago."""

    open_until: float = field(default=0.0)
    # Whether the failure was a timeout (a frozen or overloaded Redis) rather than a refusal.
    timed_out: bool = False

    def is_open(self) -> bool:
        return self.open_until > time.monotonic()

    def trip(self, seconds: float, *, timed_out: bool = False) -> None:
        self.open_until = time.monotonic() + seconds
        self.timed_out = timed_out

    def trip_on(self, error: BaseException, seconds: float = BREAKER_SECONDS) -> None:
        self.trip(seconds, timed_out=timed_out(error))

    def close(self) -> None:
        self.open_until = 0.0
        self.timed_out = False

    def check(self) -> None:
        """Raise RedisSkipped while open."""
        if self.is_open():
            raise RedisSkipped(
                "Redis failed moments ago; not tried again for a few seconds", timed_out=self.timed_out
            )


def timed_out(error: BaseException) -> bool:
    """A Redis that did not answer in time (frozen, overloaded), as opposed to one refusing connections."""
    if isinstance(error, RedisSkipped):
        return error.timed_out
    return isinstance(error, redis.TimeoutError | TimeoutError)


_breakers: dict[str, Breaker] = {}


def breaker(url: str) -> Breaker:
    """The process's breaker for the Redis at ``url``, shared by every caller of that Redis."""
    found = _breakers.get(url)
    return found if found is not None else _breakers.setdefault(url, Breaker())


def reset() -> None:
    """Close every client and forget every failure, as a new process would (for tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    _breakers.clear()
    for client in clients:
        client.close()


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


def enqueue_notification(changeset_id: int, *, job_id: str, at: dt.datetime | None = None) -> Job:
    """The job ``job_id`` for the changeset's notification (ids only), now or at ``at``.

    Raises redis.RedisError (RedisSkipped while the breaker is open).
    """
    return _enqueue(
        notifications_queue(),
        NOTIFICATION_JOB,
        changeset_id,
        retry=None,
        at=at,
        job_id=job_id,
        job_timeout=settings.NOTIFICATION_JOB_TIMEOUT,
        description=f"Notification for changeset {changeset_id}",
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


# Recovery helpers ---------------------------------------------------------------------------------

# How often our workers refresh a running job's heartbeat (RQ's default is 30 s): the recovery sweep
# presumes a job dead once its heartbeat is HEARTBEAT_GRACE_SECONDS old, so a killed worker's records
# are taken over within seconds instead of after the job timeout.
HEARTBEAT_SECONDS = 5
HEARTBEAT_GRACE_SECONDS = 3 * HEARTBEAT_SECONDS


@dataclass(frozen=True)
class JobState:
    """What Redis knows of a job: its RQ status (None: Redis has no such job) and last heartbeat."""

    status: str | None
    last_heartbeat: dt.datetime | None

    @property
    def waiting(self) -> bool:
        """Queued, scheduled or deferred: a worker (or the scheduler) will take it."""
        return self.status in {"queued", "scheduled", "deferred"}

    def running(self, now: dt.datetime) -> bool:
        """Started, and its worker sent a heartbeat recently."""
        if self.status != "started" or self.last_heartbeat is None:
            return False
        return now - self.last_heartbeat < dt.timedelta(seconds=HEARTBEAT_GRACE_SECONDS)


def _parse_time(raw: bytes | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return utcparse(raw.decode())
    except ValueError:
        return None


def job_states(
    job_ids: list[str], *, queue_name: str | None = None, deadlines: Deadlines = SUPERVISOR
) -> dict[str, JobState]:
    """Each job's state (jobs of the notifications queue unless told), in one round trip.

    Raises redis.RedisError.
    """
    if not job_ids:
        return {}
    client = queue_client(queue_name or settings.NOTIFICATIONS_QUEUE, deadlines)
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(Job.key_for(job_id), "status", "last_heartbeat")
    states = {}
    for job_id, (status, heartbeat) in zip(job_ids, pipe.execute(), strict=True):
        states[job_id] = JobState(status.decode() if status else None, _parse_time(heartbeat))
    return states


def sweep_client(deadlines: Deadlines = SUPERVISOR) -> redis.Redis:
    """The client of the sweep's lock and counters (the notifications queue's Redis)."""
    return queue_client(settings.NOTIFICATIONS_QUEUE, deadlines)
