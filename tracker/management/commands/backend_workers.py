"""``manage.py backend_workers start|stop|status``: the supervisor of the RQ workers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker import queues
from tracker.workers import hosts, pidfiles, supervisor
from tracker.workers.logs import configure_worker_logging


class Command(BaseCommand):
    help = (
        "Run the backend workers: `start` (in the foreground, for a service manager), `stop` (signal "
        "the running supervisor and wait), `status` (exit status 0 when every worker runs, 1 when one "
        "is down, 3 when the supervisor is not running)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="stop: seconds to wait for the workers to finish their jobs (default: job timeout + 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # WORKER_LOG and the console (the service manager's journal), with the supervisor's own lines.
        configure_worker_logging(console=True)
        action = options["action"]
        if action == "start":
            self.start()
        elif action == "stop":
            self.stop(options["timeout"] or settings.NOTIFICATION_JOB_TIMEOUT + 60)
        else:
            self.status()

    def start(self) -> None:
        try:
            supervisor.Supervisor().run()
        except pidfiles.AlreadyRunning as error:
            raise CommandError(str(error)) from None

    def stop(self, timeout: float) -> None:
        pid = pidfiles.running_supervisor_pid()
        if pid is None:
            self.stdout.write("The backend workers are not running.")
            return
        self.stdout.write(
            f"Stopping the backend workers (supervisor pid {pid}); jobs in progress complete first…"
        )
        if not pidfiles.request_stop(timeout):
            raise CommandError(f"The supervisor (pid {pid}) is still running after {timeout:.0f} s.")
        self.stdout.write("Stopped.")

    def status(self) -> None:
        """This host's supervisor and workers (its pid files), then every host's (what Redis says).

        The exit status is this host's: a web host with no supervisor exits 3 after listing the others.
        """
        pid = pidfiles.running_supervisor_pid()
        planned = supervisor.planned_workers()
        plan = ", ".join(f"{count} on {queue}" for queue, count in planned.items()) or "no worker"
        if pid is None:
            self.stdout.write(
                f"The backend workers are not running (host {hosts.hostname()}, planned: {plan})."
            )
            self.all_hosts()
            raise SystemExit(3)
        self.stdout.write(f"Supervisor: running, pid {pid} (host {hosts.hostname()}, planned: {plan}).")
        try:
            self.this_host(planned)
        finally:
            self.all_hosts()

    def all_hosts(self) -> None:
        try:
            client = queues.new_client(settings.REDIS_URL, queues.SYSTEM_CHECK)
            try:
                views = hosts.workers_by_host(client)
            finally:
                client.close()
        except Exception as error:  # Redis down: this host's part above still stands
            self.stdout.write(f"Workers by host: Redis cannot be reached ({type(error).__name__}: {error}).")
            return
        self.stdout.write(f"Workers by host ({len(views)} host(s), from Redis):")
        for view in views:
            for line in hosts.describe(view):
                self.stdout.write(line)

    def this_host(self, planned: dict[str, int]) -> None:
        states = pidfiles.worker_states()
        for state in states:
            alive = "alive" if state.alive else "NOT RUNNING"
            self.stdout.write(
                f"  {state.queue:<15} worker {state.slot}  pid {state.pid}  {alive}  {state.name}"
            )
        running = sum(1 for state in states if state.alive)
        if running < sum(planned.values()):
            self.stdout.write(f"{running} of {sum(planned.values())} workers running.")
            raise SystemExit(1)
