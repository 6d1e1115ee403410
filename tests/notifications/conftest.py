"""Fixtures for the notification tests: a real SMTP server, ASYNC_EMAILS modes, trackers with people."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_user
from tests.support.smtp import SMTPServer, smtp_for
from tests.support.workers import ManagedProcess, kill_pids_in
from tracker import queues
from tracker.models import Changeset, Membership, Project, User
from tuleap_backend.env import AsyncEmails


@pytest.fixture(autouse=True)
def forget_redis_failures() -> Iterator[None]:
    """Each test starts with no Redis breaker open: one test's outage must not skip the next's Redis."""
    queues.reset()
    yield
    queues.reset()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """These tests create many users; hashing their passwords properly would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    """An aiosmtpd server the project's email settings point at."""
    yield from smtp_for(settings)


@pytest.fixture
def inline(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())


@pytest.fixture
def async_all(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")


@pytest.fixture
def fast_retries(settings) -> None:
    settings.NOTIFICATION_RETRY_INTERVALS = [1, 1, 1]


def people(count: int, prefix: str, project: Project) -> list[User]:
    """Members of ``project`` (only members may be named in its user fields)."""
    users = [make_user(f"{prefix}{index:03d}") for index in range(count)]
    Membership.objects.bulk_create([Membership(project=project, user=user) for user in users])
    return users


def cc_values(users: list[User]) -> dict[str, object]:
    return {"cc": [user.username for user in users]}


@pytest.fixture
def saving(django_capture_on_commit_callbacks, smtp: SMTPServer, inline: None):
    """Run a save the way a request does: the after-commit notification runs (inline), for real."""

    def run(action: Callable[..., Changeset], *args: Any, **kwargs: Any) -> Changeset:
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    return run


def who_got(smtp: SMTPServer, changeset: Changeset) -> list[str]:
    """Who received this changeset's email: the local part of each address, sorted, duplicates kept."""
    return sorted(
        address.split("@")[0]
        for (changeset_id, address), count in smtp.deliveries().items()
        if changeset_id == str(changeset.pk)
        for _ in range(count)
    )


@pytest.fixture
def worker_env(subprocess_env: dict[str, str], smtp: SMTPServer, tmp_path: Path) -> dict[str, str]:
    """Environment of worker processes: the test database and Redis, our SMTP server, short pauses."""
    return {
        **subprocess_env,
        **smtp.env(),
        "ASYNC_EMAILS": "all",
        "NOTIFICATION_RETRY_INTERVALS": "1,1,1",
        "WORKER_LOG": str(tmp_path / "worker.log"),
        "WORKER_RUN_DIR": str(tmp_path / "run"),
        "LOGGER_LEVEL": "info",
    }


@pytest.fixture
def start_worker(manage_py: list[str], worker_env: dict[str, str], tmp_path: Path, redis_clean):
    """Start ``manage.py rqworker <queue> --with-scheduler`` processes; all are stopped afterwards."""
    started: list[ManagedProcess] = []

    def start(queue: str = "notifications", **env: str) -> ManagedProcess:
        process = ManagedProcess(
            manage_py,
            ["rqworker", queue, "--with-scheduler"],
            {**worker_env, **env},
            tmp_path / f"rqworker-{len(started)}.out",
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate(timeout=20)


@pytest.fixture
def start_supervisor(manage_py: list[str], worker_env: dict[str, str], tmp_path: Path, redis_clean):
    """Start ``manage.py backend_workers start``; stopped (and anything left killed) afterwards."""
    started: list[ManagedProcess] = []

    def start(**env: str) -> ManagedProcess:
        process = ManagedProcess(
            manage_py,
            ["backend_workers", "start"],
            {**worker_env, **env},
            tmp_path / f"supervisor-{len(started)}.out",
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate(timeout=60)
    kill_pids_in(tmp_path / "run")
