"""``manage.py rqworker <queue>``: django-rq's worker command, logging to WORKER_LOG and warmed up.

Before django-rq's command takes over, it checks the queue names, sends the log to WORKER_LOG
(``tracker.workers.logs``) and loads what each job would otherwise load again
(``tracker.workers.warmup``).

Without a queue name django-rq would work on a ``default`` queue we do not have and die with a
traceback; a worker on all our queues at once is not an answer either: RQ only protects the job in
progress (BLMOVE into an intermediate queue) when a worker listens to exactly one queue, and our two
queues want different worker classes. So it says which command to run instead: the supervisor, or one
worker per queue with ``manage.py notifications_sweep`` beside them (the recovery the supervisor runs).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django_rq.management.commands import rqworker

from tracker.workers.logs import configure_worker_logging
from tracker.workers.warmup import warm_up


def check_queue_names(names: tuple[str, ...], command: str = "rqworker") -> None:
    """Refuse, in one line saying what to run, no queue name or a queue we do not have."""
    known = ", ".join(settings.RQ_QUEUES)
    if not names:
        raise CommandError(
            f"Name the queue to work on, one of: {known}; for example `manage.py {command} "
            f"{settings.NOTIFICATIONS_QUEUE}` (with `manage.py notifications_sweep` beside hand-run "
            "workers). To run the workers of every queue, run `manage.py backend_workers start`.",
            returncode=2,
        )
    unknown = [name for name in names if name not in settings.RQ_QUEUES]
    if unknown:
        raise CommandError(f"No queue named {', '.join(unknown)}; the queues are: {known}.", returncode=2)


def prepare_worker_process() -> None:
    """What a worker process does before it works: log to WORKER_LOG, then warm up."""
    configure_worker_logging(console=False)
    # Load once what each job's forked work horse would otherwise load again.
    warm_up()


class Command(rqworker.Command):
    help = (
        "Run one RQ worker on the queue named (notifications, jira_import or incoming_email), logging to "
        "WORKER_LOG. "
        "A queue name is required: RQ only protects the job in progress when a worker listens to one "
        "queue. `manage.py backend_workers start` runs the workers of every queue and their recovery "
        "sweep; beside hand-run workers, run `manage.py notifications_sweep`."
    )

    def execute(self, *args: Any, **options: Any) -> Any:
        # Before Django's own checks, whose warnings would bury the one line that matters.
        check_queue_names(args)
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_worker_process()
        super().handle(*args, **options)
