"""Operating the gateway: the system check, /metrics, the admin's "process again", the raw purge,
the supervisor's plan. In process: processing is called directly here (the other tests use workers)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests.monitoring.conftest import Scrape, basic_auth
from tracker.email_gateway import inbound, processing, tokens
from tracker.email_gateway.receive import receive
from tracker.models import Changeset, InboundEmail, Tracker, User
from tracker.monitoring import store
from tracker.services.artifacts import create_artifact
from tracker.system_check import inbound_emails
from tracker.system_check.base import CheckContext
from tracker.workers.supervisor import planned_workers
from tuleap_backend.env import AsyncEmails


def reply(sender: User, to: str, text: str = "A reply") -> bytes:
    headers = f"From: {sender.email}\r\nTo: {to}\r\nSubject: Re: x\r\nMessage-ID: <m@mail.example.com>\r\n"
    return f"{headers}\r\n{text}\r\n".encode()


@pytest.fixture
def artifact(gateway: str, bugs: Tracker, alice: User):
    return create_artifact(bugs, author=alice, values={"title": "Crash"}, notify=False).artifact


def test_the_system_check_reports_messages_waiting_too_long_and_rejected_ones(
    gateway: str, settings, bob: User, redis_clean
) -> None:
    old = receive(reply(bob, "nobody@tracker.example.org"), via="pipe")
    InboundEmail.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(hours=1))
    rejected = receive(reply(bob, "nobody@tracker.example.org"), via="pipe")
    processing.process(rejected.pk, rejected.job_id)

    findings = inbound_emails.run(CheckContext(now=timezone.now(), redis_url=settings.REDIS_URL))

    waiting, refused = findings
    assert (waiting.level, waiting.details["count"]) == ("WARNING", 1)
    assert "waiting for a worker" in waiting.message
    assert refused.details["count"] == 1 and "does not take messages" in refused.message
    # Since a check that came after the rejection: nothing rejected to report.
    later = CheckContext(now=timezone.now(), redis_url=settings.REDIS_URL, previous_check_at=timezone.now())
    assert [finding.details["count"] for finding in inbound_emails.run(later)] == [1]


def test_metrics_count_inbound_emails_by_status(
    gateway: str, settings, artifact, bob: User, redis_clean
) -> None:
    settings.METRICS_SECRET, settings.METRICS_SECRET_FILE = "metrics-secret-for-the-tests-0123456789", ""
    store.reset()
    store.clear()
    address = tokens.reply_address(bob.pk, artifact.pk)
    good = receive(reply(bob, address), via="pipe")
    bad = receive(reply(bob, "reply+nope@tracker.example.org"), via="pipe")
    for record in (good, bad):
        processing.process(record.pk, record.job_id)

    response = Client().get("/metrics", HTTP_AUTHORIZATION=basic_auth("metrics", settings.METRICS_SECRET))
    scrape = Scrape(response.content.decode())

    assert scrape.value("tuleap_inbound_emails_total", status="received") == 2
    assert scrape.value("tuleap_inbound_emails_total", status="processed") == 1
    assert scrape.value("tuleap_inbound_emails_total", status="rejected") == 1
    assert scrape.value("tuleap_inbound_emails_total", status="ignored") == 0
    assert scrape.value("tuleap_worker_events", queue="incoming_email") is not None
    store.clear()


def test_the_admin_lists_the_reason_and_processes_again(
    gateway: str, artifact, bob: User, admin_user: User, redis_clean
) -> None:
    record = receive(reply(bob, tokens.reply_address(bob.pk, artifact.pk)), via="pipe")
    bob.is_active = False
    bob.save()
    processing.process(record.pk, record.job_id)
    record.refresh_from_db()
    assert record.status == "rejected"
    client = Client()
    client.force_login(admin_user)
    assert "no longer comment" in client.get("/admin/tracker/inboundemail/").content.decode()
    bob.is_active = True
    bob.save()

    client.post("/admin/tracker/inboundemail/", {"action": "process_again", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert record.status == "received"
    processing.process(record.pk, record.job_id)

    record.refresh_from_db()
    assert record.status == "processed"
    assert Changeset.objects.get(artifact=artifact, is_creation=False).comment == "A reply"


def test_a_second_job_on_the_same_record_does_nothing(gateway: str, artifact, bob: User, redis_clean) -> None:
    record = receive(reply(bob, tokens.reply_address(bob.pk, artifact.pk)), via="pipe")

    assert processing.process(record.pk, record.job_id) == "processed"
    assert processing.process(record.pk, "another-job") == "taken"
    assert Changeset.objects.filter(artifact=artifact, is_creation=False).count() == 1


def test_raw_messages_are_purged_after_the_retention(gateway: str, settings, bob: User, redis_clean) -> None:
    record = receive(reply(bob, "nobody@tracker.example.org"), via="pipe")
    processing.process(record.pk, record.job_id)
    waiting = receive(reply(bob, "nobody@tracker.example.org"), via="pipe")

    later = timezone.now() + dt.timedelta(days=settings.EMAIL_GATEWAY_RETENTION_DAYS + 1)
    assert inbound.purge_raw(later) == 1

    record.refresh_from_db()
    waiting.refresh_from_db()
    assert (bytes(record.raw), record.raw_purged_at is not None, record.reason != "") == (b"", True, True)
    assert bytes(waiting.raw)  # not processed yet: kept


def test_an_oversized_message_keeps_its_headers_and_is_rejected(
    gateway: str, settings, bob: User, redis_clean
) -> None:
    settings.EMAIL_GATEWAY_MAX_SIZE = 2048
    record = receive(reply(bob, "reply+x@tracker.example.org", text="x" * 5000), via="pipe")

    assert record.size > 2048 and len(bytes(record.raw)) < 2048
    assert processing.process(record.pk, record.job_id) == "rejected"
    record.refresh_from_db()
    assert "too large" in record.reason


@pytest.mark.parametrize(
    ("gateway_on", "plan"),
    [
        (False, {"notifications": 1, "jira_import": 1}),
        (True, {"notifications": 1, "jira_import": 1, "incoming_email": 1}),
    ],
)
def test_the_supervisor_runs_a_gateway_worker_only_when_the_gateway_is_on(
    settings, gateway_on: bool, plan
) -> None:
    settings.NB_BACKEND_WORKERS = 2
    settings.ASYNC_EMAILS = AsyncEmails("all")
    settings.EMAIL_GATEWAY_DOMAIN = "tracker.example.org" if gateway_on else ""

    assert planned_workers() == plan


def test_a_failed_job_hands_its_record_to_a_new_job_at_once(gateway: str, bob: User, redis_clean) -> None:
    from django.db import OperationalError
    from rq.job import Job

    from tracker import queues
    from tracker.email_gateway import jobs

    record = receive(reply(bob, "nobody@tracker.example.org"), via="pipe")
    job = Job.fetch(record.job_id, connection=queues.incoming_email_queue().connection)
    inbound.claim(record.pk, record.job_id)

    # It should not wait for the recovery sweep: SQLite's "database is locked" is over in a moment.
    jobs.job_failed(job, None, OperationalError, OperationalError("database is locked"), None)

    record.refresh_from_db()
    assert record.status == "received" and record.claimed_at is None
    assert record.job_id != job.id
    assert record.job_id in queues.incoming_email_queue().get_job_ids()


def test_loops_are_ignored_but_people_of_the_site_domain_are_not(
    gateway: str, artifact, bob: User, redis_clean
) -> None:
    ours = receive(
        b"From: reply+x@tracker.example.org\r\nTo: reply+y@tracker.example.org\r\nSubject: Re\r\n\r\nx\r\n",
        via="pipe",
    )
    notification = receive(
        b"From: someone@elsewhere.example\r\nTo: reply+y@tracker.example.org\r\nSubject: Re\r\n"
        b"Message-ID: <tuleap.changeset-3.submitter@localhost>\r\nX-Tuleap-Changeset-Id: 3\r\n\r\nx\r\n",
        via="pipe",
    )
    User.objects.filter(pk=bob.pk).update(email="bob@localhost")  # the site's own host name
    bob.refresh_from_db()
    person = receive(reply(bob, tokens.reply_address(bob.pk, artifact.pk)), via="pipe")

    assert processing.process(ours.pk, ours.job_id) == "ignored"
    assert processing.process(notification.pk, notification.job_id) == "ignored"
    assert processing.process(person.pk, person.job_id) == "processed"
