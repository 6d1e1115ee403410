"""``tracker.queues``: one client per process and kind of caller, the jobs' options, the breaker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rq.job import JobStatus

from tracker import queues


def test_each_kind_of_caller_gets_one_client_per_process_with_its_deadlines(test_redis) -> None:
    enqueue = queues.redis_client(queues.ENQUEUE, url=test_redis.url)
    metrics = queues.redis_client(queues.METRICS, url=test_redis.url)

    # It should hand out the same client (and pool) again, not a new connection per request.
    assert queues.redis_client(queues.ENQUEUE, url=test_redis.url) is enqueue
    assert metrics is not enqueue
    options = enqueue.connection_pool.connection_kwargs
    # A save waits at most about half a second for a frozen Redis, with no retry.
    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (0.3, 0.5)
    assert options["retry"].get_retries() == 0 and options["health_check_interval"] == 30
    options = metrics.connection_pool.connection_kwargs
    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (1, 2)
    assert options["retry"].get_retries() == 0
    assert metrics.ping()


def test_the_queues_enqueue_right_away_on_the_platform_s_redis(settings) -> None:
    notifications, jira = queues.notifications_queue(), queues.jira_import_queue()

    assert (notifications.name, jira.name) == (settings.NOTIFICATIONS_QUEUE, settings.JIRA_IMPORT_QUEUE)
    # commit_mode="auto": the callers run after the commit already and want Redis errors raised.
    assert notifications._commit_mode == jira._commit_mode == "auto"
    assert jira.connection is queues.queue_client(settings.JIRA_IMPORT_QUEUE)


def test_a_jira_import_job_carries_the_import_id_and_the_import_s_options(redis_clean) -> None:
    job = queues.enqueue_jira_import(7, job_id="jira-import-7-0123456789ab", project_key="DEMO")

    [queued] = queues.jira_import_queue().get_jobs()
    assert queued.id == job.id == "jira-import-7-0123456789ab"
    assert queued.func_name == "tracker.jira_import.jobs.run_jira_import"
    assert queued.args == (7,) and queued.kwargs == {}
    assert queued._failure_callback_name == "tracker.jira_import.jobs.job_failed"
    assert queued.retries_left == 2
    assert (queued.result_ttl, queued.failure_ttl) == (24 * 3600, 7 * 24 * 3600)
    assert queued.description == "Jira import 7 of DEMO"


def test_a_jira_import_job_can_be_fetched_and_cancelled(redis_clean) -> None:
    queues.enqueue_jira_import(8, job_id="jira-import-8-0123456789ab")

    job = queues.fetch_jira_job("jira-import-8-0123456789ab")
    assert job is not None and job.description == "Jira import 8"
    queues.cancel_jira_job("jira-import-8-0123456789ab")

    assert queues.fetch_jira_job("jira-import-8-0123456789ab").get_status() == JobStatus.CANCELED
    assert queues.jira_import_queue().count == 0
    assert queues.fetch_jira_job("no-such-job") is None


@pytest.mark.parametrize(
    ("should_retry", "args", "expected"),
    [(True, (5,), None), (False, (5,), 5), (False, ("5",), 5), (False, (), None), (False, ("x",), None)],
)
def test_a_failure_callback_gets_the_id_only_once_no_retry_is_left(should_retry, args, expected) -> None:
    job = SimpleNamespace(should_retry=should_retry, args=args)

    assert queues.final_failure_id(job) == expected  # type: ignore[arg-type]


def test_the_breaker_skips_a_redis_that_failed_moments_ago() -> None:
    breaker = queues.breaker("redis://breaker.invalid:6379/0")
    assert queues.breaker("redis://breaker.invalid:6379/0") is breaker
    assert not breaker.is_open()

    breaker.trip(60)
    assert breaker.is_open()
    breaker.close()
    assert not breaker.is_open()
