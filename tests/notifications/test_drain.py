"""A notification job also sends the changesets queued behind its own (``tracker.notifications.drain``).

The first tests drive the job's code in this process against a real Redis queue and SMTP server; the
slow ones run real workers: one emptying a backlog with far fewer jobs than changesets, and one killed
in the middle of other changesets' emails.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.worker import Worker

from tests.support.smtp import SMTPServer
from tests.support.workers import kill_tree, wait_until
from tracker import queues
from tracker.models import Artifact, Changeset, NotificationRecord, Tracker, User
from tracker.notifications import drain, jobs, notifier
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.workers.pidfiles import worker_states

Status = NotificationRecord.Status


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def queued(changeset: Changeset) -> Changeset:
    """Its job in the notifications queue, as the after-commit dispatch enqueues it."""
    queues.enqueue_notification(changeset.pk, job_id=record_of(changeset).job_id)
    return changeset


def waiting_ids() -> list[str]:
    return queues.notifications_queue().get_job_ids()


def exists(job_id: str) -> bool:
    return bool(queues.notifications_queue().connection.exists(Job.key_for(job_id)))


@pytest.fixture
def world(settings, async_all, redis_clean, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User):
    settings.NOTIFICATION_JOB_CHANGESETS = 50

    def new(title: str) -> Changeset:
        return queued(create_artifact(bugs, author=alice, values={"title": title, "cc": ["bob"]}))

    return new


# In this process ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_sends_the_changesets_queued_behind_its_own_and_takes_their_jobs_off(
    world, smtp: SMTPServer
) -> None:
    first, *others = [world(f"Bug {index}") for index in range(6)]
    token = record_of(first).job_id
    queues.notifications_queue().remove(token)  # a worker dequeued the first job and runs it
    assert notifier.notify(first.pk, mode="async", token=token, ordered=True).state == "done"

    drained = drain.send_waiting(token, started=time.monotonic())

    # It should have sent the five others itself, each once, and emptied the queue of their jobs.
    assert drained.sent == 5 and drained.handed_back == 0, drained
    assert smtp.deliveries() == Counter({(str(c.pk), "bob@example.com"): 1 for c in [first, *others]})
    assert waiting_ids() == []
    assert not any(exists(record_of(changeset).job_id) for changeset in others)
    for changeset in others:
        record = record_of(changeset)
        assert record.status == Status.DONE and record.claimed_by == token and record.attempts == 1


@pytest.mark.django_db
def test_nothing_is_taken_beyond_the_job_s_budget(world, settings, smtp: SMTPServer) -> None:
    settings.NOTIFICATION_JOB_CHANGESETS = 3
    changesets = [world(f"Bug {index}") for index in range(6)]

    drained = drain.send_waiting("job-a", started=time.monotonic())

    # Its own changeset counts: two more, the earliest; the other jobs stay in the queue.
    assert drained.sent == 2
    assert waiting_ids() == [record_of(changeset).job_id for changeset in changesets[2:]]


@pytest.mark.django_db
def test_a_later_changeset_of_an_artifact_is_left_to_its_own_job_while_the_earlier_is_open(
    world, smtp: SMTPServer, alice: User
) -> None:
    first = world("Outage")
    later = queued(
        update_artifact(Artifact.objects.get(pk=first.artifact_id), author=alice, values={"status": "Done"})
    )
    other = world("Other")

    taken = drain.take_waiting("job-a", 10)

    # The later one must wait for the first to end (nobody gets the second email before the first).
    assert [record.changeset_id for record in taken] == [first.pk, other.pk]
    assert waiting_ids() == [record_of(later).job_id]
    assert record_of(later).status == Status.PENDING


@pytest.mark.django_db
def test_a_job_another_worker_dequeued_meanwhile_is_left_to_it_and_sends_nothing_twice(
    world, smtp: SMTPServer
) -> None:
    changeset = world("Bug")
    job_id = record_of(changeset).job_id
    # The race: this job peeked and claimed, and in between another worker took the job off the list.
    [record] = drain.records.claim_waiting({changeset.pk: job_id}, "job-a")
    queues.notifications_queue().remove(job_id)

    assert queues.take_off(queues.notifications_queue(), [job_id]) == []
    assert exists(job_id)  # that worker is about to run it: its hash stays
    assert notifier.send_claimed(record, mode="async").state == "done"
    # The other worker's run finds the record ended.
    assert notifier.notify(changeset.pk, mode="async", token=job_id, ordered=True).state == "ended"
    assert smtp.deliveries() == Counter({(str(changeset.pk), "bob@example.com"): 1})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("other_job", ["commits", "rolls back"])
def test_two_jobs_claiming_the_same_waiting_record_at_once_never_both_get_it(world, other_job: str) -> None:
    # PostgreSQL's row locks are what this is about; SQLite lets one writer in at a time anyway.
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL row locks: SQLite serialises every write.")
    changeset = world("Bug")
    record = record_of(changeset)
    # Another job's claim, caught between its UPDATE and its commit: it holds the row's lock.
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (holder,) = cursor.fetchone()
            cursor.execute("BEGIN")
            cursor.execute(
                "UPDATE tracker_notificationrecord SET status = %s, claimed_by = %s, started_at = now() "
                "WHERE id = %s",
                [Status.STARTED, "job-b", record.pk],
            )
            with ThreadPoolExecutor(1) as pool:
                ours = pool.submit(_claim_in_thread, {changeset.pk: record.job_id}, "job-a")
                # This job's UPDATE should wait for that lock, not answer from before it.
                assert wait_until(lambda: _blocked_by(holder), timeout=30)
                assert not ours.done()
                cursor.execute("COMMIT" if other_job == "commits" else "ROLLBACK")
                taken = ours.result(timeout=30)
    finally:
        other.close()

    if other_job == "commits":
        # It should see that the other job claimed it meanwhile, and leave it.
        assert taken == []
        assert record_of(changeset).claimed_by == "job-b"
    else:
        # The other claim never happened: the record is this job's.
        assert [claimed.pk for claimed in taken] == [record.pk]
        assert record_of(changeset).claimed_by == "job-a"


def _claim_in_thread(job_ids: dict[int, str], token: str) -> list[NotificationRecord]:
    try:
        return drain.records.claim_waiting(job_ids, token)
    finally:
        connection.close()


def _blocked_by(holder: int) -> bool:
    """Whether a session of ours waits for a lock ``holder`` (a backend pid) holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [holder]
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db
def test_idle_workers_keep_their_share_of_the_queue(world, test_redis) -> None:
    changesets = [world(f"Bug {index}") for index in range(7)]
    queue = queues.notifications_queue()
    listening = [Worker([queue], connection=queue.connection, name=f"worker-{index}") for index in range(3)]
    for worker in listening:
        worker.register_birth()
    try:
        taken = drain.take_waiting("job-a", 10)
    finally:
        for worker in listening:
            worker.register_death()

    # Seven waiting, three workers listening: two for this one, the rest for the others.
    assert [record.changeset_id for record in taken] == [changesets[0].pk, changesets[1].pk]
    assert len(waiting_ids()) == 5


