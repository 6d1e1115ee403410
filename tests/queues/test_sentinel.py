"""Every Redis client of the platform through Redis Sentinel: real master, replica and sentinels.

The application is given the sentinels and the master's name, and a REDIS_URL whose host is a closed
port: whatever reaches Redis here found the master through the sentinels.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.redis_sentinel import MASTER_NAME, SentinelSetup
from tests.support.redis_server import free_port
from tests.support.workers import wait_until
from tests.system_check.conftest import context
from tracker import queues
from tracker.monitoring import store
from tracker.system_check import redis_health, redis_sentinel
from tracker.system_check.base import Level
from tuleap_backend.redis_settings import RedisSentinel

pytestmark = pytest.mark.slow


def point_at(
    settings, setup: SentinelSetup, *extra_sentinels: tuple[str, int], sentinel_password: str | None = None
) -> None:
    addresses = tuple(("127.0.0.1", sentinel.port) for sentinel in setup.sentinels)
    password = setup.sentinel_password if sentinel_password is None else sentinel_password
    config = RedisSentinel(sentinels=addresses + extra_sentinels, master=MASTER_NAME, password=password)
    settings.REDIS_SENTINEL = config
    settings.REDIS_URL = setup.redis_url
    # As settings.py makes them behind sentinels: no URL, django-rq's SENTINELS keys.
    sentinel_keys = config.rq_connection(setup.redis_url, connect_timeout=5, sentinel_timeout=2)
    settings.RQ_QUEUES = {
        name: {**{k: v for k, v in queue.items() if k != "URL"}, **sentinel_keys}
        for name, queue in settings.RQ_QUEUES.items()
    }
    queues.reset()


@pytest.fixture(scope="module")
def sentinels() -> Iterator[SentinelSetup]:
    with SentinelSetup() as setup:
        yield setup


@pytest.fixture
def behind_sentinels(settings, sentinels: SentinelSetup) -> Iterator[SentinelSetup]:
    point_at(settings, sentinels)
    yield sentinels
    queues.reset()


def test_the_queues_the_journal_and_the_metrics_store_reach_the_master(
    behind_sentinels: SentinelSetup,
) -> None:
    master = behind_sentinels.master.client()

    # It should enqueue on the master (the queue's client is a Sentinel-managed one)...
    queue = queues.notifications_queue()
    job = queue.enqueue("builtins.print", "hello", job_id="sentinel-probe")
    assert master.exists(f"rq:job:{job.id}")
    assert queues.job_states([job.id])[job.id].status == "queued"
    # ...write the metrics there...
    assert store.apply([("tuleap:metrics:probe", "field", 1.0)])
    assert float(master.hget("tuleap:metrics:probe", "field")) == 1.0
    # ...and open the journal's own connection (outside the pool) to it too.
    connection = queues.unpooled_connection(queues.queue_client("notifications"))
    try:
        assert connection.port == behind_sentinels.master.port
    finally:
        connection.disconnect()
    # Every caller keeps its deadlines.
    options = queues.redis_client(queues.ENQUEUE).connection_pool.connection_kwargs
    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (0.3, 0.5)
    master.flushdb()


def test_the_system_check_reports_the_master_the_replica_and_the_sentinels(
    behind_sentinels: SentinelSetup,
) -> None:
    setup = behind_sentinels
    findings = redis_sentinel.run(context())

    [report] = [f for f in findings if f.level == Level.INFO]
    assert report.details["master"] == f"127.0.0.1:{setup.master.port}"
    assert report.details["replicas"] == [f"127.0.0.1:{setup.replica.port}"]
    assert sorted(report.details["sentinels"]) == sorted(f"127.0.0.1:{s.port}" for s in setup.sentinels)
    # One replica: a failover would leave none.
    assert [f.message for f in findings if f.level == Level.WARNING] == [
        f"1 healthy replica(s) of {MASTER_NAME!r}: after a failover no replica is left until the old master "
        "is back. Run at least 2 replicas."
    ]
    # The Redis check probes the master the sentinels name (REDIS_URL's host is a closed port): it
    # wants a password and keeps an append-only file, so nothing to say.
    [answers] = redis_health.run(context())
    assert answers.level == Level.INFO
    assert answers.message == f"Redis at master {MASTER_NAME!r} of the sentinels {setup.addresses} answers."


def test_a_sentinel_that_does_not_answer_is_named(settings, sentinels: SentinelSetup) -> None:
    closed = free_port()
    point_at(settings, sentinels, ("127.0.0.1", closed))
    findings = redis_sentinel.run(context())

    [warning] = [f for f in findings if f.level == Level.WARNING and "do not answer" in f.message]
    assert f"127.0.0.1:{closed}" in warning.message
    assert any(f.level == Level.INFO and f.details.get("master") for f in findings)


def test_no_sentinel_answering_is_an_error(settings) -> None:
    settings.REDIS_SENTINEL = RedisSentinel(sentinels=(("127.0.0.1", free_port()),), master=MASTER_NAME)
    [finding] = redis_sentinel.run(context())
    assert finding.level == Level.ERROR and "No sentinel of REDIS_SENTINELS answers" in finding.message


def test_without_sentinels_the_check_says_nothing(settings) -> None:
    settings.REDIS_SENTINEL = None
    assert redis_sentinel.run(context()) == []


def test_a_client_follows_the_failover_without_a_restart(settings) -> None:
    with SentinelSetup() as setup:
        point_at(settings, setup)
        client = queues.redis_client(queues.ENQUEUE)
        client.set("before", "1")

        setup.kill_master()
        setup.wait_for_promotion()

        # It should reach the promoted replica with the same client: redis-py asks the sentinels again
        # when a connection fails (the first commands after the kill fail; none may hang).
        def written() -> bool:
            try:
                return bool(client.set("after", "1"))
            except redis.RedisError:
                return False

        assert wait_until(written, timeout=30)
        promoted = setup.replica.client()
        assert promoted.get("after") == b"1" and promoted.get("before") == b"1"

        # And the system check names the new master, and the old one (now listed as its replica) as
        # down once the sentinels have seen it silent for down-after-milliseconds.
        def reported() -> list:
            return redis_sentinel.run(context())

        assert wait_until(lambda: any("nothing to promote" in f.message for f in reported()), timeout=30)
        [report] = [f for f in reported() if f.level == Level.INFO]
        assert report.details["master"] == f"127.0.0.1:{setup.replica.port}"
        assert report.details["replicas"] == []
        assert report.details["replicas_down"][0].startswith(f"127.0.0.1:{setup.master.port} (")
        queues.reset()


def test_sentinels_with_a_password_of_their_own(settings) -> None:
    with SentinelSetup(sentinel_password="the-sentinels-own-password-0123456789") as setup:
        # With REDIS_SENTINEL_PASSWORD, it should find the master and report the topology...
        point_at(settings, setup)
        assert queues.redis_client(queues.ENQUEUE).set("found", "1")
        assert setup.master.client().get("found") == b"1"
        assert any(f.level == Level.INFO and f.details.get("master") for f in redis_sentinel.run(context()))

        # ...and without it, say that no sentinel answers (their refusal named), never hang or crash.
        point_at(settings, setup, sentinel_password="")
        [finding] = redis_sentinel.run(context())
        assert finding.level == Level.ERROR and "No sentinel of REDIS_SENTINELS answers" in finding.message
        assert "auth" in finding.message.lower()
        with pytest.raises(redis.ConnectionError):
            queues.redis_client(queues.ENQUEUE).set("found", "2")
        queues.reset()
