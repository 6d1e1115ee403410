"""The embedded database under ordinary concurrency: real gunicorn, a real worker, several clients.

Two gunicorn workers, a notification worker and 4 client threads create and update artifacts through
the API at the same time, on the SQLite database the project starts with. Writers must queue (WAL,
busy timeout, ``BEGIN IMMEDIATE``) instead of failing with "database is locked".
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.conftest import make_user
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tests.support.workers import ManagedProcess, wait_until
from tracker.models import Changeset, Membership, NotificationRecord, Tracker, User
from tracker.notifications.context import NotificationContext
from tracker.notifications.recipients import recipients_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CLIENTS = 4
CREATIONS_PER_CLIENT = 10
UPDATES_PER_CLIENT = 40  # 4 x (10 + 40) = 200 writes


@pytest.fixture
def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock is what this test is about; PostgreSQL locks rows.")


@pytest.fixture
def gunicorn(worker_env: dict[str, str], tmp_path: Path, sqlite_only: None):
    port = free_port()
    process = ManagedProcess(
        [sys.executable, "-m", "gunicorn"],
        ["tuleap_backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "-"],
        {**worker_env, "LOGGER_LEVEL": "warning"},
        tmp_path / "gunicorn.out",
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/api/", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    assert wait_until(answers, timeout=60), process.output()
    yield base, process
    process.terminate(timeout=30)


def client_work(
    base: str, token: str, tracker_id: int, others: list[str], index: int, answers: list[int]
) -> None:
    """One client: creates its artifacts, then updates them (and the others' it can see) in turns."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    mine: list[int] = []
    for number in range(CREATIONS_PER_CLIENT):
        response = session.post(
            f"{base}/api/artifacts/",
            json={"tracker": tracker_id, "values": {"title": f"Client {index} #{number}", "cc": others}},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        )
        answers.append(response.status_code)
        if response.status_code == 201:
            mine.append(response.json()["id"])
    for number in range(UPDATES_PER_CLIENT):
        if not mine:
            break
        response = session.patch(
            f"{base}/api/artifacts/{mine[number % len(mine)]}/",
            json={"values": {"title": f"Client {index} update {number}"}, "comment": f"Step {number}"},
            # Half the writes as a careful API client sends them: the key's row is another write.
            headers={"Idempotency-Key": str(uuid.uuid4())} if number % 2 else {},
            timeout=60,
        )
        answers.append(response.status_code)


def test_two_web_workers_a_notification_worker_and_four_clients_never_lock_each_other_out(
    gunicorn, start_worker, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User, carol: User, tmp_path
) -> None:
    base, web = gunicorn
    erin = make_user("erin")
    Membership.objects.create(project=bugs.project, user=erin)
    users = [alice, bob, carol, erin]
    tokens = [Token.objects.create(user=user).key for user in users]
    worker = start_worker()

    answers: list[int] = []
    threads = [
        threading.Thread(
            target=client_work,
            args=(
                base,
                tokens[index],
                bugs.pk,
                [other.username for other in users if other != user],
                index,
                answers,
            ),
        )
        for index, user in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    # It should answer every write, none with a server error.
    codes = Counter(answers)
    assert sum(codes.values()) == CLIENTS * (CREATIONS_PER_CLIENT + UPDATES_PER_CLIENT), codes
    assert set(codes) <= {200, 201}, (codes, web.output()[-5000:])
    changesets = list(Changeset.objects.filter(artifact__tracker=bugs).select_related("artifact__tracker"))
    assert len(changesets) == sum(codes.values())

    # It should send every notification, each email to each recipient exactly once.
    def all_ended() -> bool:
        return not NotificationRecord.objects.filter(ended_at__isnull=True).exists()

    assert wait_until(all_ended, timeout=300), worker.output()[-5000:]
    assert set(NotificationRecord.objects.values_list("status", flat=True)) == {
        NotificationRecord.Status.DONE
    }
    deliveries = smtp.deliveries()
    assert set(deliveries.values()) == {1}
    for changeset in changesets:
        expected = {
            recipient.address.lower()
            for recipient in recipients_for(
                NotificationContext.load(
                    Changeset.objects.select_related("artifact__tracker__project").get(pk=changeset.pk)
                )
            )
        }
        delivered = {address for (changeset_id, address) in deliveries if changeset_id == str(changeset.pk)}
        assert delivered == expected and expected, changeset.pk

    # And no process met the lock: not even a retried one.
    logs = web.output() + worker.output() + (tmp_path / "worker.log").read_text()
    assert "database is locked" not in logs