@pytest.mark.django_db
def test_a_mail_server_refusing_stops_the_drain_and_hands_the_rest_back_to_new_jobs(
    world, smtp: SMTPServer
) -> None:
    changesets = [world(f"Bug {index}") for index in range(4)]
    old_jobs = {changeset.pk: record_of(changeset).job_id for changeset in changesets}
    smtp.behaviour.mail_answer = "451 4.3.0 Try again later"

    drained = drain.send_waiting("job-a", started=time.monotonic())

    # The first one tried goes on its retry schedule; the others are back in the queue, untried.
    assert drained.sent == 1 and drained.handed_back == 3, drained
    assert record_of(changesets[0]).status == Status.RETRY
    for changeset in changesets[1:]:
        record = record_of(changeset)
        assert record.status == Status.PENDING and record.attempts == 0 and record.claimed_by == ""
        assert record.job_id != old_jobs[changeset.pk]
    assert sorted(waiting_ids()) == sorted(record_of(changeset).job_id for changeset in changesets[1:])
    assert smtp.received == []


@pytest.mark.django_db
def test_the_failure_callback_releases_what_a_dead_job_took_off_the_queue(world, fast_retries) -> None:
    own, *others = [world(f"Bug {index}") for index in range(3)]
    job = queues.notifications_queue().fetch_job(record_of(own).job_id)
    queues.notifications_queue().remove(job.id)  # its worker dequeued it
    assert drain.records.claim(own.pk, job.id).state == "claimed"
    assert len(drain.take_waiting(job.id, 10)) == 2
    # Its worker is SIGKILLed; RQ finds the job abandoned and calls its failure callback.

    jobs.job_failed(job, None, AbandonedJobError, AbandonedJobError("gone"), None)

    # Each of the three goes back on its retry schedule, with a job of its own.
    for changeset in [own, *others]:
        record = record_of(changeset)
        assert record.status == Status.RETRY and record.claimed_by == "" and record.next_attempt_at
        assert "worker died" in record.last_error
        assert record.job_id != job.id


