"""RQ classes that count queue events, so job code (notifications, Jira import) never has to.

Configured in ``settings.RQ`` (``QUEUE_CLASS`` and ``WORKER_CLASS``), which django-rq applies both
to ``django_rq.get_queue()``/``enqueue()`` in the web process and to ``manage.py rqworker``.
A worker class of another module should subclass :class:`MeteredWorker` to keep the counts.

Where each status is counted:

- enqueued: ``MeteredQueue.enqueue_job``, the path of every new job (after django-rq's
  on-commit delay, so a rolled-back request enqueues and counts nothing), and ``enqueue_at``;
- dequeued: when a worker takes a job; discarded: when the id it pops has no job data left;
- done (and the enqueue-to-done duration), failed, requeued, timedout: in the worker, from the
  work horse (the forked process that runs the job) or, when the horse died, from its parent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django_rq.queues import DjangoRQ
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import Worker

from tracker import queues
from tracker.monitoring.metrics import record_job_done, record_queue_event

logger = logging.getLogger(__name__)

UNKNOWN_TOPIC = "unknown"


def job_topic(job: Job) -> str:
    """The job function's short name (``send_changeset_notification``): a small, stable label set."""
    try:
        return job.func_name.rsplit(".", 1)[-1] or UNKNOWN_TOPIC
    except Exception:
        # A job whose payload cannot be deserialized still deserves to be counted.
        return UNKNOWN_TOPIC


def _count(job: Job, status: str, queue: str | None = None) -> None:
    try:
        record_queue_event(queue or job.origin, job_topic(job), status)
    except Exception:  # record_queue_event never raises; job.origin might.
        logger.debug("Metrics: cannot count %s for job %s", status, getattr(job, "id", "?"))


def _seconds_since(start: datetime | None) -> float | None:
    if start is None:
        return None
    try:
        return (now() - start).total_seconds()
    except TypeError:  # a naive date from an older rq
        return None


class MeteredQueue(DjangoRQ):
    def enqueue_job(self, job: Job, *args: Any, **kwargs: Any) -> Job:
        job = super().enqueue_job(job, *args, **kwargs)
        _count(job, "enqueued", self.name)
        return job

    def enqueue_at(self, *args: Any, **kwargs: Any) -> Job:
        # A job scheduled for later (enqueue_at, enqueue_in) is counted when it is submitted; the
        # scheduler's later move into the queue, like a retry's, is not a new job.
        job = super().enqueue_at(*args, **kwargs)
        _count(job, "enqueued", self.name)
        return job

    @classmethod
    def _fetch_dequeued_job(
        cls, connection: Any, queue_key: str, job_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        result = super()._fetch_dequeued_job(connection, queue_key, job_id, *args, **kwargs)
        if result is None:
            # RQ skips an id whose job hash is gone (its TTL expired, or it was deleted).
            queue_name = queue_key.removeprefix(cls.redis_queue_namespace_prefix)
            record_queue_event(queue_name, UNKNOWN_TOPIC, "discarded")
        return result


class MeteredWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Heartbeats every few seconds rather than RQ's 30: the recovery sweep tells a killed worker's
        # job from a running one by its last heartbeat (tracker.queues.HEARTBEAT_GRACE_SECONDS).
        kwargs.setdefault("job_monitoring_interval", queues.HEARTBEAT_SECONDS)
        super().__init__(*args, **kwargs)
        if self.hostname is not None:
            # The host name status and the system check group workers by (tracker.workers.hosts):
            # WORKER_HOSTNAME, so that two supervisors on one machine can stand for two hosts.
            self.hostname = settings.WORKER_HOSTNAME
        # RQ's registry cleanup calls the exception handlers for jobs whose worker died mid-job.
        self.push_exc_handler(_count_abandoned_job)

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> Any:
        result = super().dequeue_job_and_maintain_ttl(*args, **kwargs)
        if result is not None:
            job, queue = result
            _count(job, "dequeued", queue.name)
        return result

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if exc_info and isinstance(exc_info[0], type) and issubclass(exc_info[0], JobTimeoutException):
            _count(job, "timedout")
        super().handle_exception(job, *exc_info)

    def handle_job_success(self, job: Job, queue: Any, *args: Any, **kwargs: Any) -> None:
        super().handle_job_success(job, queue, *args, **kwargs)
        record_job_done(queue.name, job_topic(job), _seconds_since(job.enqueued_at))

    def handle_job_failure(self, job: Job, queue: Any, *args: Any, **kwargs: Any) -> None:
        # Decided before RQ consumes a retry, the same way RQ decides it.
        retried = _safely(lambda: job.should_retry and self._stopped_job_id != job.id)
        super().handle_job_failure(job, queue, *args, **kwargs)
        _count(job, "requeued" if retried else "failed", queue.name)

    def handle_job_retry(self, job: Job, queue: Any, retry: Any, *args: Any, **kwargs: Any) -> None:
        # A job that returned rq.Retry: requeued, or failed once it has used its attempts.
        exhausted = _safely(lambda: bool(job.number_of_retries and job.number_of_retries >= retry.max))
        super().handle_job_retry(job, queue, retry, *args, **kwargs)
        _count(job, "failed" if exhausted else "requeued", queue.name)


def _count_abandoned_job(job: Job, exc_type: Any, exc_value: Any, traceback: Any) -> bool:
    if isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError):
        retried = _safely(lambda: (job.retries_left or 0) > 0)
        _count(job, "requeued" if retried else "failed")
    return True  # let the other handlers run


def _safely(decide: Callable[[], bool]) -> bool:
    """A decision about what to count, never an error for the job (False if it cannot be made)."""
    try:
        return bool(decide())
    except Exception:
        return False
