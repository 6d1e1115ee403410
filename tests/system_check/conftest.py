"""Helpers for the system check tests: notification records of a chosen age, a well-kept Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from tests.support.redis_server import RedisServer
from tracker import queues
from tracker.models import Artifact, NotificationRecord, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.system_check.base import CheckContext

GOOD_PASSWORD = "a-redis-password-long-enough-0123456789"


def record_for(artifact: Artifact, *, age: timedelta, **fields: Any) -> NotificationRecord:
    """The notification record of the artifact's latest changeset, created ``age`` ago.

    Whatever wrote the record when the changeset was stored (or nothing), the test decides its state.
    """
    changeset = artifact.changesets.order_by("-id").first()
    assert changeset is not None
    fields.setdefault("mode", NotificationRecord.Mode.ASYNC)
    fields.setdefault("status", NotificationRecord.Status.PENDING)
    record, _ = NotificationRecord.objects.get_or_create(
        changeset=changeset, defaults={"mode": fields["mode"]}
    )
    NotificationRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age, **fields)
    record.refresh_from_db()
    return record


def new_artifact(tracker: Tracker, author: User, title: str = "Crash on save") -> Artifact:
    return create_artifact(tracker, author=author, values={"title": title}).artifact


def context(redis_url: str | None = None, **extra: Any) -> CheckContext:
    """What a run gives the checks: now (unless told), and the tests' Redis unless told otherwise."""
    extra.setdefault("now", timezone.now())
    return CheckContext(redis_url=redis_url or settings.REDIS_URL, **extra)


@pytest.fixture(autouse=True)
def forget_redis_failures() -> Iterator[None]:
    """Each test starts with no Redis breaker open: one test's outage must not skip the next's Redis."""
    queues.reset()
    yield
    queues.reset()


@pytest.fixture(scope="module")
def well_kept_redis() -> Iterator[RedisServer]:
    """A Redis set up the way the README asks: long password, append-only file, no eviction."""
    with RedisServer(
        "--appendonly", "yes", "--maxmemory-policy", "noeviction", password=GOOD_PASSWORD
    ) as server:
        yield server
