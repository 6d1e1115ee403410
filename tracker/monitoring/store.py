"""Counters and histograms shared by every process on every host, kept in Redis.

Each metric is one Redis hash (``tuleap:metrics:<name>``). A counter's fields are its label values
(JSON-encoded), incremented with HINCRBYFLOAT; a histogram has one field per bucket plus ``sum``,
and stores per-bucket counts that are made cumulative (and the count) when rendered. Every
process writes straight to Redis, pipelined, so a counter incremented by a forked RQ job is
there when the job's process exits, and a scrape of any web process sees every host's numbers.

Recording must never break the work it measures. Every Redis error is swallowed: the first
failure is logged (once per process, until Redis answers again), and for ``RETRY_AFTER_SECONDS``
after a failure the store does not even try (``tracker.queues.breaker``), so an unreachable Redis
costs a request nothing. Its client, with short deadlines, is ``tracker.queues``'s too.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import redis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from tracker import queues

logger = logging.getLogger(__name__)

KEY_PREFIX = "tuleap:metrics:"
# After a failure, skip Redis for this long: the events of that window are lost either way, and
# a Redis that times out must not add its timeout to every save and every email. The breaker is
# shared with the enqueue (tracker.queues), so a failure either sees spares the other the wait.
RETRY_AFTER_SECONDS = queues.BREAKER_SECONDS

T = TypeVar("T")
# (redis key, hash field, amount)
Update = tuple[str, str, float]


@dataclass
class _State:
    # Whether the last attempt failed, so an outage is logged once and the recovery once.
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def reset() -> None:
    """Forget connections and failures, as a new process would (for tests that move REDIS_URL)."""
    global _state
    _state = _State()
    queues.reset()


def _failed(error: Exception) -> None:
    with _state.lock:
        first = not _state.failing
        _state.failing = True
    if first:
        logger.error(
            "Metrics store: Redis at %s cannot be reached (%s); metrics are not recorded until it "
            "answers again (logged once).",
            queues.redis_label(settings.REDIS_URL),
            error,
        )


def _succeeded() -> None:
    if _state.failing:
        with _state.lock:
            recovered = _state.failing
            _state.failing = False
        if recovered:
            logger.warning(
                "Metrics store: Redis at %s answers again.", queues.redis_label(settings.REDIS_URL)
            )


def run(action: Callable[[redis.Redis], T]) -> T | None:
    """``action(client)``, or None when Redis failed (or failed moments ago): never raises a Redis error."""
    url = settings.REDIS_URL
    breaker = queues.breaker(url)
    if breaker.is_open():
        return None
    client = queues.redis_client(queues.METRICS, url=url)
    try:
        result = action(client)
    except redis.RedisError as error:
        breaker.trip(RETRY_AFTER_SECONDS, timed_out=queues.timed_out(error))
        _failed(error)
        return None
    breaker.close()
    _succeeded()
    return result


def is_available() -> bool:
    """Whether Redis answers now (one PING), so a scrape can skip every Redis-based collector at once."""
    return bool(run(lambda client: client.ping()))


def apply(updates: Iterable[Update]) -> bool:
    """Add every amount in one pipelined round trip; False when they were dropped."""
    updates = list(updates)
    if not updates:
        return True

    def write(client: redis.Redis) -> bool:
        pipe = client.pipeline(transaction=False)
        for key, hash_field, amount in updates:
            pipe.hincrbyfloat(key, hash_field, amount)
        pipe.execute()
        return True

    return bool(run(write))


def read(keys: Sequence[str]) -> list[dict[bytes, bytes]] | None:
    """Every hash in one round trip, or None when Redis cannot be read."""

    def fetch(client: redis.Redis) -> list[dict[bytes, bytes]]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return pipe.execute()

    return run(fetch)


def clear() -> int | None:
    """Delete every stored metric (of every version of the code); the number of keys, None on failure."""

    def delete_all(client: redis.Redis) -> int:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=500))
        return client.delete(*keys) if keys else 0

    return run(delete_all)


def _labels(labelnames: Sequence[str], labels: dict[str, str]) -> list[str]:
    if set(labels) != set(labelnames):
        raise ValueError(f"expected labels {sorted(labelnames)}, got {sorted(labels)}")
    return [str(labels[name]) for name in labelnames]


def _encode(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


@dataclass(frozen=True)
class StoredCounter:
    """A counter whose value is the sum over every process. ``name`` is exposed with ``_total``."""

    name: str
    documentation: str
    labelnames: tuple[str, ...] = ()
    # Label values shown at 0 before their first event, so that rate() and increase() see the first
    # one (a series that appears at 1 has no earlier sample to rise from).
    initial: tuple[tuple[str, ...], ...] = ((),)

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name

    def updates(self, amount: float = 1.0, **labels: str) -> list[Update]:
        return [(self.key, _encode(_labels(self.labelnames, labels)), float(amount))]

    def family(self, stored: dict[bytes, bytes] | None) -> Metric:
        """The counter's samples; none at all when the store could not be read (None)."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        if stored is None:
            return family
        values = {tuple(json.loads(encoded)): float(value) for encoded, value in stored.items()}
        for labels in self.initial:
            if len(labels) == len(self.labelnames):
                values.setdefault(labels, 0.0)
        for labels, value in sorted(values.items()):
            family.add_metric(list(labels), value)
        return family


@dataclass(frozen=True)
class StoredHistogram:
    """A histogram whose buckets, sum and count are sums over every process."""

    name: str
    documentation: str
    labelnames: tuple[str, ...]
    buckets: tuple[float, ...]

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name

    def updates(self, value: float, **labels: str) -> list[Update]:
        values = _labels(self.labelnames, labels)
        bound = next((b for b in self.buckets if value <= b), math.inf)
        return [
            (self.key, _encode([*values, floatToGoString(bound)]), 1.0),
            (self.key, _encode([*values, "sum"]), float(value)),
        ]

    def family(self, stored: dict[bytes, bytes] | None) -> Metric:
        series: dict[tuple[str, ...], dict[str, float]] = {}
        for encoded, value in (stored or {}).items():
            *values, part = json.loads(encoded)
            series.setdefault(tuple(values), {})[part] = float(value)
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        bounds = [floatToGoString(b) for b in (*self.buckets, math.inf)]
        for values, parts in sorted(series.items()):
            cumulative = 0.0
            buckets = []
            for bound in bounds:
                cumulative += parts.get(bound, 0.0)
                buckets.append((bound, cumulative))
            family.add_metric(list(values), buckets, sum_value=parts.get("sum", 0.0))
        return family
