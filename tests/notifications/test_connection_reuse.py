"""SMTP connections kept from job to job by a notification worker, and one job over several of them.

Real ``manage.py rqworker`` processes of the class the supervisor runs on the notifications queue (jobs
in the worker process), a real Redis, and an aiosmtpd server that counts its connections (smtplib says
EHLO once per connection), the QUITs it receives and which connection carried each email.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMessage

from tests.conftest import ROOT
from tests.notifications.conftest import people
from tests.support.smtp import Handler, SMTPServer
from tests.support.workers import ManagedProcess, wait_until
from tracker.models import Changeset, NotificationDelivery, NotificationRecord, Tracker, User
from tracker.notifications.connection_pool import ConnectionPool, JobConnections
from tracker.services.artifacts import create_artifact
from tracker.workers.supervisor import WORKER_CLASSES

Status = NotificationRecord.Status


class CountingHandler(Handler):
    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.quits += 1  # type: ignore[attr-defined]
        return "221 Bye"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.carried[session.peer] += len(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return await super().handle_DATA(server, session, envelope)


class CountingSMTPServer(SMTPServer):
    """Also counts ``quits`` and, in ``carried``, the emails each client connection (peer) carried."""

    def __init__(self) -> None:
        self.quits = 0
        self.carried: Counter[tuple[str, int]] = Counter()
        super().__init__()

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(
                CountingHandler(self), hostname=self.host, port=self.port, ready_timeout=10
            )
            controller.start()
            self._controller = controller


@pytest.fixture
def smtp(settings) -> Iterator[CountingSMTPServer]:
    """This module's server in place of the package's: the worker fixtures send to it."""
    with CountingSMTPServer() as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        yield server


@pytest.fixture
def start_worker(manage_py: list[str], worker_env: dict[str, str], tmp_path: Path, redis_clean):
    """``manage.py rqworker notifications`` with the supervisor's worker class for that queue."""
    started: list[ManagedProcess] = []

    def start(**env: str) -> ManagedProcess:
        args = [
            "rqworker",
            "notifications",
            "--with-scheduler",
            "--worker-class",
            WORKER_CLASSES["notifications"],
        ]
        process = ManagedProcess(
            manage_py, args, {**worker_env, **env}, tmp_path / f"rqworker-{len(started)}.out"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate(timeout=20)


def create(tracker: Tracker, author: User, count: int, cc: list[str]) -> list[Changeset]:
    return [
        create_artifact(tracker, author=author, values={"title": f"Crash {index}", "cc": cc})
        for index in range(count)
    ]


def all_ended(changesets: list[Changeset]) -> Callable[[], bool]:
    ids = [changeset.pk for changeset in changesets]
    return lambda: not NotificationRecord.objects.filter(changeset_id__in=ids, ended_at__isnull=True).exists()


def once_each(changesets: list[Changeset], addresses: list[str]) -> Counter[tuple[str, str]]:
    return Counter({(str(changeset.pk), address): 1 for changeset in changesets for address in addresses})


def worker_log(tmp_path: Path) -> str:
    path = tmp_path / "worker.log"
    return path.read_text() if path.exists() else ""


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_fifty_one_recipient_changesets_through_one_worker_open_one_smtp_connection(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User, bob: User
) -> None:
    worker = start_worker(EMAIL_CONNECTION_MAX_IDLE="600")

    changesets = create(bugs, alice, 50, ["bob"])

    assert wait_until(all_ended(changesets), timeout=120), worker.output()
    # It should greet the mail server once, not once per job, and deliver each email once.
    assert smtp.connections == 1
    assert smtp.deliveries() == once_each(changesets, ["bob@example.com"])
    assert NotificationRecord.objects.filter(changeset__in=changesets, status=Status.DONE).count() == 50
    assert smtp.quits == 0  # kept open for the next job (600 s idle allowed)


def test_a_mail_server_restarted_between_jobs_costs_a_new_connection_not_a_failed_job(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User, bob: User, tmp_path: Path
) -> None:
    worker = start_worker(EMAIL_CONNECTION_MAX_IDLE="600")
    before = create(bugs, alice, 20, ["bob"])
    assert wait_until(all_ended(before), timeout=120), worker.output()

    smtp.stop()  # the kept connection dies with the server
    smtp.start()
    after = create(bugs, alice, 20, ["bob"])

    assert wait_until(all_ended(after), timeout=120), worker.output()
    # It should notice the dead connection with NOOP and open a new one: no failed attempt, no duplicate.
    assert smtp.deliveries() == once_each(before + after, ["bob@example.com"])
    records = NotificationRecord.objects.filter(changeset__in=before + after)
    assert {(record.status, record.attempts) for record in records} == {(Status.DONE, 1)}
    assert smtp.connections == 2
    assert "A kept SMTP connection no longer answers" in worker_log(tmp_path)


def test_an_idle_connection_is_closed_after_email_connection_max_idle(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User, bob: User, tmp_path: Path
) -> None:
    worker = start_worker(EMAIL_CONNECTION_MAX_IDLE="2")
    first = create(bugs, alice, 1, ["bob"])
    assert wait_until(all_ended(first), timeout=60), worker.output()

    # It should say QUIT once the connection has been unused for 2 s, and say why in the log.
    assert wait_until(lambda: smtp.quits == 1, timeout=30), worker.output()
    assert "Closed 1 SMTP connection(s) unused for 2 s (EMAIL_CONNECTION_MAX_IDLE)" in worker_log(tmp_path)

    # The next job opens a new connection.
    second = create(bugs, alice, 1, ["bob"])
    assert wait_until(all_ended(second), timeout=60), worker.output()
    assert smtp.connections == 2
    assert smtp.deliveries() == once_each(first + second, ["bob@example.com"])


def test_a_stopping_worker_closes_its_kept_connection(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User, bob: User
) -> None:
    worker = start_worker(EMAIL_CONNECTION_MAX_IDLE="600")
    changesets = create(bugs, alice, 1, ["bob"])
    assert wait_until(all_ended(changesets), timeout=60), worker.output()
    assert smtp.quits == 0  # kept: 600 s idle allowed

    assert worker.terminate(timeout=30) == 0  # SIGTERM: RQ's warm shutdown

    # It should say QUIT on its way out rather than leave the relay a dropped connection.
    assert wait_until(lambda: smtp.quits == 1, timeout=10)


def test_three_connections_share_a_thirty_recipient_changeset_each_recipient_once(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User
) -> None:
    crowd = people(30, "reader", bugs.project)
    smtp.behaviour.rcpt_delay = 0.05  # a relay checking each address: 1.5 s over one connection
    worker = start_worker(NOTIFICATION_SMTP_CONNECTIONS="3", EMAIL_CONNECTION_MAX_IDLE="600")

    changesets = create(bugs, alice, 1, [user.username for user in crowd])

    assert wait_until(all_ended(changesets), timeout=60), worker.output()
    # It should use three connections, each carrying part of the emails, and reach everyone once.
    assert smtp.connections == 3
    assert len(smtp.carried) == 3 and sum(smtp.carried.values()) == 30
    assert smtp.deliveries() == once_each(changesets, [user.email for user in crowd])
    record = NotificationRecord.objects.get(changeset=changesets[0])
    assert (record.status, record.recipient_count, record.attempts) == (Status.DONE, 30, 1)
    assert NotificationDelivery.objects.filter(changeset=changesets[0]).count() == 30


def test_three_connections_a_deferred_address_is_retried_alone(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User
) -> None:
    crowd = people(12, "reader", bugs.project)
    smtp.behaviour.refuse = {
        crowd[5].email: "450 4.2.0 Mailbox busy",
        crowd[7].email: "550 5.1.1 No such user",
    }
    worker = start_worker(NOTIFICATION_SMTP_CONNECTIONS="3")

    changesets = create(bugs, alice, 1, [user.username for user in crowd])
    record = NotificationRecord.objects.get(changeset=changesets[0])
    assert wait_until(lambda: NotificationDelivery.objects.filter(changeset=changesets[0]).count() == 10, 60)
    smtp.behaviour.refuse = {crowd[7].email: "550 5.1.1 No such user"}  # the busy mailbox is free again

    assert wait_until(all_ended(changesets), timeout=60), worker.output()
    # It should deliver the deferred address on the next attempt and nobody twice; the 550 is skipped.
    expected = [user.email for index, user in enumerate(crowd) if index != 7]
    assert smtp.deliveries() == once_each(changesets, expected)
    record.refresh_from_db()
    assert record.status == Status.DONE and record.attempts >= 2
    assert crowd[7].email in record.last_error


def test_a_relay_failing_in_the_middle_of_a_parallel_job_loses_and_duplicates_nothing(
    start_worker, smtp: CountingSMTPServer, async_all, bugs: Tracker, alice: User
) -> None:
    crowd = people(30, "reader", bugs.project)
    smtp.behaviour.hold_after = 10  # RCPTs wait once 10 emails are in: three copies are in flight
    worker = start_worker(NOTIFICATION_SMTP_CONNECTIONS="3")
    changesets = create(bugs, alice, 1, [user.username for user in crowd])
    assert smtp.behaviour.holding.wait(60), worker.output()

    # The relay starts refusing every new email (451) while the copies in flight complete.
    smtp.behaviour.mail_answer = "451 4.3.0 Try again later"
    smtp.behaviour.hold_after = None
    record = NotificationRecord.objects.get(changeset=changesets[0])
    assert wait_until(lambda: "451" in NotificationRecord.objects.get(pk=record.pk).last_error, 60)
    smtp.behaviour.mail_answer = None

    assert wait_until(all_ended(changesets), timeout=60), worker.output()
    # It should record every copy the relay took before the failure, and send the rest once on retry.
    assert smtp.deliveries() == once_each(changesets, [user.email for user in crowd])
    record.refresh_from_db()
    assert record.status == Status.DONE and record.attempts >= 2
    assert NotificationDelivery.objects.filter(changeset=changesets[0]).count() == 30


def test_a_web_process_opens_and_closes_a_connection_per_inline_send(
    saving, smtp: CountingSMTPServer, bugs: Tracker, alice: User, bob: User
) -> None:
    saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    saving(create_artifact, bugs, author=alice, values={"title": "Crash again", "cc": ["bob"]})

    # It should keep nothing open in a web process (the pool is a worker's): two sends, two QUITs.
    assert len(smtp.addresses()) == 2
    assert smtp.connections == 2
    assert smtp.wait_for(lambda server: server.quits == 2, timeout=10)


def test_jobs_in_several_threads_never_share_a_connection(smtp: CountingSMTPServer, settings) -> None:
    settings.NOTIFICATION_SMTP_CONNECTIONS = 3
    settings.EMAIL_CONNECTION_MAX_IDLE = 600
    pool = ConnectionPool()
    pool.enable()
    taken: list[str] = []
    problems: list[BaseException] = []

    def job(index: int) -> None:
        try:
            with JobConnections(pool) as session:
                prepared = session.prepare(EmailMessage("Hello", "Body", "noreply@example.com"))
                addresses = [f"t{index}-{number}@example.com" for number in range(10)]
                with session.deliver(prepared, addresses, {}, taken.append) as refusals:
                    problems.extend(error for _address, error in refusals)
        except BaseException as error:
            problems.append(error)

    threads = [threading.Thread(target=job, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # Two jobs interleaving commands on one connection would get "503 bad sequence" answers.
    assert problems == []
    assert sorted(taken) == sorted(smtp.addresses()) and len(taken) == 60
    assert pool.idle_count <= 3
    pool.close_all()
    assert pool.idle_count == 0
    assert smtp.wait_for(lambda server: server.quits == server.connections, timeout=10)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NOTIFICATION_SMTP_CONNECTIONS", "0"),
        ("NOTIFICATION_SMTP_CONNECTIONS", "51"),
        ("NOTIFICATION_SMTP_CONNECTIONS", "many"),
        ("EMAIL_CONNECTION_MAX_IDLE", "-1"),
    ],
)
def test_a_wrong_connection_setting_stops_start_up_with_one_line(variable: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, variable: value},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Configuration error:") and variable in lines[0], (
        result.stderr
    )
