"""Fan-out: a changeset with more recipients than NOTIFICATION_BATCH_SIZE is sent by batch jobs.

The first tests drive the jobs in this process (a real Redis and SMTP server, the job functions called
as a worker calls them); the slow ones run real supervisors with four notification workers.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from django.utils import timezone
from rq.exceptions import AbandonedJobError

from tests.conftest import ROOT
from tests.support.smtp import SMTPServer
from tests.support.workers import ManagedProcess, kill_tree, wait_until
from tracker import queues
from tracker.models import (
    Artifact,
    Changeset,
    NotificationBatch,
    NotificationDelivery,
    NotificationListEntry,
    NotificationRecord,
    Tracker,
    User,
)
from tracker.notifications import batches, fanout, jobs, notifier, ordering, recovery
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.workers.pidfiles import worker_states

Status = NotificationRecord.Status


def listed(tracker: Tracker, count: int) -> list[str]:
    """``count`` confirmed plain addresses on the tracker's notification list (a public project)."""
    addresses = [f"reader{index:04d}@example.org" for index in range(count)]
    NotificationListEntry.objects.bulk_create(
        [
            NotificationListEntry(tracker=tracker, email=address, confirmed_at=timezone.now())
            for address in addresses
        ]
    )
    return addresses


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def batches_of(changeset: Changeset) -> list[NotificationBatch]:
    return list(NotificationBatch.objects.filter(record__changeset=changeset).order_by("number"))


def run_record_job(changeset: Changeset) -> notifier.Outcome:
    """What the record's job does in a worker (its token is the job id the record expects)."""
    return notifier.notify(changeset.pk, mode="async", token=record_of(changeset).job_id, ordered=True)


def run_batch_job(batch: NotificationBatch, sender: str = "worker-a") -> notifier.Outcome:
    batch.refresh_from_db()
    return fanout.send_batch(batch.pk, token=batch.job_id, sender=sender)


@pytest.fixture
def small_batches(settings, async_all, redis_clean) -> None:
    settings.NOTIFICATION_BATCH_SIZE = 10
    settings.NOTIFICATION_RETRY_INTERVALS = [1, 1, 1]


# In this process ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_changeset_below_the_batch_size_is_sent_by_its_one_job_as_before(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    addresses = listed(bugs, 10)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})

    outcome = run_record_job(changeset)

    # It should send everything itself: no batch, no other job.
    assert outcome.state == "done" and outcome.sent == 10
    assert batches_of(changeset) == []
    assert queues.notifications_queue().get_job_ids() == []
    assert sorted(address for (_, address) in smtp.deliveries()) == addresses
    assert record_of(changeset).status == Status.DONE


@pytest.mark.django_db
def test_a_big_changeset_is_split_once_into_batch_jobs_carrying_ids_only(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    addresses = listed(bugs, 25)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})

    outcome = run_record_job(changeset)

    # It should write three batches (10, 10, 5) and queue one job each, sending nothing itself.
    assert outcome.state == "split" and smtp.received == []
    made = batches_of(changeset)
    assert [len(batch.recipients) for batch in made] == [10, 10, 5]
    assert sorted(row[0] for batch in made for row in batch.recipients) == addresses
    record = record_of(changeset)
    assert record.status == Status.SPLIT and record.ended_at is None and record.recipient_count == 25
    queue = queues.notifications_queue()
    assert sorted(queue.get_job_ids()) == sorted(batch.job_id for batch in made)
    for batch in made:
        job = queue.fetch_job(batch.job_id)
        assert job.func_name == "tracker.notifications.jobs.send_notification_batch"
        assert json.loads(json.dumps(job.args)) == [batch.pk] and job.kwargs == {}

    for batch in made:
        assert run_batch_job(batch).state == "done"

    # Everyone once; the record ends with its last batch.
    assert sorted(smtp.deliveries().items()) == [((str(changeset.pk), address), 1) for address in addresses]
    record = record_of(changeset)
    assert record.status == Status.DONE and record.ended_at is not None
    assert NotificationDelivery.objects.filter(changeset=changeset).count() == 25
    # A batch job run twice (RQ or the sweep) sends nothing more.
    assert run_batch_job(made[0]).state == "ended"
    assert sum(smtp.deliveries().values()) == 25


