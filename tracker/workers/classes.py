"""Worker classes for ``manage.py rqworker --worker-class ...``.

:class:`InProcessWorker` runs each job in the worker process itself instead of a forked work horse.
RQ's default worker forks a copy of the whole Django process for every job: for a notification job,
which takes a few milliseconds of work plus the mail server's time, the fork and the fresh database
connection of each horse cost more than the job (the benchmark measures it). The supervisor uses it
for the notifications queue; the Jira import queue keeps RQ's forking worker (long, heavy jobs).

What a work horse gave us, kept here:

- the job timeout: RQ's SIGALRM death penalty works the same in the worker process;
- liveness: a thread sends the job's heartbeats while it runs (as the forking worker's parent does),
  so a killed worker's job is recognised as abandoned a minute and a half later, not after its timeout;
- warm shutdown: SIGTERM lets the job in progress finish; a second one interrupts it (SystemExit);
- a clean slate: database connections are checked before and after each job, like a request's.

And what a work horse could not give: SMTP connections kept open from job to job
(``tracker.notifications.connection_pool``), closed when the worker stops.

It derives from the worker class configured in ``settings.RQ["WORKER_CLASS"]`` (the metered one), so
what that class counts is still counted.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import close_old_connections
from django_rq.workers import get_worker_class
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

from tracker.notifications import connection_pool, drain


class _Heartbeat(threading.Thread):
    """Sends the running job's heartbeats every ``job_monitoring_interval`` seconds."""

    def __init__(self, worker: Any, job: Job, execution: Execution) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.worker, self.job, self.execution = worker, job, execution
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.worker.job_monitoring_interval):
            try:
                self.worker.maintain_heartbeats(self.job, self.execution)
            except Exception:  # a Redis hiccup: the next beat may work, the job goes on
                self.worker.log.warning("Worker %s: heartbeat failed", self.worker.name, exc_info=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


class InProcessMixin:
    def work(self, *args: Any, **kwargs: Any) -> bool:
        connection_pool.pool.enable()
        drain.stop_requested.clear()
        return super().work(*args, **kwargs)  # type: ignore[misc]

    def request_stop(self, signum: Any, frame: Any) -> None:
        # A warm shutdown lets the job in progress finish: a job sending the changesets queued behind
        # its own (drain.py) ends after the one it is sending and hands the rest back.
        drain.stop_requested.set()
        super().request_stop(signum, frame)  # type: ignore[misc]

    def teardown(self) -> None:
        # RQ's Worker.work calls teardown in its ``finally``: after a burst, a warm shutdown (SIGTERM
        # lets the job finish, then the loop breaks) and a cold one (SystemExit) alike.
        try:
            connection_pool.pool.close_all()
        finally:
            super().teardown()  # type: ignore[misc]

    def kill_horse(self, sig: Any = None) -> None:
        # No work horse: RQ's Worker would signal the process group of pid 0, that is our own.
        self.log.warning("Worker %s: jobs run in this process; a job cannot be stopped alone", self.name)  # type: ignore[attr-defined]

    def wait_for_horse(self) -> tuple[None, None, None]:
        return None, None, None

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)  # type: ignore[attr-defined]
        heartbeat = _Heartbeat(self, job, execution)
        heartbeat.start()
        close_old_connections()
        try:
            self.perform_job(job, queue, execution)  # type: ignore[attr-defined]
        finally:
            heartbeat.stop()
            close_old_connections()
        self.set_state(WorkerStatus.IDLE)  # type: ignore[attr-defined]


InProcessWorker = type("InProcessWorker", (InProcessMixin, get_worker_class()), {})
InProcessWorker.__module__ = __name__
InProcessWorker.__doc__ = "Runs each job in the worker process (see the module's docstring)."
