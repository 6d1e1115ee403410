"""A notification job also sends the changesets queued behind its own, up to NOTIFICATION_JOB_CHANGESETS.

Why: a changeset's email is a few milliseconds of work, and the RQ job around it costs about as much
again (dequeue, registries, heartbeats, its result, the worker loop). When changesets arrive faster
than the workers take them, each job then takes waiting ones off the queue: it claims their records in
one UPDATE (``records.claim_waiting``), removes their jobs from the queue (``queues.take_off``) and
sends them one after the other over the connection it already holds, reading and rendering the next
one while the mail server answers for this one (``_ReadAhead``). The backlog shrinks instead of paying
the job's cost once per changeset; with no backlog nothing changes.

What keeps it safe:

- sharing: a job takes at most the waiting jobs divided by the workers listening, and at most
  ``CHUNK`` at a time, so idle workers still get their part;
- order: a record whose artifact has an earlier record open is not taken (``ordering``);
- exactly once: the claim comes first, then the job is removed. A job some worker dequeued
  meanwhile finds the record busy and does nothing; every delivered address is journaled and
  recorded as in a job of its own (``notifier.send_claimed``);
- a send that fails (mail server down, a database hiccup) or a stop request ends the drain, and the
  records taken but not sent are handed back at once, each to a new job (``records.hand_back``);
- a killed worker: the records stay claimed by its job, whose heartbeat stops, and the recovery sweep
  takes them over as it does the job's own record; RQ's failure callback releases them too
  (``release``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import connection, connections

from tracker import queues
from tracker.models import Field, NotificationRecord
from tracker.notifications import records
from tracker.notifications.connection_pool import HeldConnections
from tracker.notifications.notifier import Prepared, prepare, schedule_job, send_claimed

logger = logging.getLogger("tracker.notifications.drain")

# Records taken off the queue per claim: a small share, so the other workers' part stays in the queue.
CHUNK = 10
# The share of NOTIFICATION_JOB_TIMEOUT a job may spend on the changesets of others: its own, and the
# last chunk, must still end well inside the timeout with a slow mail server.
TIME_SHARE = 1 / 3
# Set by the worker on a stop request (SIGTERM): the job ends after the changeset it is sending.
stop_requested = threading.Event()


@dataclass
class Drained:
    """What a job sent besides its own changeset."""

    # Which ones, for the log line: who sent a changeset is then found by grepping for its id.
    changesets: list[int] = field(default_factory=list)
    handed_back: int = 0
    stopped_by: str = ""

    @property
    def sent(self) -> int:
        return len(self.changesets)

    def __str__(self) -> str:
        text = f"{self.sent} waiting changesets sent"
        if self.changesets:
            text += f" ({', '.join(map(str, self.changesets))})"
        if self.handed_back:
            text += f", {self.handed_back} handed back to their own jobs"
        return text + (f" ({self.stopped_by})" if self.stopped_by else "")


def take_waiting(token: str, limit: int) -> list[NotificationRecord]:
    """Claim up to ``limit`` records whose jobs wait in the notifications queue, and remove those jobs."""
    queue = queues.notifications_queue()
    job_ids, waiting = queues.waiting_job_ids(queue, limit * 2)
    share = min(limit, waiting // queues.listening_workers(queue))
    candidates = {}
    for job_id in job_ids:
        changeset_id = queues.notification_changeset_id(job_id)
        if changeset_id is not None and len(candidates) < share:
            candidates[changeset_id] = job_id
    claimed = records.claim_waiting(candidates, token)
    queues.take_off(queue, [record.job_id for record in claimed])
    return claimed


def send_waiting(token: str, *, started: float) -> Drained:
    """After a job's own changeset was sent: send waiting ones while the job's share of time lasts."""
    drained = Drained()
    budget = settings.NOTIFICATION_JOB_CHANGESETS - 1
    deadline = started + settings.NOTIFICATION_JOB_TIMEOUT * TIME_SHARE
    taken: list[NotificationRecord] = []
    claimed, queue_empty = 0, False
    ahead = _ReadAhead()
    held = HeldConnections()
    try:
        while True:
            if stop_requested.is_set():
                drained.stopped_by = "stop requested"
                break
            if len(taken) < 2 and not queue_empty and claimed < budget:
                # Topped up before the last one is sent, so that the next is always being read ahead.
                if time.monotonic() >= deadline:
                    drained.stopped_by = "time share used"
                    queue_empty = True
                else:
                    more = take_waiting(token, min(CHUNK, budget - claimed))
                    claimed += len(more)
                    queue_empty = not more
                    taken += more
            if not taken:
                break
            record = taken.pop(0)
            ready = ahead.ready(record)
            if taken:
                ahead.start(taken[0])
            outcome = send_claimed(record, mode=NotificationRecord.Mode.ASYNC, prepared=ready, held=held)
            drained.changesets.append(record.changeset_id)
            if outcome.state not in ("done", "split"):
                # The mail server or the database is in trouble: the others would fare the same, on
                # the retry schedule of their own records rather than one after the other here.
                drained.stopped_by = f"changeset {record.changeset_id}: {outcome.state}"
                break
    except (redis.RedisError, OSError) as error:
        # Taking jobs off the queue failed (Redis failing over, say): what was taken is handed back.
        drained.stopped_by = f"Redis: {error}"
    finally:
        ahead.close()
        held.close()
        drained.handed_back = _hand_back(taken)
    return drained


class _ReadAhead:
    """Reads and renders the next changeset (``notifier.prepare``) in a thread of its own while this
    one's emails are being sent: the worker's CPU works while the mail server answers, since a thread
    waiting on a socket leaves the interpreter to the other. The thread has its own database connection
    (closed at the end); inside a transaction (a test's) it could not see the rows, so it is not used.
    """

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        if not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="notification-read-ahead")
        self.started: dict[int, Future[Prepared]] = {}
        self.fields: dict[int, list[Field]] = {}  # tracker id -> its fields, read once per job

    def start(self, record: NotificationRecord) -> None:
        if self.pool is not None and record.pk not in self.started:
            self.started[record.pk] = self.pool.submit(prepare, record, self.fields)

    def ready(self, record: NotificationRecord) -> Callable[[], Prepared]:
        """The record's ``prepare``: its result (or error) if it was started ahead, else done now."""
        future = self.started.pop(record.pk, None)
        if future is not None:
            return future.result
        return lambda: prepare(record, self.fields)

    def close(self) -> None:
        if self.pool is None:
            return
        for future in self.started.values():
            future.cancel()
        self.pool.submit(connections.close_all).result()
        self.pool.shutdown()


def _hand_back(taken: list[NotificationRecord]) -> int:
    handed = records.hand_back(taken)
    for record in handed:
        schedule_job(record.changeset_id, record.job_id, None)  # the sweep enqueues it if this fails
    return len(handed)


def release(token: str, error: str) -> list[records.Rescheduled]:
    """RQ's failure callback of a job (it crashed, timed out, or its worker died): every record it still
    holds, its own and those it took off the queue, goes back on its retry schedule or ends failed."""
    outcomes = []
    for changeset_id in records.held_by(token):
        outcome = records.abandon(changeset_id, token, error)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
