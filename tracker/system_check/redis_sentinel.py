"""Check 4b: with Redis behind Sentinel, the master, the replicas and the sentinels the sentinels see.

Redis Sentinel promotes a replica when a majority of the sentinels (at least the quorum) agree the
master is down (redis.io, "High availability with Redis Sentinel"). So the failover the platform counts
on needs a replica to promote, and sentinels that can still form a majority when one of their hosts is
lost: the documentation's smallest sound layout is three sentinels, on three hosts. The rules here:

- no configured sentinel answers: ERROR (no client can find the master);
- the sentinels that answer disagree on the master, or know none that is up: ERROR;
- a configured sentinel does not answer: WARNING, naming it;
- fewer than 3 sentinels know the master: WARNING (losing one host stops failovers);
- no healthy replica: WARNING (a failover would have nothing to promote); one: WARNING too (after a
  failover none is left until the old master is back), two or more: fine.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from redis.sentinel import Sentinel

from tracker import queues
from tracker.system_check.base import CheckContext, Finding, Level
from tuleap_backend.redis_settings import RedisSentinel

NAME = "redis_sentinel"
MIN_SENTINELS = 3
MIN_REPLICAS = 2
# Flags that make a replica useless for a promotion (SENTINEL REPLICAS' "flags" field).
UNHEALTHY_FLAGS = {"s_down", "o_down", "disconnected"}


def _address(state: dict[str, Any]) -> str:
    return f"{state['ip']}:{state['port']}"


def _flags(state: dict[str, Any]) -> set[str]:
    """SENTINEL REPLICAS' ``flags`` field (redis-py leaves it the comma-separated string Redis sends)."""
    raw = state.get("flags", "")
    return set(raw.split(",")) if isinstance(raw, str) else set(raw)


def run(context: CheckContext) -> list[Finding]:
    config = settings.REDIS_SENTINEL
    if config is None:
        return []
    manager = queues.sentinel_manager(queues.SYSTEM_CHECK)
    try:
        return _findings(manager, config)
    finally:
        manager.close()


def _findings(manager: Sentinel, config: RedisSentinel) -> list[Finding]:
    findings: list[Finding] = []
    answered: list[tuple[str, redis.Redis, dict[str, Any]]] = []
    silent: list[str] = []
    for (host, port), sentinel in zip(config.sentinels, manager.sentinels, strict=True):
        name = f"{host}:{port}"
        try:
            answered.append((name, sentinel, sentinel.sentinel_master(config.master)))
        except (redis.RedisError, OSError) as error:
            silent.append(f"{name} ({error})")
    if not answered:
        return [
            Finding(
                NAME,
                Level.ERROR,
                f"No sentinel of REDIS_SENTINELS answers about {config.master!r}: "
                f"{'; '.join(silent)}. Nothing can find the Redis master: start the sentinels, or fix "
                "REDIS_SENTINELS, REDIS_SENTINEL_MASTER or REDIS_SENTINEL_PASSWORD.",
                {"sentinels_silent": silent},
            )
        ]
    if silent:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"Sentinels of REDIS_SENTINELS that do not answer: {'; '.join(silent)}.",
                {"sentinels_silent": silent},
            )
        )

    masters = {_address(state) for _, _, state in answered if state.get("is_master")}
    down = [name for name, _, state in answered if state.get("is_sdown") or state.get("is_odown")]
    if len(masters) != 1 or down:
        seen = ", ".join(f"{name} says {_address(state)}" for name, _, state in answered)
        findings.append(
            Finding(
                NAME,
                Level.ERROR,
                f"The sentinels do not agree on one master that is up ({seen}; down according to: "
                f"{', '.join(down) or 'none'}): a failover may be under way, or the sentinels are split.",
                {"masters": sorted(masters), "down_according_to": down},
            )
        )
        return findings
    [master] = masters

    # The sentinels' own view of each other and of the replicas, from the first that answered.
    _, asked, state = answered[0]
    replicas = asked.sentinel_slaves(config.master)
    peers = asked.sentinel_sentinels(config.master)
    healthy = [_address(r) for r in replicas if not UNHEALTHY_FLAGS & _flags(r)]
    unhealthy = [
        f"{_address(r)} ({','.join(sorted(_flags(r)))})" for r in replicas if _address(r) not in healthy
    ]
    sentinels = sorted({answered[0][0], *(_address(peer) for peer in peers)})
    details = {
        "master": master,
        "replicas": healthy,
        "replicas_down": unhealthy,
        "sentinels": sentinels,
        "quorum": int(state.get("quorum", 0)),
    }
    findings.append(
        Finding(
            NAME,
            Level.INFO,
            f"Redis master {config.master!r} is {master}; replicas: {', '.join(healthy) or 'none'}"
            + (f" (down: {', '.join(unhealthy)})" if unhealthy else "")
            + f"; sentinels: {', '.join(sentinels)} (quorum {details['quorum']}).",
            details,
        )
    )
    if len(sentinels) < MIN_SENTINELS:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"Only {len(sentinels)} sentinel(s) watch {config.master!r}: a failover needs a majority of "
                f"them, so losing one host stops failovers. Run at least {MIN_SENTINELS}, on separate hosts.",
                details,
            )
        )
    if len(healthy) < MIN_REPLICAS:
        consequence = (
            "a failover has nothing to promote"
            if not healthy
            else "after a failover no replica is left until the old master is back"
        )
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"{len(healthy)} healthy replica(s) of {config.master!r}: {consequence}. "
                f"Run at least {MIN_REPLICAS} replicas.",
                details,
            )
        )
    return findings
