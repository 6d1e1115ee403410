"""With Redis gone, the work goes on, /metrics still answers, and the failure is logged once."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.monitoring.conftest import Scrape
from tests.support.redis_server import RedisServer
from tracker.models import Changeset, Tracker, User
from tracker.monitoring import store
from tracker.monitoring.metrics import record_email_failed, record_emails_sent
from tracker.services.artifacts import create_artifact, update_artifact

pytestmark = pytest.mark.django_db

STORE_LOGGER = "tracker.monitoring.store"


@pytest.fixture
def metrics_redis(settings, metrics_store: None) -> Iterator[RedisServer]:
    """A Redis of this test's own for the metrics, that the test may stop and start again."""
    server = RedisServer()
    original = settings.REDIS_URL
    settings.REDIS_URL = server.url
    store.reset()
    yield server
    server.stop()
    settings.REDIS_URL = original
    store.reset()


@pytest.fixture
def store_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    # The "tracker" logger does not propagate to the root logger, where caplog listens.
    monkeypatch.setattr(logging.getLogger("tracker"), "propagate", True)
    caplog.set_level(logging.INFO, logger=STORE_LOGGER)
    return caplog


def store_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == STORE_LOGGER and record.levelno == level]


def restart(server: RedisServer, directory: Path) -> subprocess.Popen:
    """redis-server again on the same port, as after a restart by its service manager."""
    binary = shutil.which("redis-server") or "redis-server"
    return subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(server.port), "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def test_saves_and_sends_go_on_and_the_scrape_shows_what_it_can(
    scrape: Callable[[], Scrape],
    metrics_redis: RedisServer,
    store_log: pytest.LogCaptureFixture,
    bugs: Tracker,
    alice: User,
    django_capture_on_commit_callbacks,
) -> None:
    record_emails_sent("inline", 1)
    assert scrape().value("tuleap_mails_total", mode="inline") == 1

    metrics_redis.stop()
    with django_capture_on_commit_callbacks(execute=True):
        artifact = create_artifact(bugs, author=alice, values={"title": "Saved while Redis is down"}).artifact
        update_artifact(artifact, author=alice, values={"status": "In progress"})
    for _ in range(5):
        record_emails_sent("inline", 2)
        record_email_failed("connect")

    # The saves went through...
    assert Changeset.objects.filter(artifact=artifact).count() == 2
    # ...and /metrics answers with the gauges computed from the database.
    metrics = scrape()
    assert metrics.value("tuleap_redis_up") == 0
    assert metrics.value("tuleap_tracker_artifacts_count") == 1
    assert metrics.value("tuleap_tracker_artifact_changesets_count") == 2
    assert metrics.value("tuleap_notifications_pending") is not None
    assert metrics.value("tuleap_build_info", version="0.1.0") == 1
    # The stored counters are missing rather than wrong (a 0 would look like a reset).
    assert "tuleap_mails" in metrics.families
    assert metrics.value("tuleap_mails_total", mode="inline") is None
    assert metrics.total("tuleap_workers") == 0
    # One error for all of those events and the scrape, naming Redis but not its password.
    errors = store_records(store_log, logging.ERROR)
    assert len(errors) == 1
    assert "cannot be reached" in errors[0].getMessage()


def test_the_store_recovers_when_redis_is_back_and_logs_it(
    scrape: Callable[[], Scrape],
    metrics_redis: RedisServer,
    store_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # No pause between attempts, so the test need not wait for the store to try again.
    monkeypatch.setattr(store, "RETRY_AFTER_SECONDS", 0.0)
    metrics_redis.stop()
    record_emails_sent("inline", 1)
    record_emails_sent("inline", 1)

    restarted = restart(metrics_redis, tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not store.is_available() and time.monotonic() < deadline:
            time.sleep(0.1)
        record_emails_sent("inline", 4)

        assert scrape().value("tuleap_mails_total", mode="inline") == 4
        assert len(store_records(store_log, logging.ERROR)) == 1
        assert len(store_records(store_log, logging.WARNING)) == 1

        # A second outage is reported again: the flag was reset by the recovery.
        restarted.terminate()
        restarted.wait(timeout=10)
        record_emails_sent("inline", 1)
        assert len(store_records(store_log, logging.ERROR)) == 2
    finally:
        if restarted.poll() is None:
            restarted.terminate()
            restarted.wait(timeout=10)
