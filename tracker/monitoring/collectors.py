"""What one scrape of ``/metrics`` shows, computed when Prometheus asks.

- the counters and histograms every process stored in Redis (``store``);
- gauges of the current state: counts from the database (aggregate queries served by indexes,
  never rows loaded into Python) and queue lengths and live workers from Redis;
- django-prometheus's request, database and cache metrics (this process's registry) and
  django-rq's RQ collector.

A source that fails is left out and the rest is still served: with Redis down, the scrape answers
with the database gauges and ``tuleap_redis_up 0``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric, UnknownMetricFamily
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from tracker import queues
from tracker.monitoring import store
from tracker.monitoring.metrics import STORED_METRICS

logger = logging.getLogger(__name__)

PACKAGE_NAME = "tuleap-backend"
# Reported for every queue even when zero, so "no live worker" is a value, not a missing series.
WORKER_STATES_ALWAYS_SHOWN = ("idle", "busy")
# django-rq times its collector with a Summary named ``..._total``, which breaks the Prometheus
# naming rules (``promtool check metrics`` rejects it); the RQ metrics themselves are kept.
HIDDEN_DEFAULT_METRICS = frozenset({"rq_request_processing_seconds_total"})

Collect = Callable[[], Iterable[Metric]]


@functools.cache
def build_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE_NAME)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


# Counts in the name (``_total``, ``_count``) but not counters: they are current totals that may
# go down. Prometheus's naming lint reserves those suffixes for counters and histograms, except
# for untyped metrics, hence "untyped" rather than "gauge".
def _untyped(name: str, documentation: str, value: float) -> Metric:
    return UnknownMetricFamily(name, documentation, value=value)


def collect_database() -> Iterator[Metric]:
    from tracker.models import Artifact, Changeset, NotificationRecord, Project, SystemEvent, User

    yield _untyped("tuleap_users_total", "User accounts (active or not).", User.objects.count())

    projects = UnknownMetricFamily(
        "tuleap_projects_total", "Projects by type: public or private.", labels=["type"]
    )
    by_visibility = dict(Project.objects.order_by().values_list("is_public").annotate(n=Count("*")))
    projects.add_metric(["public"], by_visibility.get(True, 0))
    projects.add_metric(["private"], by_visibility.get(False, 0))
    yield projects

    yield _untyped("tuleap_tracker_artifacts_count", "Artifacts stored now.", Artifact.objects.count())
    yield _untyped(
        "tuleap_tracker_artifact_changesets_count",
        "Artifact changesets stored now.",
        Changeset.objects.count(),
    )

    # Two queries, not one: the count walks an index, the oldest is one step into the partial index
    # over unfinished records (ended_at IS NULL); together, the planners scan the table instead.
    unfinished = NotificationRecord.objects.filter(ended_at__isnull=True)
    yield GaugeMetricFamily(
        "tuleap_notifications_pending",
        "Notification records not ended yet (emails owed for a changeset).",
        value=unfinished.count(),
    )
    oldest = unfinished.aggregate(oldest=Min("created_at"))["oldest"]
    age = timezone.now() - oldest if oldest else timedelta(0)
    yield GaugeMetricFamily(
        "tuleap_notifications_oldest_pending_age_seconds",
        "Age of the oldest notification record not ended yet; 0 when none is pending.",
        value=max(age.total_seconds(), 0.0),
    )
    waiting = NotificationRecord.objects.filter(ended_at__isnull=True, next_attempt_at__isnull=False)
    yield GaugeMetricFamily(
        "tuleap_notifications_retrying",
        "Notification records waiting for their next attempt after a transient error (or the author's "
        "hourly limit).",
        value=waiting.filter(status=NotificationRecord.Status.RETRY).count(),
    )
    yield GaugeMetricFamily(
        "tuleap_notifications_oldest_due_age_seconds",
        "How long the most overdue notification record has been due without a sender: since its retry "
        "time, or since its creation if it never started; 0 when none is overdue.",
        value=oldest_due_age(unfinished),
    )
    yield GaugeMetricFamily(
        "tuleap_notifications_failed",
        "Notification records that ended failed (until the system check purges them).",
        value=NotificationRecord.objects.filter(status=NotificationRecord.Status.FAILED).count(),
    )

    events = UnknownMetricFamily(
        "tuleap_system_events_count", "System events stored now, by status.", labels=["status"]
    )
    by_status = dict(SystemEvent.objects.order_by().values_list("status").annotate(n=Count("*")))
    for status in SystemEvent.Status.values:
        events.add_metric([status], by_status.get(status, 0))
    yield events


def oldest_due_age(unfinished: QuerySet) -> float:
    """Seconds since the oldest due record became due (two index range reads, no rows loaded)."""
    from tracker.models import NotificationRecord

    now = timezone.now()
    never_started = unfinished.filter(status=NotificationRecord.Status.PENDING, next_attempt_at__isnull=True)
    first_due = [
        never_started.aggregate(oldest=Min("created_at"))["oldest"],
        unfinished.filter(next_attempt_at__lte=now, status=NotificationRecord.Status.RETRY).aggregate(
            oldest=Min("next_attempt_at")
        )["oldest"],
    ]
    found = [moment for moment in first_due if moment is not None]
    return max((now - min(found)).total_seconds(), 0.0) if found else 0.0


def collect_stored(redis_up: bool) -> Iterator[Metric]:
    stored = store.read([metric.key for metric in STORED_METRICS]) if redis_up else None
    for index, metric in enumerate(STORED_METRICS):
        yield metric.family(stored[index] if stored is not None else None)


def _queues_and_workers(client: redis.Redis) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    names = list(settings.RQ_QUEUES)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(queues.rq_queue(name, connection=client).key)
        pipe.smembers(WORKERS_BY_QUEUE_KEY % name)
    replies = pipe.execute()
    waiting = dict(zip(names, replies[0::2], strict=True))
    registered = dict(zip(names, replies[1::2], strict=True))

    # A worker is live while its key exists: rq refreshes its TTL with every heartbeat.
    pipe = client.pipeline(transaction=False)
    order = [(name, key) for name in names for key in sorted(registered[name])]
    for _, key in order:
        pipe.hget(key, "state")
    states: dict[str, dict[str, int]] = {name: dict.fromkeys(WORKER_STATES_ALWAYS_SHOWN, 0) for name in names}
    for (name, _), state in zip(order, pipe.execute() if order else [], strict=True):
        if state is not None:
            label = state.decode()
            states[name][label] = states[name].get(label, 0) + 1
    return waiting, states


def collect_queues(redis_up: bool) -> Iterator[Metric]:
    waiting_family = GaugeMetricFamily(
        "tuleap_worker_events", "Jobs waiting in each queue now.", labels=["queue"]
    )
    workers_family = GaugeMetricFamily(
        "tuleap_workers", "Live backend workers listening on each queue, by state.", labels=["queue", "state"]
    )
    found = store.run(_queues_and_workers) if redis_up else None
    if found is not None:
        waiting, states = found
        for queue, count in waiting.items():
            waiting_family.add_metric([queue], count)
        for queue, by_state in states.items():
            for state, count in sorted(by_state.items()):
                workers_family.add_metric([queue, state], count)
    yield waiting_family
    yield workers_family


def collect_rq(redis_up: bool) -> Iterator[Metric]:
    from django_rq.contrib.prometheus import RQCollector

    if redis_up and RQCollector is not None:
        yield from RQCollector().collect()


def collect_process() -> Iterator[Metric]:
    """django-prometheus's metrics of this process (or of every process in multiprocess mode)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        yield from registry.collect()
        return
    for metric in REGISTRY.collect():
        if metric.name not in HIDDEN_DEFAULT_METRICS:
            yield metric


