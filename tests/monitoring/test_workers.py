"""Queue events counted by real ``rqworker`` processes add up with the web's in one scrape."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import django_rq
import pytest
from django.conf import settings
from rq import Retry

from tests.monitoring import jobs
from tests.monitoring.conftest import Scrape
from tracker.monitoring.metrics import record_emails_sent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUEUE = settings.NOTIFICATIONS_QUEUE
OTHER_QUEUE = settings.JIRA_IMPORT_QUEUE


@pytest.fixture
def run_burst_worker(
    subprocess_env: dict[str, str], manage_py: list[str], redis_clean: object
) -> Callable[[str], None]:
    """Run ``manage.py rqworker <queue> --burst`` until the queue is empty and the worker has exited."""

    def run(queue: str) -> None:
        result = subprocess.run(
            [*manage_py, "rqworker", queue, "--burst"],
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    return run


@pytest.fixture
def live_worker(
    subprocess_env: dict[str, str], manage_py: list[str], redis_clean: object
) -> Iterator[subprocess.Popen]:
    """A worker that keeps listening on the other queue until the test stops it."""
    process = subprocess.Popen(
        [*manage_py, "rqworker", OTHER_QUEUE],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} seconds")
        time.sleep(0.2)


def test_counts_from_two_workers_and_the_web_add_up_and_outlive_the_workers(
    scrape: Callable[[], Scrape], run_burst_worker: Callable[[str], None]
) -> None:
    queue = django_rq.get_queue(QUEUE)
    for _ in range(3):
        queue.enqueue(jobs.send_pretend_emails, 2)
    run_burst_worker(QUEUE)  # the first worker process runs these three, then exits
    for _ in range(2):
        queue.enqueue(jobs.send_pretend_emails, 5)
    run_burst_worker(QUEUE)  # a second one runs those two
    # And the web process sends one itself.
    record_emails_sent("async", 1)

    metrics = scrape()

    # Emails counted inside the forked jobs of both workers, plus the web's: 3*2 + 2*5 + 1.
    assert metrics.value("tuleap_mails_total", mode="async") == 17
    events = {"queue": QUEUE, "topic": "send_pretend_emails"}
    assert metrics.value("tuleap_queue_events_total", status="enqueued", **events) == 5
    assert metrics.value("tuleap_queue_events_total", status="dequeued", **events) == 5
    assert metrics.value("tuleap_queue_events_total", status="done", **events) == 5
    assert metrics.value("tuleap_queue_events_total", status="failed", **events) is None
    # Every run is in the enqueue-to-done histogram, each well under its last finite bucket.
    assert metrics.value("tuleap_queue_events_duration_seconds_count", **events) == 5
    assert metrics.value("tuleap_queue_events_duration_seconds_bucket", le="120.0", **events) == 5
    assert metrics.value("tuleap_queue_events_duration_seconds_bucket", le="+Inf", **events) == 5
    assert metrics.value("tuleap_queue_events_duration_seconds_sum", **events) > 0
    # Nothing waits and no worker is left alive.
    assert metrics.value("tuleap_worker_events", queue=QUEUE) == 0
    assert metrics.total("tuleap_workers", queue=QUEUE) == 0


def test_failures_retries_timeouts_and_discards_are_counted(
    scrape: Callable[[], Scrape], run_burst_worker: Callable[[str], None]
) -> None:
    queue = django_rq.get_queue(QUEUE)
    queue.enqueue(jobs.explode)
    queue.enqueue(jobs.explode, retry=Retry(max=1))
    queue.enqueue(jobs.sleep, 30, job_timeout=1)
    vanished = queue.enqueue(jobs.add, 1, 2)
    # Its data expires (or an administrator deletes it) while its id still waits in the queue.
    vanished.delete(remove_from_queue=False)
    run_burst_worker(QUEUE)

    metrics = scrape()

    def events(topic: str, status: str) -> float | None:
        return metrics.value("tuleap_queue_events_total", queue=QUEUE, topic=topic, status=status)

    # Two failing jobs, one of them retried once before failing for good.
    assert events("explode", "enqueued") == 2
    assert events("explode", "dequeued") == 3
    assert events("explode", "requeued") == 1
    assert events("explode", "failed") == 2
    assert events("explode", "done") is None
    # A job past its timeout is killed: timed out, and failed as it has no retry.
    assert events("sleep", "timedout") == 1
    assert events("sleep", "failed") == 1
    # The vanished job was counted when enqueued, and dropped unrun by the worker.
    assert events("add", "enqueued") == 1
    assert events("add", "dequeued") is None
    assert events("unknown", "discarded") == 1
    assert metrics.value("tuleap_queue_events_duration_seconds_count", queue=QUEUE, topic="explode") is None


def test_waiting_jobs_and_live_workers_are_read_from_redis_at_scrape_time(
    scrape: Callable[[], Scrape], live_worker: subprocess.Popen
) -> None:
    queue = django_rq.get_queue(QUEUE)
    for n in range(3):
        queue.enqueue(jobs.add, n, n)

    # No worker listens on the notifications queue: its jobs wait.
    assert scrape().value("tuleap_worker_events", queue=QUEUE) == 3
    wait_for(lambda: scrape().value("tuleap_workers", queue=OTHER_QUEUE, state="idle") == 1)
    metrics = scrape()
    assert metrics.total("tuleap_workers", queue=QUEUE) == 0
    assert metrics.total("tuleap_workers", queue=OTHER_QUEUE) == 1

    # A worker stopped by its service manager leaves the count.
    os.killpg(live_worker.pid, signal.SIGTERM)
    live_worker.wait(timeout=60)
    assert scrape().total("tuleap_workers", queue=OTHER_QUEUE) == 0


def test_jobs_abandoned_by_a_dead_worker_are_counted_when_rq_cleans_up(
    scrape: Callable[[], Scrape], redis_clean: object
) -> None:
    queue = django_rq.get_queue(QUEUE)
    queue.enqueue(jobs.add, 1, 2, retry=Retry(max=1))
    queue.enqueue(jobs.add, 2, 2)
    # A worker takes both jobs and starts them...
    dead = django_rq.get_worker(QUEUE)
    for _ in range(2):
        job, _queue = dead.dequeue_job_and_maintain_ttl(timeout=1)
        dead.prepare_execution(job)
        dead.prepare_job_execution(job)
    # ...then dies (SIGKILL, lost host) and its heartbeats stop: as long ago as RQ needs to notice.
    started = queue.started_job_registry
    for entry in queue.connection.zrange(started.key, 0, -1):
        queue.connection.zadd(started.key, {entry: 1})

    # Another worker's maintenance finds them.
    django_rq.get_worker(QUEUE).clean_registries()

    metrics = scrape()
    events = {"queue": QUEUE, "topic": "add"}
    assert metrics.value("tuleap_queue_events_total", status="dequeued", **events) == 2
    # The one with a retry left goes back to the queue; the other fails.
    assert metrics.value("tuleap_queue_events_total", status="requeued", **events) == 1
    assert metrics.value("tuleap_queue_events_total", status="failed", **events) == 1
    assert metrics.value("tuleap_worker_events", queue=QUEUE) == 1