@pytest.mark.django_db
def test_a_batch_that_fails_for_a_moment_is_retried_alone(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    addresses = listed(bugs, 25)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})
    run_record_job(changeset)
    first, second, third = batches_of(changeset)
    # One address of the second batch is deferred (a full mailbox, greylisting).
    deferred = second.recipients[3][0]
    smtp.behaviour.refuse = {deferred: "452 4.2.2 Mailbox full"}

    outcomes = [run_batch_job(batch).state for batch in (first, second, third)]

    assert outcomes == ["done", "retry", "done"]
    second.refresh_from_db()
    assert second.status == Status.RETRY and second.attempts == 1 and "Mailbox full" in second.last_error
    # Only that batch waits; its next job is queued for its retry time; the record is still open.
    assert record_of(changeset).status == Status.SPLIT
    assert second.job_id in queues.notifications_queue().scheduled_job_registry.get_job_ids()

    smtp.behaviour.refuse = {}
    assert run_batch_job(second).state == "done"

    # Nobody twice: the retry skipped the nine the first attempt delivered.
    deliveries = smtp.deliveries()
    assert sorted(address for (_, address) in deliveries) == addresses
    assert set(deliveries.values()) == {1}
    second.refresh_from_db()
    assert second.attempts == 2 and second.sent == 10
    assert record_of(changeset).status == Status.DONE


@pytest.mark.django_db
def test_a_batch_refused_for_good_fails_and_the_record_ends_failed_after_the_others(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 25)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})
    run_record_job(changeset)
    first, second, third = batches_of(changeset)

    smtp.behaviour.mail_answer = "554 5.7.1 Relaying denied"
    assert run_batch_job(second).state == "failed"
    smtp.behaviour.mail_answer = None
    # It should not end the record while the other batches have not ended.
    assert record_of(changeset).ended_at is None
    assert [run_batch_job(batch).state for batch in (first, third)] == ["done", "done"]

    record = record_of(changeset)
    assert record.status == Status.FAILED and "1 batch(es) failed" in record.last_error
    assert "Relaying denied" in record.last_error
    assert sum(smtp.deliveries().values()) == 15


@pytest.mark.django_db
def test_the_sweep_hands_lost_and_abandoned_batches_to_new_jobs(
    small_batches, smtp: SMTPServer, redis_clean, settings, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 25)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})
    run_record_job(changeset)
    lost, dead, waiting = batches_of(changeset)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER + 60)
    # Redis lost one batch's job (a FLUSHALL); another's worker was killed while sending it.
    redis_clean.client().delete(f"rq:job:{lost.job_id}")
    NotificationBatch.objects.filter(pk__in=[lost.pk, waiting.pk]).update(created_at=long_ago)
    NotificationBatch.objects.filter(pk=dead.pk).update(
        status=Status.STARTED, claimed_by="job-of-a-killed-worker", started_at=long_ago, attempts=1
    )

    found = recovery.sweep()

    # It should hand over the lost and the abandoned one, and leave the one whose job still waits.
    assert found.handed == {"batch_lost_job": [changeset.pk], "batch_abandoned": [changeset.pk]}
    queued = queues.notifications_queue().get_job_ids()
    for batch in (lost, dead, waiting):
        batch.refresh_from_db()
        assert batch.job_id in queued
    assert recovery.sweep().handed == {}
    for batch in (lost, dead, waiting):
        assert run_batch_job(batch).state == "done"
    assert record_of(changeset).status == Status.DONE and sum(smtp.deliveries().values()) == 25


@pytest.mark.django_db
def test_batches_waiting_for_a_mail_server_that_is_back_are_woken(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 15)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})
    run_record_job(changeset)
    first, second = batches_of(changeset)
    smtp.stop()
    assert run_batch_job(first).state == "retry"
    # Its pause has grown long: the next attempt is half an hour away.
    NotificationBatch.objects.filter(pk=first.pk).update(
        next_attempt_at=timezone.now() + dt.timedelta(minutes=30)
    )
    window = dt.timedelta(seconds=5)
    assert recovery.anything_waiting_for_mail_server(timezone.now(), window)
    assert recovery.wake_if_mail_server_back(window).total == 0  # still down

    smtp.start()

    assert recovery.wake_if_mail_server_back(window).handed == {"mail_server_back": [changeset.pk]}
    first.refresh_from_db()
    assert first.next_attempt_at <= timezone.now()
    assert first.job_id in queues.notifications_queue().get_job_ids()
    assert [run_batch_job(batch).state for batch in (first, second)] == ["done", "done"]
    assert record_of(changeset).status == Status.DONE and sum(smtp.deliveries().values()) == 15


