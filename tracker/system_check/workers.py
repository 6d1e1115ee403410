"""Check 3: the RQ side — live workers on every queue and per host, failed jobs, a queue nobody empties."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from rq import Queue, Worker

from tracker import queues
from tracker.email_gateway import config as gateway
from tracker.notifications.routing import async_enabled
from tracker.system_check.base import (
    CheckContext,
    Finding,
    Level,
    RedisUnavailable,
    humanize_duration,
)
from tracker.workers import hosts

NAME = "workers"


def run(context: CheckContext) -> list[Finding]:
    try:
        connection = context.redis()
    except RedisUnavailable:
        # The redis check already reports it, at the level it deserves.
        return [Finding(NAME, Level.INFO, "Skipped: Redis cannot be reached (see the redis check).")]
    findings: list[Finding] = []
    for name in settings.RQ_QUEUES:
        if name == settings.INCOMING_EMAIL_QUEUE and not gateway.enabled():
            continue  # no workers are planned on it
        queue = queues.rq_queue(name, connection=connection)
        findings += check_queue(context, queue)
    findings += check_hosts(hosts.workers_by_host(connection))
    return findings


def check_hosts(views: list[hosts.HostView]) -> list[Finding]:
    """Per host (WORKER_HOSTNAME): its supervisor's report and the workers registered with its name."""
    findings: list[Finding] = []
    details = {"hosts": hosts.summary(views)}
    for view in views:
        report = view.report
        if report is None:
            findings.append(
                Finding(
                    NAME,
                    Level.INFO,
                    f"Host {view.host}: {len(view.registered)} workers registered in Redis, no supervisor "
                    "reports from it (workers run by hand, or by a supervisor of an older version).",
                    details,
                )
            )
            continue
        if report.stale():
            findings.append(
                Finding(
                    NAME,
                    Level.WARNING,
                    f"Host {view.host}: its supervisor (pid {report.supervisor_pid}) has not reported for "
                    f"{humanize_duration(timedelta(seconds=report.age()))}: it was killed or the host is "
                    "down. Start it again there (manage.py backend_workers start, or its systemd unit); "
                    "a host taken out of service is forgotten after a week.",
                    details,
                )
            )
        for worker in report.failing():
            crash_loop = worker.young_deaths >= 2
            findings.append(
                Finding(
                    NAME,
                    Level.ERROR if crash_loop else Level.WARNING,
                    f"Host {view.host}: {worker.label} ({worker.name}) "
                    + (
                        f"keeps exiting right after it starts ({worker.young_deaths} times in a row, last "
                        f"status {worker.last_exit_status})"
                        if crash_loop
                        else f"is not running (last exit status {worker.last_exit_status}); its "
                        "supervisor starts it again within seconds"
                    )
                    + f": read the worker log on {view.host} ({settings.WORKER_LOG} there by default).",
                    details,
                )
            )
        alive = [worker for worker in report.workers if worker.alive]
        per_queue = ", ".join(
            f"{queue} {sum(1 for worker in alive if worker.queue == queue)}"
            for queue in dict.fromkeys(worker.queue for worker in report.workers)
        )
        findings.append(
            Finding(
                NAME,
                Level.INFO,
                f"Host {view.host}: {len(alive)} of {len(report.workers)} workers running "
                f"({per_queue or 'none planned'}), {len(view.registered)} registered in Redis.",
                details,
            )
        )
    return findings


def check_queue(context: CheckContext, queue: Queue) -> list[Finding]:
    findings: list[Finding] = []
    # A worker's key expires worker_ttl + 60 s (8 minutes by default) after its last heartbeat, so
    # a worker killed with SIGKILL still counts as live for up to that long.
    workers = Worker.all(queue=queue)
    waiting = queue.count
    failed = queue.failed_job_registry.count
    details = {"queue": queue.name, "workers": len(workers), "waiting": waiting, "failed": failed}
    needed_because = (
        "the email gateway is on" if queue.name == settings.INCOMING_EMAIL_QUEUE else "ASYNC_EMAILS is on"
    )
    if not workers and (async_enabled() or queue.name == settings.INCOMING_EMAIL_QUEUE):
        findings.append(
            Finding(
                NAME,
                Level.ERROR,
                f"No live worker listens on the {queue.name} queue although {needed_because}: "
                "start them with manage.py backend_workers start (or its systemd unit) and read "
                f"their log file ({settings.WORKER_LOG}).",
                details,
            )
        )
    if failed:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"{failed} jobs are in the failed job registry of the {queue.name} queue: read their "
                "errors in the Django admin (Django RQ) or with manage.py rqstats. Their work is not lost: "
                "notifications are on their retry schedule or reported failed (manage.py "
                "resend_notifications --failed sends those again), Jira imports are resumed or ended.",
                details,
            )
        )
    oldest_wait = oldest_job_wait(context, queue)
    threshold = timedelta(seconds=settings.NOTIFICATION_PENDING_THRESHOLD)
    if oldest_wait is not None and oldest_wait > threshold:
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"{waiting} jobs are waiting on the {queue.name} queue and the oldest was enqueued "
                f"{humanize_duration(oldest_wait)} ago: the workers are stuck or cannot keep up "
                "(NB_BACKEND_WORKERS).",
                {**details, "oldest_wait_seconds": int(oldest_wait.total_seconds())},
            )
        )
    findings.append(
        Finding(
            NAME,
            Level.INFO,
            f"Queue {queue.name}: {len(workers)} live workers, {waiting} jobs waiting, {failed} failed.",
            details,
        )
    )
    return findings


def oldest_job_wait(context: CheckContext, queue: Queue) -> timedelta | None:
    # Jobs are pushed at the right and popped from the left: the first one has waited longest.
    for job_id in queue.get_job_ids(0, 1):
        job = queue.fetch_job(job_id)
        if job is not None and job.enqueued_at is not None:
            return context.now - job.enqueued_at
    return None
