"""Workers per host: what every supervisor reports in Redis, next to what the workers registered there.

With several worker hosts, the pid files of ``WORKER_RUN_DIR`` only tell about the host they are on,
and a web host (where the system check often runs) has none. So each supervisor writes its view of
its workers (queue, slot, pid, name, alive) to one field of a Redis hash, keyed by its host name
(``WORKER_HOSTNAME``), every few seconds and whenever a worker dies or starts again; a clean stop
removes the field. Readers group this with RQ's own worker registrations (``Worker.hostname``, which
``MeteredWorker`` sets to ``WORKER_HOSTNAME`` too) by host name.

Why not RQ's registrations alone: a worker killed with SIGKILL stays registered until its key expires
(``worker_ttl`` + 60 s, 8 minutes by default) and an idle worker only renews its heartbeat every
``worker_ttl`` - 15 s, so Redis cannot tell a dead worker from an idle one for minutes; its supervisor
knows at once. A report that is not renewed tells that the supervisor itself is gone (killed, or its
host down): readers call it stale after ``STALE_SECONDS``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from django.conf import settings
from rq import Worker

REPORTS_KEY = "tracker:workers:hosts"
PUBLISH_INTERVAL = 5.0
# Three missed reports: the supervisor is gone (its loop publishes every PUBLISH_INTERVAL at most).
STALE_SECONDS = 3 * PUBLISH_INTERVAL
# A host that stopped reporting a week ago was most likely removed; its entry is dropped then.
FORGET_AFTER_SECONDS = 7 * 24 * 3600


def hostname() -> str:
    return settings.WORKER_HOSTNAME


@dataclass
class ReportedWorker:
    queue: str
    slot: int
    pid: int | None
    name: str
    alive: bool
    # Exits in a row within seconds of starting: a worker in a crash loop is alive only for moments.
    young_deaths: int = 0
    last_exit_status: int | None = None

    @property
    def label(self) -> str:
        return f"{self.queue} worker {self.slot}"


@dataclass
class HostReport:
    host: str
    supervisor_pid: int
    reported_at: float
    workers: list[ReportedWorker] = field(default_factory=list)

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now if now is not None else time.time()) - self.reported_at)

    def stale(self, now: float | None = None) -> bool:
        return self.age(now) > STALE_SECONDS

    def failing(self) -> list[ReportedWorker]:
        return [worker for worker in self.workers if not worker.alive or worker.young_deaths >= 2]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> HostReport:
        data = json.loads(raw)
        workers = [ReportedWorker(**worker) for worker in data.pop("workers", [])]
        return cls(**data, workers=workers)


def publish(connection: redis.Redis, report: HostReport) -> None:
    connection.hset(REPORTS_KEY, report.host, report.to_json())


def withdraw(connection: redis.Redis, host: str) -> None:
    """A clean stop: the host no longer runs workers, nothing to report as missing."""
    connection.hdel(REPORTS_KEY, host)


def read_reports(connection: redis.Redis) -> dict[str, HostReport]:
    reports: dict[str, HostReport] = {}
    forgotten: list[str] = []
    now = time.time()
    for raw_host, raw in connection.hgetall(REPORTS_KEY).items():
        host = raw_host.decode() if isinstance(raw_host, bytes) else raw_host
        try:
            report = HostReport.from_json(raw)
        except (ValueError, TypeError):
            continue  # written by another version: ignored rather than failing the status
        if report.age(now) > FORGET_AFTER_SECONDS:
            forgotten.append(host)
        else:
            reports[host] = report
    if forgotten:
        connection.hdel(REPORTS_KEY, *forgotten)
    return reports


@dataclass
class RegisteredWorker:
    """A worker as RQ registered it in Redis."""

    name: str
    host: str
    queues: list[str]
    state: str
    pid: int | None


@dataclass
class HostView:
    host: str
    report: HostReport | None
    registered: list[RegisteredWorker]

    def unsupervised(self) -> list[RegisteredWorker]:
        """Registered workers that are not the current worker of one of the supervisor's slots."""
        started = {worker.name for worker in self.report.workers} if self.report else set()
        return [worker for worker in self.registered if worker.name not in started]

    def earlier_worker_of(self, registered: RegisteredWorker) -> ReportedWorker | None:
        """The slot whose earlier worker this was (killed: RQ keeps its registration for minutes)."""
        for worker in self.report.workers if self.report else []:
            # The supervisor names them <host>.<queue>.<slot>.<random> (tracker.workers.supervisor).
            if registered.name.startswith(f"{self.host}.{worker.queue}.{worker.slot}."):
                return worker
        return None

    def registered_names(self) -> set[str]:
        return {worker.name for worker in self.registered}


def registered_workers(connection: redis.Redis) -> list[RegisteredWorker]:
    found = []
    for worker in Worker.all(connection=connection):
        found.append(
            RegisteredWorker(
                name=worker.name,
                host=worker.hostname or "unknown host",
                queues=worker.queue_names(),
                state=str(getattr(worker.get_state(), "value", worker.get_state())),
                pid=worker.pid,
            )
        )
    return found


def workers_by_host(connection: redis.Redis) -> list[HostView]:
    """Every host a supervisor reports or a registered worker names, sorted by host name."""
    reports = read_reports(connection)
    registered: dict[str, list[RegisteredWorker]] = defaultdict(list)
    for worker in registered_workers(connection):
        registered[worker.host].append(worker)
    return [
        HostView(host, reports.get(host), sorted(registered.get(host, []), key=lambda w: w.name))
        for host in sorted(set(reports) | set(registered))
    ]


def describe(view: HostView, now: float | None = None) -> list[str]:
    """The lines ``backend_workers status`` prints for one host."""
    lines = []
    report = view.report
    if report is None:
        lines.append(f"Host {view.host}: no supervisor reports from it.")
    else:
        when = f"reported {report.age(now):.0f} s ago"
        if report.stale(now):
            when += ": STALE, the supervisor stopped reporting (killed, or the host is down)"
        lines.append(f"Host {view.host}: supervisor pid {report.supervisor_pid}, {when}.")
        names = view.registered_names()
        for worker in report.workers:
            # "running", not the local part's "alive": a script counting this host's live workers in
            # the output does not count them twice.
            state = "running" if worker.alive else "NOT RUNNING"
            if worker.young_deaths >= 2:
                state += f" (crash loop: {worker.young_deaths} quick exits in a row)"
            registered = "registered" if worker.name in names else "not registered in Redis"
            lines.append(
                f"  {view.host}  {worker.queue:<15} worker {worker.slot}  pid {worker.pid}  "
                f"{state}  {worker.name}  {registered}"
            )
    for worker in view.unsupervised():
        slot = view.earlier_worker_of(worker)
        origin = (
            f"an earlier {slot.label}, gone: RQ forgets a killed worker's registration within minutes"
            if slot is not None
            else "registered in Redis, not started by a supervisor here"
        )
        lines.append(
            f"  {view.host}  {','.join(worker.queues):<15} {worker.state:<9} pid {worker.pid}  "
            f"{worker.name}  ({origin})"
        )
    return lines


def summary(views: list[HostView], now: float | None = None) -> dict[str, Any]:
    """Counts for the system check's details: per host, live and failing workers."""
    return {
        view.host: {
            "reported": view.report is not None,
            "stale": bool(view.report and view.report.stale(now)),
            "alive": sum(1 for w in view.report.workers if w.alive) if view.report else 0,
            "failing": [w.label for w in view.report.failing()] if view.report else [],
            "registered": len(view.registered),
        }
        for view in views
    }
