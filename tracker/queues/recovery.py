"""What Redis still knows of our jobs, for the recovery sweep: states, heartbeats, the sweep's client."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis
from django.conf import settings
from rq import Queue
from rq.job import Job
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry
from rq.utils import utcparse

from tracker.queues.clients import SUPERVISOR, Deadlines, queue_client

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
    """Each job's state (jobs of the notifications queue unless told), in two round trips at most.

    A job whose hash says ``queued`` (or ``scheduled``, ``deferred``) but whose id is in no list a
    worker or the scheduler reads (the queue's list; the scheduled or deferred registry) will never
    run: what a failover to a replica that missed the last writes, or a client killed between RQ's
    writes, can leave. Its status is reported as None, like a job Redis lost, so the sweep hands the
    record to a new job (the record's claim keeps the old one, should it still run, from sending twice).

    Raises redis.RedisError.
    """
    if not job_ids:
        return {}
    name = queue_name or settings.NOTIFICATIONS_QUEUE
    client = queue_client(name, deadlines)
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(Job.key_for(job_id), "status", "last_heartbeat")
    states = {}
    for job_id, (status, heartbeat) in zip(job_ids, pipe.execute(), strict=True):
        states[job_id] = JobState(status.decode() if status else None, _parse_time(heartbeat))
    waiting = [job_id for job_id, state in states.items() if state.waiting]
    if waiting:
        pipe = client.pipeline(transaction=False)
        for job_id in waiting:
            _where_it_waits(pipe, name, states[job_id].status or "", job_id)
        for job_id, found in zip(waiting, pipe.execute(), strict=True):
            if found is None:
                states[job_id] = JobState(None, states[job_id].last_heartbeat)
    return states


def _where_it_waits(pipe: redis.client.Pipeline, queue_name: str, status: str, job_id: str) -> None:
    """Queue on ``pipe`` the look-up that finds ``job_id`` where a job of this status waits (None: nowhere).

    RQ 3.0's keys: the queue's list ``rq:queue:<name>`` (LPOS, Redis >= 6.0.6), and the sorted sets
    ``rq:scheduled:<name>`` and ``rq:deferred:<name>`` (ZSCORE).
    """
    if status == "queued":
        pipe.lpos(Queue.redis_queue_namespace_prefix + queue_name, job_id)
    elif status == "scheduled":
        pipe.zscore(ScheduledJobRegistry.key_template.format(queue_name), job_id)
    else:
        pipe.zscore(DeferredJobRegistry.key_template.format(queue_name), job_id)


def sweep_client(deadlines: Deadlines = SUPERVISOR) -> redis.Redis:
    """The client of the sweep's lock and counters (the notifications queue's Redis)."""
    return queue_client(settings.NOTIFICATIONS_QUEUE, deadlines)