@pytest.mark.django_db
@pytest.mark.parametrize("past_give_up", [False, True], ids=["retried", "given-up"])
def test_a_batch_whose_worker_died_is_retried_or_failed_by_its_failure_callback(
    past_give_up: bool, small_batches, smtp: SMTPServer, settings, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 15)
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash"})
    run_record_job(changeset)
    first, second = batches_of(changeset)
    job = queues.notifications_queue().enqueue(jobs.send_notification_batch, first.pk, job_id=first.job_id)
    assert batches.claim(first.pk, job.id, sender="worker-that-dies").state == "claimed"
    # The dead attempt had two addresses accepted: in the batch's Redis journal only.
    journal = fanout.BatchJournal(first, queues.queue_client(settings.NOTIFICATIONS_QUEUE))
    accepted = [row[0] for row in first.recipients[:2]]
    for address in accepted:
        journal.add(address)
    journal.flush()
    if past_give_up:
        NotificationRecord.objects.filter(changeset=changeset).update(
            created_at=timezone.now() - dt.timedelta(seconds=settings.NOTIFICATION_GIVE_UP_AFTER + 1)
        )

    jobs.batch_job_failed(job, None, AbandonedJobError, AbandonedJobError("gone"), None)

    first.refresh_from_db()
    if not past_give_up:
        # It should go back on the schedule under a new job, and its retry skip what the dead one sent.
        assert first.status == Status.RETRY and first.job_id != job.id
        assert first.job_id in queues.notifications_queue().scheduled_job_registry.get_job_ids()
        assert run_batch_job(first).state == "done" and first.sent == 0
        assert smtp.deliveries() == Counter({(str(changeset.pk), row[0]): 1 for row in first.recipients[2:]})
        return
    # Past the give-up time it fails, keeps what the journal knew, and the record ends with the other batch.
    assert first.status == Status.FAILED and "AbandonedJobError" in first.last_error
    delivered = set(
        NotificationDelivery.objects.filter(changeset=changeset).values_list("address", flat=True)
    )
    assert delivered == set(accepted)
    assert run_batch_job(second).state == "done"
    assert record_of(changeset).status == Status.FAILED


@pytest.mark.django_db
def test_a_later_changeset_of_the_artifact_waits_until_the_earlier_record_has_ended(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 25)
    first = create_artifact(bugs, author=alice, values={"title": "Crash"})
    second = update_artifact(first.artifact, author=alice, values={"status": "Done"})
    other = create_artifact(bugs, author=alice, values={"title": "Another artifact"})

    # It should hold the second (nothing claimed) while the first is not sent, not another artifact's.
    assert run_record_job(second).state == "held"
    assert record_of(second).status == Status.PENDING and record_of(second).attempts == 0
    assert run_record_job(other).state == "split"
    assert run_record_job(first).state == "split"
    assert run_record_job(second).state == "held"  # the first one's batches have not ended yet
    for batch in batches_of(first):
        run_batch_job(batch)
    assert record_of(first).status == Status.DONE

    assert run_record_job(second).state == "split"


@pytest.mark.django_db
def test_a_held_job_looks_again_under_a_new_job_id(
    small_batches, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    listed(bugs, 3)
    first = create_artifact(bugs, author=alice, values={"title": "Crash"})
    second = update_artifact(first.artifact, author=alice, values={"status": "Done"})
    expected = record_of(second).job_id
    queue = queues.notifications_queue()
    job = queue.enqueue(jobs.send_changeset_notification, second.pk, job_id=expected)

    job.perform()

    # The record now expects a follow-up job, scheduled a moment later (the sweep sees it waiting).
    follow_up = record_of(second).job_id
    assert follow_up != expected
    assert follow_up in queue.scheduled_job_registry.get_job_ids()


@pytest.mark.django_db
def test_a_held_record_looks_again_soon_unless_the_earlier_one_waits_for_a_later_retry(
    small_batches, bugs: Tracker, alice: User
) -> None:
    first = create_artifact(bugs, author=alice, values={"title": "Crash"})
    second = update_artifact(first.artifact, author=alice, values={"status": "Done"})
    now = timezone.now()
    assert ordering.next_look(second.pk, now) == now + dt.timedelta(seconds=1)  # being sent

    NotificationRecord.objects.filter(changeset=first).update(
        status=Status.RETRY, next_attempt_at=now + dt.timedelta(seconds=5)
    )
    assert ordering.next_look(second.pk, now) == now + dt.timedelta(seconds=6)
    # A retry half an hour away: it looks again every minute (a wake-up may bring that retry forward).
    NotificationRecord.objects.filter(changeset=first).update(next_attempt_at=now + dt.timedelta(minutes=30))
    assert ordering.next_look(second.pk, now) == now + dt.timedelta(seconds=60)


def test_a_wrong_batch_size_stops_start_up_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, "NOTIFICATION_BATCH_SIZE": "0"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Configuration error: NOTIFICATION_BATCH_SIZE=0 is too small; it must be at least 1."
    ), result.stderr