# Real workers ---------------------------------------------------------------------------------------

JOB_RECEIVED = re.compile(r"Job (\S+) received \(queue")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_worker_empties_a_backlog_with_far_fewer_jobs_than_changesets(
    start_worker, smtp: SMTPServer, async_all, bugs: Tracker, alice: User, tmp_path
) -> None:
    # Sixty changesets queued while no worker runs (a restart, a burst of saves); two of one artifact.
    changesets = [
        create_artifact(bugs, author=alice, values={"title": f"Bug {index}", "cc": ["bob"]})
        for index in range(59)
    ]
    changesets.append(
        update_artifact(
            Artifact.objects.get(pk=changesets[0].artifact_id), author=alice, values={"status": "Done"}
        )
    )
    assert len(waiting_ids()) == 60

    worker = start_worker(NOTIFICATION_JOB_CHANGESETS="25")

    assert wait_until(
        lambda: NotificationRecord.objects.filter(status=Status.DONE).count() == 60, timeout=120
    ), worker.output()
    expected = Counter((str(changeset.pk), "bob@example.com") for changeset in changesets)
    assert smtp.deliveries() == expected
    # Far fewer RQ jobs than changesets ran (25 changesets per job at most).
    ran = JOB_RECEIVED.findall((tmp_path / "worker.log").read_text())
    assert 3 <= len(ran) <= 10, ran
    # The two changesets of one artifact reached bob in order.
    order = [item.message["X-Tuleap-Changeset-Id"] for item in smtp.received]
    assert order.index(str(changesets[0].pk)) < order.index(str(changesets[-1].pk))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_sending_others_changesets_loses_and_duplicates_nothing(
    start_supervisor, smtp: SMTPServer, async_all, settings, tmp_path, bugs: Tracker, alice: User
) -> None:
    settings.WORKER_RUN_DIR = str(tmp_path / "run")  # where to read the worker pid files
    changesets = [
        create_artifact(bugs, author=alice, values={"title": f"Bug {index}", "cc": ["bob"]})
        for index in range(30)
    ]
    # The worker hangs in its sixth email: in the middle of changesets it took off the queue.
    smtp.behaviour.hold_after = 5
    supervisor = start_supervisor(NB_BACKEND_WORKERS="2", NOTIFICATION_SWEEP_INTERVAL="1")
    assert smtp.behaviour.holding.wait(timeout=60), supervisor.output()
    holders = {r.claimed_by for r in NotificationRecord.objects.filter(status=Status.STARTED)}
    assert len(holders) == 1, holders  # one job holds several records: its own and those it took
    assert NotificationRecord.objects.filter(status=Status.STARTED).count() > 1
    notification_worker = [s for s in worker_states() if s.queue == "notifications" and s.alive]
    for state in notification_worker:
        kill_tree(state.pid)  # SIGKILL, the way the OOM killer does it
    smtp.behaviour.hold_after = None

    # The supervisor replaces it; the sweep (or RQ's failure callback) hands those records on.
    assert wait_until(
        lambda: NotificationRecord.objects.filter(status=Status.DONE).count() == 30, timeout=180
    ), supervisor.output()
    assert smtp.deliveries() == Counter((str(c.pk), "bob@example.com") for c in changesets)
