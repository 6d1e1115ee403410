"""Jobs still waiting in a queue: a look at them, and taking some off for a job that does their work.

The notification job uses it to send the changesets queued behind its own (``notifications/drain.py``):
one RQ job costs more around it (dequeue, registries, heartbeats, its result) than one small
changeset's email, so taking the waiting ones off the queue removes that cost instead of paying it
once per changeset.
"""

from __future__ import annotations

from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker


def waiting_job_ids(queue: Queue, count: int) -> tuple[list[str], int]:
    """The first ``count`` job ids in the queue, and how many jobs wait in all (one round trip)."""
    pipe = queue.connection.pipeline(transaction=False)
    pipe.lrange(queue.key, 0, count - 1)
    pipe.llen(queue.key)
    ids, length = pipe.execute()
    return [job_id.decode() if isinstance(job_id, bytes) else job_id for job_id in ids], int(length)


def listening_workers(queue: Queue) -> int:
    """How many workers listen to the queue (RQ's per-queue set of worker keys); at least 1."""
    return max(Worker.count(connection=queue.connection, queue=queue), 1)


def take_off(queue: Queue, job_ids: list[str]) -> list[str]:
    """Remove these jobs from the queue and delete them; returns the ids that were still waiting.

    A job a worker dequeued meanwhile is not in the list any more (LREM removes 0): it is left alone,
    its hash included, since that worker is about to run it.
    """
    if not job_ids:
        return []
    pipe = queue.connection.pipeline(transaction=False)
    for job_id in job_ids:
        queue.remove(job_id, pipeline=pipe)
    removed = [job_id for job_id, count in zip(job_ids, pipe.execute(), strict=True) if count]
    if removed:
        queue.connection.delete(*(Job.key_for(job_id) for job_id in removed))
    return removed