# Real workers ---------------------------------------------------------------------------------------


def ended(changeset: Changeset) -> bool:
    return record_of(changeset).ended_at is not None


def notification_workers() -> dict[str, int]:
    """Name -> pid of the live notification workers the supervisor started."""
    return {
        state.name: state.pid for state in worker_states() if state.queue == "notifications" and state.alive
    }


@pytest.fixture
def four_workers(start_supervisor, async_all, settings, tmp_path) -> ManagedProcess:
    """A supervisor running four notification workers (and the Jira queue's one), sweeping every second."""
    settings.WORKER_RUN_DIR = str(tmp_path / "run")  # where to read the worker pid files
    supervisor = start_supervisor(NB_BACKEND_WORKERS="5", NOTIFICATION_SWEEP_INTERVAL="1")
    assert wait_until(lambda: len(notification_workers()) == 4, timeout=60), supervisor.output()
    return supervisor


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_thousand_recipients_are_shared_by_four_workers_and_each_gets_one_email(
    four_workers: ManagedProcess, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    smtp.behaviour.rcpt_delay = 0.020  # a relay checking each address
    addresses = listed(bugs, 1000)

    changeset = create_artifact(bugs, author=alice, values={"title": "Outage"})

    assert wait_until(lambda: ended(changeset), timeout=90), four_workers.output()
    assert smtp.deliveries() == Counter({(str(changeset.pk), address): 1 for address in addresses})
    assert record_of(changeset).status == Status.DONE
    # It should have kept all four workers busy: each sent part of them.
    sent_by: Counter[str] = Counter()
    for batch in batches_of(changeset):
        sent_by[batch.sender] += batch.sent
    assert sum(sent_by.values()) == 1000
    assert set(sent_by) == set(notification_workers()), sent_by
    assert all(count > 0 for count in sent_by.values()), sent_by


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_loses_nothing_and_duplicates_nothing(
    four_workers: ManagedProcess, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    smtp.behaviour.rcpt_delay = 0.020
    addresses = listed(bugs, 1000)
    # Once 300 emails are in, every worker hangs in its next RCPT: caught in the middle of a batch.
    smtp.behaviour.hold_after = 300

    changeset = create_artifact(bugs, author=alice, values={"title": "Outage"})

    assert smtp.behaviour.holding.wait(timeout=60), four_workers.output()
    victim = NotificationBatch.objects.filter(record__changeset=changeset, status=Status.STARTED).first()
    assert victim is not None
    kill_tree(notification_workers()[victim.sender])  # SIGKILL, the way the OOM killer does it
    smtp.behaviour.hold_after = None

    # The supervisor replaces the worker; the sweep (or RQ's failure callback) retries that batch.
    assert wait_until(lambda: ended(changeset), timeout=120), four_workers.output()
    assert smtp.deliveries() == Counter({(str(changeset.pk), address): 1 for address in addresses})
    victim.refresh_from_db()
    assert victim.status == Status.DONE and victim.attempts == 2
    assert record_of(changeset).status == Status.DONE


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_changesets_of_one_artifact_reach_each_person_in_order(
    four_workers: ManagedProcess, smtp: SMTPServer, bugs: Tracker, alice: User
) -> None:
    smtp.behaviour.rcpt_delay = 0.010
    addresses = listed(bugs, 300)

    first = create_artifact(bugs, author=alice, values={"title": "Outage"})
    second = update_artifact(
        Artifact.objects.get(pk=first.artifact_id), author=alice, values={"status": "Done"}
    )

    assert wait_until(lambda: ended(first) and ended(second), timeout=90), four_workers.output()
    arrivals: dict[str, list[str]] = defaultdict(list)
    for received in smtp.received:
        for address in received.rcpt_tos:
            arrivals[address.lower()].append(received.message["X-Tuleap-Changeset-Id"])
    # Each of them split into three batches; still, nobody got the second before the first.
    assert len(batches_of(first)) == len(batches_of(second)) == 3
    wrong = [address for address in addresses if arrivals[address] != [str(first.pk), str(second.pk)]]
    assert wrong == [], f"{len(wrong)} out of order, e.g. {wrong[:3]}: {arrivals[wrong[0]]}"
