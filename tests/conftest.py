"""Shared fixtures: a real Redis the tests own, and a small named world (alice, bob, carol, dave)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.support.redis_server import RedisServer
from tracker.models import Membership, Project, Tracker, User
from tracker.services.projects import create_project, set_member
from tracker.services.trackers import TrackerSpec, create_tracker

# Fixtures shared by several folders: the fake Jira servers and the Jira settings.
pytest_plugins = ["tests.support.fake_jira.fixtures", "tests.support.jira"]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


@dataclass
class TestRedis:
    __test__ = False  # a fixture's value, not a test class: pytest must not try to collect it

    url: str
    owned: bool

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def clean(self) -> None:
        """Empty what the tests may have written: the whole database only when we started it."""
        client = self.client()
        if self.owned:
            client.flushdb()
            return
        for queue_name in settings.RQ_QUEUES:
            import django_rq

            queue = django_rq.get_queue(queue_name)
            queue.empty()
            for registry in (
                queue.failed_job_registry,
                queue.finished_job_registry,
                queue.started_job_registry,
                queue.deferred_job_registry,
                queue.scheduled_job_registry,
            ):
                for job_id in registry.get_job_ids():
                    registry.remove(job_id, delete_job=True)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, ValueError):
        return False


def _point_settings_at(url: str) -> None:
    settings.REDIS_URL = url
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url


@pytest.fixture(scope="session", autouse=True)
def test_redis() -> Iterator[TestRedis]:
    """REDIS_URL when it is set and answers (never flushed); otherwise a private redis-server."""
    external = os.environ.get("REDIS_URL")
    if external and _answers(external):
        _point_settings_at(external)
        yield TestRedis(url=external, owned=False)
        return
    server = RedisServer("--appendonly", "no", password="tests-own-redis-password-0123456789abcdef")
    _point_settings_at(server.url)
    try:
        yield TestRedis(url=server.url, owned=True)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: throttles count there by user id, and the next test's
    users get the same ids (SQLite reuses them after a rollback)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_clean(test_redis: TestRedis) -> Iterator[TestRedis]:
    test_redis.clean()
    yield test_redis
    test_redis.clean()


def database_url() -> str:
    """A URL for the database the tests use right now, for worker subprocesses."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = quote(config.get("USER") or "")
    password = f":{quote(config['PASSWORD'])}" if config.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return (
        f"postgres://{auth}{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{config['NAME']}"
    )


@pytest.fixture
def subprocess_env(test_redis: TestRedis, transactional_db: None) -> dict[str, str]:
    """Environment for a ``manage.py`` subprocess that shares the test database and Redis."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tuleap_backend.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=test_redis.url,
        PYTHONPATH=str(ROOT),
        SECRET_KEY=settings.SECRET_KEY,
    )
    return env


@pytest.fixture
def manage_py() -> list[str]:
    return [sys.executable, str(ROOT / "manage.py")]


# The named world -----------------------------------------------------------------------------------


def make_user(username: str, **extra: object) -> User:
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        first_name=username.capitalize(),
        **extra,
    )


@pytest.fixture
def alice(db: None) -> User:
    """Administrator of both projects."""
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    """Member of both projects."""
    return make_user("bob")


@pytest.fixture
def carol(db: None) -> User:
    """Member of the public project only."""
    return make_user("carol")


@pytest.fixture
def dave(db: None) -> User:
    """Member of nothing."""
    return make_user("dave")


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def public_project(alice: User, bob: User, carol: User) -> Project:
    project = create_project(shortname="demo", name="Demo", creator=alice, is_public=True)
    set_member(project, bob)
    set_member(project, carol)
    return project


@pytest.fixture
def private_project(alice: User, bob: User) -> Project:
    project = create_project(shortname="secret", name="Secret", creator=alice, is_public=False)
    set_member(project, bob, Membership.Role.MEMBER)
    return project


@pytest.fixture
def bugs(public_project: Project) -> Tracker:
    """A tracker with the default fields: title, description, status, assigned_to, cc."""
    return create_tracker(public_project, TrackerSpec(name="Bugs", shortname="bug"))


@pytest.fixture
def tasks(private_project: Project) -> Tracker:
    return create_tracker(private_project, TrackerSpec(name="Tasks", shortname="task"))


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def client_as(db: None) -> Callable[[User], Client]:
    """``client_as(bob)``: a test client logged in as bob."""

    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login
