"""Notifications through real worker processes, a real Redis and a real SMTP server.

Every commit here is real (transactional database); workers are ``manage.py rqworker`` or
``manage.py backend_workers`` subprocesses sharing the test database.
"""

from __future__ import annotations

import threading
from collections import Counter

import django_rq
import pytest
from django.db import connections
from django.utils import timezone
from rq.command import send_stop_job_command

from tests.conftest import client_for
from tests.notifications.conftest import people, who_got
from tests.support.smtp import SMTPServer
from tests.support.workers import kill_tree, wait_until
from tracker.models import (
    Changeset,
    NotificationDelivery,
    NotificationListEntry,
    NotificationRecord,
    Tracker,
    User,
)
from tracker.services.artifacts import create_artifact
from tracker.workers.pidfiles import worker_states

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = NotificationRecord.Status


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def ended(changeset: Changeset) -> bool:
    return record_of(changeset).ended_at is not None


def test_an_artifact_created_through_the_api_is_emailed_once_to_each_recipient(
    start_worker, smtp: SMTPServer, async_all, tmp_path, bugs: Tracker, alice: User, bob: User, carol: User
) -> None:
    worker = start_worker()

    response = client_for(alice).post(
        "/api/artifacts/",
        {"tracker": bugs.pk, "values": {"title": "Crash on save", "assigned_to": "bob", "cc": ["carol"]}},
        format="json",
    )

    assert response.status_code == 201
    changeset = Changeset.objects.get(artifact_id=response.json()["id"])
    assert wait_until(lambda: ended(changeset), timeout=60), worker.output()
    assert who_got(smtp, changeset) == ["bob", "carol"]
    record = record_of(changeset)
    assert record.mode == NotificationRecord.Mode.ASYNC and record.status == Status.DONE
    assert record.recipient_count == 2 and record.attempts == 1 and not record.fell_back_inline
    # The worker log tells what happened.
    log = (tmp_path / "worker.log").read_text()
    assert "Listening on notifications" in log
    assert f"changeset {changeset.pk}" in log and " done in " in log


def test_mail_server_down_then_back_the_job_is_retried_and_delivers(
    start_worker, smtp: SMTPServer, async_all, settings, bugs: Tracker, alice: User, bob: User
) -> None:
    settings.NOTIFICATION_RETRY_INTERVALS = [2, 2, 2]  # the pauses travel with the job
    smtp.stop()
    start_worker()

    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    assert wait_until(lambda: "ConnectionRefusedError" in record_of(changeset).last_error, timeout=60)
    smtp.start()
    assert wait_until(lambda: ended(changeset), timeout=60)
    record = record_of(changeset)
    assert record.status == Status.DONE and record.attempts >= 2
    assert who_got(smtp, changeset) == ["bob"]


def test_mail_server_down_for_good_the_record_ends_failed_after_the_give_up_time(
    start_worker, smtp: SMTPServer, async_all, fast_retries, bugs: Tracker, alice: User, bob: User
) -> None:
    smtp.stop()
    start_worker(NOTIFICATION_GIVE_UP_AFTER="4")

    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    assert wait_until(lambda: ended(changeset), timeout=90)
    record = record_of(changeset)
    # Retried on its schedule (1 s pauses here) until NOTIFICATION_GIVE_UP_AFTER, then failed.
    assert record.status == Status.FAILED and record.attempts >= 2
    assert "ConnectionRefusedError" in record.last_error
    # The failure is the record's, not a crashed job's: nothing in RQ's failed registry.
    assert django_rq.get_queue("notifications").failed_job_registry.count == 0


def test_a_worker_killed_mid_job_is_replaced_and_nobody_gets_an_email_twice(
    start_supervisor,
    smtp: SMTPServer,
    async_all,
    fast_retries,
    settings,
    tmp_path,
    bugs: Tracker,
    alice: User,
) -> None:
    # Two groups of recipients: the five in CC first, then the three on the notification list.
    cc = [user.username for user in people(5, "cc", bugs.project)]
    listed = [f"list{index}@example.org" for index in range(3)]
    for address in listed:
        # Confirmed: only confirmed plain addresses receive (tracker.services.notification_list).
        NotificationListEntry.objects.create(tracker=bugs, email=address, confirmed_at=timezone.now())
    settings.WORKER_RUN_DIR = str(tmp_path / "run")  # where to read the worker pid files
    # A short job timeout: RQ notices a dead job a minute after its last heartbeat (70 s, not 90 s).
    settings.NOTIFICATION_JOB_TIMEOUT = 10
    supervisor = start_supervisor(NB_BACKEND_WORKERS="1", NOTIFICATION_JOB_TIMEOUT="10")
    assert wait_until(lambda: any(state.alive for state in worker_states()), timeout=60)
    # Two copies are accepted, then the server hangs on the third: the worker dies in mid-group,
    # before the group's addresses reach the database (only its Redis journal knows them).
    smtp.behaviour.hold_after = 2

    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": cc})

    assert smtp.behaviour.holding.wait(timeout=60), supervisor.output()
    [worker] = [state for state in worker_states() if state.alive]
    kill_tree(worker.pid)
    smtp.behaviour.hold_after = None
    assert len(smtp.received) == 2
    assert not NotificationDelivery.objects.filter(changeset=changeset).exists()

    # The supervisor starts a new worker; RQ retries the abandoned job, which sends the rest.
    assert wait_until(lambda: ended(changeset), timeout=240), supervisor.output()
    deliveries = smtp.deliveries()
    assert sorted(address for (_, address) in deliveries) == sorted(
        [f"{username}@example.com" for username in cc] + listed
    )
    assert set(deliveries.values()) == {1}
    record = record_of(changeset)
    assert record.status == Status.DONE and record.attempts == 2
    [replacement] = [state for state in worker_states() if state.alive]
    assert replacement.pid != worker.pid


def test_a_pool_of_workers_delivers_every_email_exactly_once(
    start_worker, smtp: SMTPServer, async_all, bugs: Tracker, alice: User, bob: User, carol: User
) -> None:
    NotificationListEntry.objects.create(tracker=bugs, email="team@example.org", confirmed_at=timezone.now())
    for _ in range(3):
        start_worker()
    created: list[int] = []
    errors: list[BaseException] = []

    def create_many(thread: int) -> None:
        try:
            for index in range(50):
                changeset = create_artifact(
                    bugs, author=alice, values={"title": f"Bug {thread}-{index}", "cc": ["bob", "carol"]}
                )
                created.append(changeset.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create_many, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(created) == 200
    expected = Counter(
        (str(changeset_id), address)
        for changeset_id in created
        for address in ("bob@example.com", "carol@example.com", "team@example.org")
    )
    assert wait_until(lambda: sum(smtp.deliveries().values()) >= len(expected), timeout=240)
    assert wait_until(
        lambda: NotificationRecord.objects.filter(status=Status.DONE).count() == 200, timeout=60
    )
    assert smtp.deliveries() == expected


def test_a_long_job_on_another_queue_does_not_delay_notifications(
    start_supervisor, smtp: SMTPServer, async_all, tmp_path, bugs: Tracker, alice: User, bob: User
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="2")
    jira = django_rq.get_queue("jira_import")
    long_job = jira.enqueue("tests.notifications.slow_jobs.sleep_for", 600, job_timeout=900)
    assert wait_until(lambda: jira.started_job_registry.count == 1, timeout=60), supervisor.output()

    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    assert wait_until(lambda: ended(changeset), timeout=30)
    assert who_got(smtp, changeset) == ["bob"]
    assert jira.started_job_registry.count == 1  # the import is still running
    send_stop_job_command(jira.connection, long_job.id)
