"""Check 4: Redis answers, cannot be used by strangers, and keeps the jobs it is given.

Queued notification jobs live only in Redis: a Redis without a password is open to anyone on the
network, one without an append-only file loses the queue on restart, and one that evicts keys under
memory pressure drops jobs silently.
"""

from __future__ import annotations

import redis
from redis.connection import parse_url

from tracker import queues
from tracker.notifications.routing import async_enabled
from tracker.system_check.base import CheckContext, Finding, Level, RedisUnavailable

NAME = "redis"
MIN_PASSWORD_LENGTH = 30


def run(context: CheckContext) -> list[Finding]:
    try:
        client = context.redis()
    except RedisUnavailable as error:
        return [unreachable(error)]
    findings = [Finding(NAME, Level.INFO, f"Redis at {context.redacted_redis_url} answers.")]
    findings += check_authentication(context)
    findings += check_persistence_and_eviction(client)
    return findings


def unreachable(error: RedisUnavailable) -> Finding:
    if async_enabled():
        return Finding(
            NAME,
            Level.ERROR,
            f"{error} ASYNC_EMAILS is on: notifications fall back to being sent in the request, and "
            "records left pending wait for Redis. Start Redis or fix REDIS_URL.",
        )
    return Finding(
        NAME, Level.WARNING, f"{error} ASYNC_EMAILS is off, but Jira imports cannot run until it answers."
    )


def check_authentication(context: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    if anonymous_connection_accepted(context.redis_url):
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                "Redis accepts connections without a password: anyone who reaches it can read and "
                f"inject jobs. Set requirepass (at least {MIN_PASSWORD_LENGTH} characters) and put the "
                "password in REDIS_URL (redis://:PASSWORD@host:6379/0).",
            )
        )
    password = parse_url(context.redis_url).get("password") or ""
    if password and len(password) < MIN_PASSWORD_LENGTH:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"The Redis password is {len(password)} characters long; use at least "
                f"{MIN_PASSWORD_LENGTH} random characters (Redis answers fast enough to be brute-forced).",
            )
        )
    return findings


def anonymous_connection_accepted(redis_url: str) -> bool:
    """Whether a second connection to the same server, without credentials, may run commands."""
    with queues.anonymous_client(redis_url) as anonymous:
        try:
            anonymous.ping()
        except (redis.AuthenticationError, redis.exceptions.NoPermissionError):
            return False  # NOAUTH: the server wants a password (or its default user may run nothing).
    return True


def check_persistence_and_eviction(client: redis.Redis) -> list[Finding]:
    findings: list[Finding] = []
    try:
        config = client.config_get("appendonly")
        config.update(client.config_get("maxmemory-policy"))
        appendonly = config.get("appendonly") == "yes"
        policy = config.get("maxmemory-policy", "")
    except redis.ResponseError as error:
        # Managed Redis services rename or forbid CONFIG; INFO says the same things.
        findings.append(
            Finding(
                NAME,
                Level.INFO,
                f"CONFIG GET is refused ({error}), as on managed Redis services: "
                "read INFO persistence and INFO memory instead.",
            )
        )
        appendonly = int(client.info("persistence").get("aof_enabled", 0)) == 1
        policy = str(client.info("memory").get("maxmemory_policy", ""))
    if not appendonly:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                "Redis runs without an append-only file: a restart loses every queued job. "
                "Set appendonly yes in redis.conf.",
                {"appendonly": False},
            )
        )
    if policy != "noeviction":
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"Redis evicts keys when its memory is full (maxmemory-policy {policy}), dropping queued "
                "jobs silently. Set maxmemory-policy noeviction in redis.conf.",
                {"maxmemory_policy": policy},
            )
        )
    return findings
