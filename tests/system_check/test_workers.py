"""Check 3: live workers per queue, failed jobs, and a backlog nobody takes, on the tests' real Redis."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

import django_rq
import pytest
from rq import SimpleWorker, Worker

from tests import conftest as shared
from tests.system_check.conftest import context
from tracker.system_check import workers
from tracker.system_check.base import Finding, Level
from tuleap_backend.env import AsyncEmails


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level != Level.INFO]


def test_no_live_worker_is_an_error_for_each_queue_when_async_emails_is_on(
    redis_clean: shared.TestRedis, settings
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")

    errors = problems(workers.run(context()))

    assert [(f.level, f.details["queue"]) for f in errors] == [
        (Level.ERROR, "notifications"),
        (Level.ERROR, "jira_import"),
    ]
    assert errors[0].check == "workers"
    assert errors[0].message.startswith(
        "No live worker listens on the notifications queue although ASYNC_EMAILS is on"
    )


def test_no_worker_is_fine_when_every_project_notifies_inline(
    redis_clean: shared.TestRedis, settings
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())

    findings = workers.run(context())

    assert problems(findings) == []
    assert [f.message for f in findings] == [
        "Queue notifications: 0 live workers, 0 jobs waiting, 0 failed.",
        "Queue jira_import: 0 live workers, 0 jobs waiting, 0 failed.",
    ]


@pytest.mark.slow
def test_a_running_worker_satisfies_its_queue(
    redis_clean: shared.TestRedis, settings, manage_py: list[str], subprocess_env: dict[str, str]
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    worker = subprocess.Popen(
        [*manage_py, "rqworker", "notifications"],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        queue = django_rq.get_queue("notifications")
        deadline = time.monotonic() + 60
        while not Worker.all(queue=queue):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not register within 60 s"
            time.sleep(0.2)

        findings = workers.run(context())
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    # Only the queue nobody listens on is reported.
    assert [f.details["queue"] for f in problems(findings)] == ["jira_import"]
    assert "Queue notifications: 1 live workers, 0 jobs waiting, 0 failed." in [f.message for f in findings]


def test_failed_jobs_are_reported_with_their_count(redis_clean: shared.TestRedis) -> None:
    queue = django_rq.get_queue("notifications")
    queue.enqueue("json.loads", "{not json")
    queue.enqueue("json.loads", "[also not json")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    [warning] = problems(workers.run(context()))

    assert warning.level == Level.WARNING
    assert warning.message.startswith("2 jobs are in the failed job registry of the notifications queue")
    assert warning.details["failed"] == 2


def test_a_job_waiting_longer_than_the_threshold_is_a_backlog(
    redis_clean: shared.TestRedis, settings
) -> None:
    settings.NOTIFICATION_PENDING_THRESHOLD = 120
    queue = django_rq.get_queue("notifications")
    queue.enqueue("json.loads", "[]")
    queue.enqueue("json.loads", "{}")
    now = context().now

    # Just enqueued: nothing to say yet.
    assert problems(workers.run(context())) == []
    # Three minutes later, still nobody took them.
    [warning] = problems(workers.run(context(now=now + timedelta(minutes=3))))

    assert warning.level == Level.WARNING
    assert warning.message.startswith(
        "2 jobs are waiting on the notifications queue and the oldest was enqueued 3 min"
    )
    assert warning.details["waiting"] == 2
