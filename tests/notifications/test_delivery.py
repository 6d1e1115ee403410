"""Sending one changeset's emails: bounded queries, never twice, refusals, failures, records and logs.

These run the notifier the way a job or the request does, against a real SMTP server; the tests with
real worker processes are in test_workers.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import client_for
from tests.notifications.conftest import cc_values, people, who_got
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tracker import queues
from tracker.models import Artifact, Changeset, NotificationDelivery, NotificationRecord, Tracker, User
from tracker.monitoring import metrics
from tracker.notifications import jobs, notifier
from tracker.notifications.journal import DeliveryJournal
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.projects import set_member
from tuleap_backend.env import AsyncEmails

Status = NotificationRecord.Status


def pending(tracker: Tracker, author: User, **values: object) -> Changeset:
    """A saved changeset whose notification nobody has sent yet (as if its job were queued)."""
    return create_artifact(tracker, author=author, values={"title": "Crash", **values})


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def test_the_queries_of_a_notification_do_not_grow_with_its_recipients(
    smtp: SMTPServer, async_all, bugs, alice, django_assert_max_num_queries
) -> None:
    few = pending(bugs, alice, **cc_values(people(5, "few", bugs.project)))
    many = pending(bugs, alice, **cc_values(people(50, "many", bugs.project)))

    with CaptureQueriesContext(connection) as for_five:
        notifier.notify(few.pk, mode="async", token="job-few")
    with django_assert_max_num_queries(len(for_five.captured_queries)):
        notifier.notify(many.pk, mode="async", token="job-many")

    assert len(who_got(smtp, few)) == 5
    assert len(who_got(smtp, many)) == 50
    assert record_of(many).status == Status.DONE and record_of(many).recipient_count == 50


def test_a_second_run_skips_every_address_already_delivered(smtp: SMTPServer, async_all, bugs, alice) -> None:
    cc = people(4, "cc", bugs.project)
    changeset = pending(bugs, alice, **cc_values(cc))
    # A first attempt delivered two addresses, then its worker was killed.
    NotificationRecord.objects.filter(changeset=changeset).update(
        status=Status.STARTED, started_at=timezone.now(), claimed_by="job-first", attempts=1
    )
    NotificationDelivery.objects.create(changeset=changeset, address=cc[0].email)
    NotificationDelivery.objects.create(changeset=changeset, address=cc[1].email.upper())

    # RQ retries it (same job id).
    notifier.notify(changeset.pk, mode="async", token="job-first")

    assert who_got(smtp, changeset) == ["cc002", "cc003"]
    record = record_of(changeset)
    assert record.status == Status.DONE and record.recipient_count == 4
    assert NotificationDelivery.objects.filter(changeset=changeset).count() == 4
    # Run again (a manual requeue): the record is done, nothing is sent.
    notifier.notify(changeset.pk, mode="async", token="job-third")
    assert who_got(smtp, changeset) == ["cc002", "cc003"]


def test_addresses_journaled_by_a_killed_attempt_are_not_sent_again(
    smtp: SMTPServer, async_all, redis_clean, bugs, alice, bob, carol
) -> None:
    changeset = pending(bugs, alice, cc=["bob", "carol"])
    # The first attempt had bob's copy accepted, journaled it in Redis, and was killed before the
    # group's INSERT: the database does not know bob got it.
    NotificationRecord.objects.filter(changeset=changeset).update(
        status=Status.STARTED, started_at=timezone.now(), claimed_by="job-killed", attempts=1
    )
    journal = DeliveryJournal(changeset.pk, queues.notifications_queue().connection)
    journal.add("bob@example.com")
    journal.flush()

    # RQ retries the abandoned job under the same id.
    notifier.notify(changeset.pk, mode="async", token="job-killed")

    assert who_got(smtp, changeset) == ["carol"]
    assert set(
        NotificationDelivery.objects.filter(changeset=changeset).values_list("address", flat=True)
    ) == {
        "bob@example.com",
        "carol@example.com",
    }
    assert record_of(changeset).status == Status.DONE
    assert not redis_clean.client().exists(journal.key)  # done: the database has it all


def test_two_senders_never_work_on_the_same_record(smtp: SMTPServer, async_all, bugs, alice, bob) -> None:
    changeset = pending(bugs, alice, cc=["bob"])
    NotificationRecord.objects.filter(changeset=changeset).update(
        status=Status.STARTED, started_at=timezone.now(), claimed_by="job-first", attempts=1
    )

    # Another job (a requeue) finds the record held: it sends nothing.
    outcome = notifier.notify(changeset.pk, mode="async", token="job-other")
    assert outcome.state == "busy"
    assert who_got(smtp, changeset) == []

    # The holder's retry (same job id) takes it back and sends.
    assert notifier.notify(changeset.pk, mode="async", token="job-first").state == "done"
    assert who_got(smtp, changeset) == ["bob"]
    assert record_of(changeset).attempts == 2


def test_a_record_held_longer_than_the_job_timeout_is_taken_over(
    smtp: SMTPServer, async_all, settings, bugs, alice, bob
) -> None:
    changeset = pending(bugs, alice, cc=["bob"])
    long_ago = timezone.now() - dt.timedelta(seconds=settings.NOTIFICATION_JOB_TIMEOUT + 60)
    NotificationRecord.objects.filter(changeset=changeset).update(
        status=Status.STARTED, started_at=long_ago, claimed_by="job-dead"
    )

    assert notifier.notify(changeset.pk, mode="async", token="job-requeued").state == "done"
    assert who_got(smtp, changeset) == ["bob"]


def test_an_address_refused_for_good_is_skipped_and_the_others_delivered(
    smtp: SMTPServer, async_all, bugs, alice, bob, carol, monkeypatch
) -> None:
    smtp.behaviour.refuse["carol@example.com"] = "550 5.1.1 No such user"
    changeset = pending(bugs, alice, cc=["bob", "carol"])
    failures: list[str] = []
    monkeypatch.setattr(metrics, "record_email_failed", lambda reason: failures.append(reason))

    outcome = notifier.notify(changeset.pk, mode="async", token="job-refused")

    assert outcome.state == "done"
    assert who_got(smtp, changeset) == ["bob"]
    record = record_of(changeset)
    assert record.status == Status.DONE
    assert "carol@example.com refused: 550 5.1.1 No such user" in record.last_error
    assert failures == ["recipient"]


def test_a_mail_server_refusing_everything_for_good_fails_the_record(
    smtp: SMTPServer, async_all, bugs, alice, bob
) -> None:
    smtp.behaviour.mail_answer = "554 5.7.1 Relay access denied"
    changeset = pending(bugs, alice, cc=["bob"])

    outcome = notifier.notify(changeset.pk, mode="async", token="job-denied")

    # Permanent: no retry would help, the record ends failed with the server's answer.
    assert outcome.state == "failed"
    record = record_of(changeset)
    assert record.status == Status.FAILED and record.ended_at is not None
    assert "554 5.7.1 Relay access denied" in record.last_error


def test_a_transient_error_schedules_the_next_attempt_on_the_record_and_in_redis(
    smtp: SMTPServer, async_all, redis_clean, bugs, alice, bob
) -> None:
    smtp.stop()
    changeset = pending(bugs, alice, cc=["bob"])

    outcome = notifier.notify(changeset.pk, mode="async", token="job-down")

    # It should wait on the record (so it survives Redis losing the job), and have a job scheduled.
    assert outcome.state == "retry"
    record = record_of(changeset)
    assert record.status == Status.RETRY and record.ended_at is None and record.claimed_by == ""
    assert record.last_failure == "connect" and "ConnectionRefusedError" in record.last_error
    wait = (record.next_attempt_at - timezone.now()).total_seconds()
    assert 3 < wait <= 5  # the first pause of the schedule
    scheduled = queues.notifications_queue().scheduled_job_registry.get_job_ids()
    assert scheduled == [record.job_id]
    assert who_got(smtp, changeset) == []

    # The next attempt (that job, whoever runs it) sends once the server is back.
    smtp.start()
    assert notifier.notify(changeset.pk, mode="async", token=record.job_id).state == "done"
    assert who_got(smtp, changeset) == ["bob"]
    assert record_of(changeset).attempts == 2


def test_transient_errors_end_the_record_failed_only_after_the_give_up_time(
    smtp: SMTPServer, async_all, redis_clean, settings, bugs, alice, bob
) -> None:
    smtp.stop()
    changeset = pending(bugs, alice, cc=["bob"])
    for attempt in range(3):
        assert notifier.notify(changeset.pk, mode="async", token=f"job-{attempt}").state == "retry"
    assert record_of(changeset).status == Status.RETRY

    # A day later (NOTIFICATION_GIVE_UP_AFTER), the mail server still refuses: it gives up.
    NotificationRecord.objects.filter(changeset=changeset).update(
        created_at=timezone.now() - dt.timedelta(seconds=settings.NOTIFICATION_GIVE_UP_AFTER + 1)
    )
    assert notifier.notify(changeset.pk, mode="async", token="job-last").state == "failed"
    record = record_of(changeset)
    assert record.status == Status.FAILED and record.attempts == 4 and record.ended_at is not None
    assert "ConnectionRefusedError" in record.last_error


def test_a_deferred_address_is_retried_without_resending_to_the_others(
    smtp: SMTPServer, async_all, bugs, alice, bob, carol
) -> None:
    smtp.behaviour.refuse["carol@example.com"] = "450 4.2.1 Mailbox busy, try later"
    changeset = pending(bugs, alice, cc=["bob", "carol"])

    assert notifier.notify(changeset.pk, mode="async", token="job-busy").state == "retry"
    assert who_got(smtp, changeset) == ["bob"]
    assert record_of(changeset).last_failure == "recipient"

    smtp.behaviour.refuse.clear()
    notifier.notify(changeset.pk, mode="async", token="job-busy")
    assert who_got(smtp, changeset) == ["bob", "carol"]
    assert record_of(changeset).status == Status.DONE


def test_mail_server_down_during_a_request_schedules_a_retry_through_the_workers(
    saving, smtp: SMTPServer, redis_clean, bugs, alice, bob, caplog
) -> None:
    smtp.stop()

    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    # The save succeeded; the record waits for its next attempt, which a worker makes.
    record = record_of(changeset)
    assert record.status == Status.RETRY and record.ended_at is None
    assert "ConnectionRefusedError" in record.last_error
    assert "next attempt at" in caplog.text
    [job_id] = queues.notifications_queue().scheduled_job_registry.get_job_ids()
    assert job_id == record.job_id

    # What that job then does in a worker:
    smtp.start()
    jobs.send_changeset_notification(changeset.pk)
    assert who_got(smtp, changeset) == ["bob"]
    assert record_of(changeset).status == Status.DONE


def test_a_job_for_a_deleted_artifact_ends_without_error(
    smtp: SMTPServer, async_all, bugs, alice, caplog
) -> None:
    changeset = pending(bugs, alice, cc=["bob"])
    Artifact.objects.filter(pk=changeset.artifact_id).delete()

    jobs.send_changeset_notification(changeset.pk)

    assert smtp.received == []
    assert f"changeset {changeset.pk} skipped: the changeset or its artifact no longer exists" in caplog.text


def test_start_and_end_markers_tell_how_long_it_took(
    saving, smtp: SMTPServer, bugs, alice, bob, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="tracker.notifications.Notifier")

    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.notifications.Notifier"]
    assert lines[0] == f"Start notification: changeset {changeset.pk}, mode inline"
    assert lines[-1].startswith(
        f"End notification: changeset {changeset.pk}, mode inline, 1 recipients, 1 sent, done, "
    )
    assert lines[-1].endswith(" ms")


def test_emails_sent_counts_each_group_handed_over(
    saving, smtp: SMTPServer, bugs, alice, bob, carol, dave, monkeypatch
) -> None:
    set_member(bugs.project, dave)
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(metrics, "record_emails_sent", lambda mode, count: sent.append((mode, count)))

    saving(
        create_artifact,
        bugs,
        author=alice,
        values={"title": "Crash", "assigned_to": "bob", "cc": ["carol", "dave"]},
    )

    # Two groups (assignee, CC): two hand-overs, of 1 and 2 emails.
    assert sorted(sent) == [("inline", 1), ("inline", 2)]


# The dispatch: inline, enqueue, fall back ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_changeset_sends_nothing_and_enqueues_nothing(
    smtp: SMTPServer, settings, redis_clean, bugs, alice, bob
) -> None:
    queue = queues.notifications_queue()
    for mode in ("all", frozenset()):
        settings.ASYNC_EMAILS = AsyncEmails(mode)
        with pytest.raises(RuntimeError), transaction.atomic():
            create_artifact(bugs, author=alice, values={"title": "Never saved", "cc": ["bob"]})
            raise RuntimeError("the request failed after the save")

    assert not Changeset.objects.exists() and not NotificationRecord.objects.exists()
    assert queue.count == 0 and queue.scheduled_job_registry.count == 0
    assert smtp.received == []


@pytest.mark.django_db(transaction=True)
def test_an_async_save_enqueues_a_job_that_carries_the_changeset_id_only(
    smtp: SMTPServer, async_all, redis_clean, bugs, alice, bob, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="tracker.notifications.Notification")

    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    [job] = queues.notifications_queue().get_jobs()
    assert job.id == record_of(changeset).job_id  # chosen in the changeset's transaction
    assert job.func_name == "tracker.notifications.jobs.send_changeset_notification"
    assert job.args == (changeset.pk,) and job.kwargs == {}
    assert json.loads(json.dumps({"args": job.args, "kwargs": job.kwargs})) == {
        "args": [changeset.pk],
        "kwargs": {},
    }
    # No RQ retries: the schedule is on the record, each attempt a job of its own.
    assert not job.retries_left
    assert smtp.received == []  # the worker sends, not the request
    assert record_of(changeset).mode == NotificationRecord.Mode.ASYNC
    assert f"Notification: enqueued job {job.id} for changeset {changeset.pk}." in caplog.text


@pytest.mark.django_db(transaction=True)
def test_redis_unreachable_the_api_still_succeeds_and_sends_inline(
    smtp: SMTPServer, async_all, settings, bugs, alice, bob, caplog
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {name: {**config, "URL": closed} for name, config in settings.RQ_QUEUES.items()}

    response = client_for(alice).post(
        "/api/artifacts/", {"tracker": bugs.pk, "values": {"title": "Crash", "cc": ["bob"]}}, format="json"
    )

    assert response.status_code == 201
    changeset = Changeset.objects.get(artifact_id=response.json()["id"])
    assert who_got(smtp, changeset) == ["bob"]
    record = record_of(changeset)
    assert record.fell_back_inline and record.status == Status.DONE
    assert any(
        r.name == "tracker.notifications.Notification"
        and r.levelno == logging.ERROR
        and "Redis cannot be reached" in r.getMessage()
        for r in caplog.records
    )


def test_an_update_gets_its_own_record(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    update = saving(update_artifact, creation.artifact, author=alice, comment="More")

    assert record_of(creation).status == record_of(update).status == Status.DONE
    assert who_got(smtp, update) == ["bob"]


def test_a_save_without_notification_writes_no_record(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    changeset = saving(
        create_artifact, bugs, author=alice, values={"title": "Imported", "cc": ["bob"]}, notify=False
    )

    assert not NotificationRecord.objects.filter(changeset=changeset).exists()
    assert smtp.received == []
