"""Check 4, against real redis-server processes configured well and badly."""

from __future__ import annotations

from tests.support.redis_server import RedisServer, free_port
from tests.system_check.conftest import GOOD_PASSWORD, context
from tracker.system_check import redis_health
from tracker.system_check.base import Finding, Level
from tuleap_backend.env import AsyncEmails


def problems(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level != Level.INFO]


def test_a_well_kept_redis_raises_nothing(well_kept_redis: RedisServer) -> None:
    findings = redis_health.run(context(well_kept_redis.url))

    assert problems(findings) == []
    assert findings[0].message == f"Redis at redis://:***@127.0.0.1:{well_kept_redis.port}/0 answers."


def test_a_redis_without_password_is_reported() -> None:
    with RedisServer("--appendonly", "yes", password=None) as server:
        findings = redis_health.run(context(server.url))

    [problem] = problems(findings)
    assert problem.startswith("Redis accepts connections without a password")


def test_a_password_shorter_than_30_characters_is_reported() -> None:
    with RedisServer("--appendonly", "yes", password="only-20-characters!!") as server:
        findings = redis_health.run(context(server.url))

    # Anonymous connections get NOAUTH, so only the length is wrong.
    assert problems(findings) == [
        "The Redis password is 20 characters long; use at least 30 random characters "
        "(Redis answers fast enough to be brute-forced)."
    ]


def test_a_redis_without_append_only_file_is_reported() -> None:
    with RedisServer("--appendonly", "no", password=GOOD_PASSWORD) as server:
        findings = redis_health.run(context(server.url))

    [problem] = problems(findings)
    assert problem.startswith("Redis runs without an append-only file: a restart loses every queued job.")


def test_an_evicting_redis_is_reported() -> None:
    with RedisServer(
        "--appendonly", "yes", "--maxmemory-policy", "allkeys-lru", password=GOOD_PASSWORD
    ) as server:
        findings = redis_health.run(context(server.url))

    [problem] = problems(findings)
    assert problem.startswith("Redis evicts keys when its memory is full (maxmemory-policy allkeys-lru)")


def test_without_config_the_check_reads_info_and_says_so() -> None:
    # Managed Redis services rename CONFIG away; the same facts come from INFO.
    args = ("--rename-command", "CONFIG", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
    with RedisServer(*args, password=GOOD_PASSWORD) as server:
        findings = redis_health.run(context(server.url))

    infos = [f.message for f in findings if f.level == Level.INFO]
    assert any(
        m.startswith("CONFIG GET is refused") and "INFO persistence and INFO memory" in m for m in infos
    )
    [no_append_only, evicting] = problems(findings)
    assert no_append_only.startswith("Redis runs without an append-only file")
    assert evicting.startswith("Redis evicts keys when its memory is full (maxmemory-policy allkeys-lru)")


def test_without_config_a_well_kept_redis_raises_nothing() -> None:
    args = ("--rename-command", "CONFIG", "", "--appendonly", "yes")
    with RedisServer(*args, password=GOOD_PASSWORD) as server:
        assert problems(redis_health.run(context(server.url))) == []


def test_an_unreachable_redis_is_an_error_when_async_work_is_configured(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    port = free_port()

    [finding] = redis_health.run(context(f"redis://:{GOOD_PASSWORD}@127.0.0.1:{port}/0"))

    assert finding.level == Level.ERROR
    assert finding.message.startswith(f"Redis at redis://:***@127.0.0.1:{port}/0 cannot be reached")
    # The password never appears in a finding.
    assert GOOD_PASSWORD not in finding.message


def test_wrong_credentials_are_an_error_when_async_work_is_configured(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset({3}))
    with RedisServer("--appendonly", "yes", password=GOOD_PASSWORD) as server:
        wrong = server.url.replace(GOOD_PASSWORD, "not-the-password-at-all-0123456789")
        [finding] = redis_health.run(context(wrong))

    assert finding.level == Level.ERROR
    assert "refused the credentials of REDIS_URL" in finding.message
    assert "not-the-password" not in finding.message


def test_an_unreachable_redis_is_only_a_warning_while_notifications_are_inline(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())

    [finding] = redis_health.run(context(f"redis://127.0.0.1:{free_port()}/0"))

    # Only the Jira import still needs it.
    assert finding.level == Level.WARNING
    assert "Jira imports cannot run" in finding.message
