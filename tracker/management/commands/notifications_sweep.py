"""``manage.py notifications_sweep [--once]``: the recovery loop, for workers run by hand.

``backend_workers start`` runs the same sweep itself. A setup that starts ``manage.py rqworker
notifications`` by hand runs this beside it (or ``--once`` from a timer): it hands lost, due and
abandoned notifications to new jobs, resumes or ends Jira imports left behind, and does the Redis-side
chores the supervisor would (RQ's registry maintenance, moving due retries to their queue).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from tracker.workers import maintenance, sweep
from tracker.workers.logs import configure_worker_logging
from tracker.workers.supervisor import MAINTENANCE_INTERVAL, SCHEDULE_INTERVAL


class Command(BaseCommand):
    help = (
        "Recover notifications (and Jira imports) that nothing else will send: jobs Redis lost, retries "
        "that are due, work of a worker that was killed. Runs every NOTIFICATION_SWEEP_INTERVAL until "
        "stopped, or once with --once (exit status 1 when Redis or the database cannot be reached). "
        "`manage.py backend_workers start` runs it already; use this with hand-run `rqworker`s."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One sweep, then exit (for a timer).")

    def handle(self, *args: Any, **options: Any) -> None:
        configure_worker_logging(console=True)
        self.host = f"sweep-{socket.gethostname()}-{os.getpid()}"
        self.schedulers: dict[str, Any] = {}
        if options["once"]:
            outcome = self.chores_and_sweep()
            self.stdout.write(f"Recovery sweep: {outcome}.")
            if outcome == "failed":
                raise SystemExit(1)
            return
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        sweeper = sweep.Sweeper(self.host)
        next_schedule = next_maintenance = 0.0
        while not self.stopping:
            now = time.monotonic()
            if now >= next_maintenance:
                next_maintenance = now + MAINTENANCE_INTERVAL
                self.chores(maintenance_too=True)
            elif now >= next_schedule:
                next_schedule = now + SCHEDULE_INTERVAL
                self.chores(maintenance_too=False)
            sweeper.tick()
            time.sleep(0.25)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def chores(self, *, maintenance_too: bool) -> None:
        """What the supervisor does for its workers: registry maintenance, due retries to their queue."""
        for name in settings.RQ_QUEUES:
            try:
                if maintenance_too:
                    maintenance.clean_queue_registries(name, worker_name=self.host)
                scheduler = self.schedulers.get(name)
                if scheduler is None:
                    scheduler = self.schedulers[name] = maintenance.scheduler_for(
                        name, scheduler_name=f"{self.host}-{name}"
                    )
                maintenance.enqueue_due_jobs(scheduler)
            except Exception as error:  # Redis down: the sweep says so; try again next round
                self.stderr.write(f"Queue maintenance of {name} failed: {type(error).__name__}: {error}")
            finally:
                close_old_connections()

    def chores_and_sweep(self) -> str:
        self.chores(maintenance_too=True)
        return sweep.run_once(self.host)
