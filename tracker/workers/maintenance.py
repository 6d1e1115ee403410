"""The supervisor's Redis side: RQ's registry maintenance, and standing in for a dead scheduler.

Workers run RQ's registry maintenance only every ten minutes; the supervisor runs it every few seconds,
so a job whose worker was killed is retried (or failed) about a minute and a half after its last
heartbeat instead of up to ten minutes later. And while no live worker runs RQ's scheduler (the worker
that ran it was killed), it moves due jobs (retries after their pause) to their queue itself.

Its clients are ``tracker.queues``'s, with the supervisor's deadlines: a hung Redis must not hold the
loop that restarts dead workers. Both functions raise on a Redis error; the supervisor logs it and
tries again at its next round.
"""

from __future__ import annotations

import logging

from django_rq.workers import get_exception_handlers, get_worker_class
from rq.registry import clean_registries
from rq.scheduler import RQScheduler

from tracker import queues


def clean_queue_registries(name: str, *, worker_name: str) -> None:
    """RQ's own registry maintenance of queue ``name`` (what a worker does every ten minutes).

    With the configured worker class's exception handlers, so abandoned jobs are retried or failed
    (and counted) exactly as a worker would.
    """
    queue = queues.rq_queue(name, deadlines=queues.SUPERVISOR)
    # Only for its exception handlers; an rq Worker rewrites its client's timeout, hence a client of its own.
    worker = get_worker_class()(
        [name],
        connection=queues.queue_client(name, queues.RQ_WORKER),
        name=worker_name,
        exception_handlers=get_exception_handlers() or None,
        prepare_for_work=False,
    )
    if queue.acquire_maintenance_lock():
        try:
            clean_registries(queue, worker._exc_handlers)
        finally:
            queue.release_maintenance_lock()


def scheduler_for(name: str, *, scheduler_name: str) -> RQScheduler:
    """An RQ scheduler of queue ``name`` that the supervisor keeps for its whole life."""
    return RQScheduler(
        [name],
        connection=queues.queue_client(name, queues.SUPERVISOR),
        name=scheduler_name,
        logging_level=logging.WARNING,
    )


def enqueue_due_jobs(scheduler: RQScheduler) -> None:
    """Move the due jobs to their queue, unless a live scheduler holds the lock (then it does it)."""
    if scheduler.acquire_locks():
        try:
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()