class _Scrape:
    """Every source of one scrape; a source that fails is logged and left out."""

    def __init__(self, sources: list[tuple[str, Collect]]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for name, source in self.sources:
            try:
                # Materialized first so a failure halfway leaves nothing half-written.
                metrics = list(source())
            except (DatabaseError, redis.RedisError) as error:
                logger.error("/metrics: %s left out: %s", name, error)
                continue
            except Exception:
                logger.exception("/metrics: %s left out", name)
                continue
            yield from metrics


def scrape() -> bytes:
    """The whole exposition in the Prometheus text format."""
    redis_up = store.is_available()

    def status() -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "tuleap_redis_up",
            "Whether Redis (queues and metrics store) answered this scrape.",
            value=1 if redis_up else 0,
        )
        info = GaugeMetricFamily(
            "tuleap_build_info", "The running version of the platform.", labels=["version"]
        )
        info.add_metric([build_version()], 1)
        yield info

    scrape = _Scrape(
        [
            ("status", status),
            ("stored counters and histograms", lambda: collect_stored(redis_up)),
            ("database gauges", collect_database),
            ("queue gauges", lambda: collect_queues(redis_up)),
            ("django-rq collector", lambda: collect_rq(redis_up)),
            ("process metrics", collect_process),
        ]
    )
    return generate_latest(scrape)  # type: ignore[arg-type]
