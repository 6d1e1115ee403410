"""The backend worker supervisor behind ``manage.py backend_workers start|stop|status``.

``start`` runs in the foreground (a service manager, or ``make run``, runs it). It starts the planned
``manage.py rqworker <queue> --with-scheduler`` processes, each on exactly one queue (RQ only protects
an in-flight job when a worker listens to one queue), restarts a worker that died within seconds, and
on SIGTERM (or Ctrl-C) asks every worker for a warm shutdown: the job in progress completes.

Its pid file and its workers' (in ``WORKER_RUN_DIR``, locked so a stale one is recognised) are
``tracker.workers.pidfiles``'s, which ``status`` and ``stop`` read too.

Every few seconds the supervisor also runs RQ's registry maintenance, which workers only do every
ten minutes: a job whose worker was killed is retried (or failed) about a minute and a half after its
last heartbeat instead of up to ten minutes later. And it stands in for RQ's scheduler while no live
worker runs one (the worker that ran it was killed), so retries leave on time. Both, the Redis side of
the supervisor, are in ``tracker.workers.maintenance``.

And it runs the recovery sweep (``tracker.workers.sweep``) every NOTIFICATION_SWEEP_INTERVAL, one host
at a time: notifications whose job Redis lost, whose retry is due or whose worker died are handed to a
new job, and Jira imports left behind are resumed or ended, with no operator.

It reports its workers' state to Redis for ``backend_workers status`` and the system check of every
host (``tracker.workers.hosts``), under ``WORKER_HOSTNAME``, the host name its workers register with.

Its log: ``manage.py backend_workers`` sends it to WORKER_LOG and the console
(``tracker.workers.logs``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from tracker import queues
from tracker.email_gateway import config as gateway
from tracker.notifications.routing import async_enabled
from tracker.workers import hosts, maintenance, pidfiles, sweep

logger = logging.getLogger("tracker.workers.supervisor")

POLL_INTERVAL = 0.25
# A worker that dies is started again after this pause, doubled while it keeps dying young (a crash
# loop, say Redis is down), and never more than RESTART_DELAY_MAX: always within five seconds.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 4.0
YOUNG_DEATH_SECONDS = 10.0
MAINTENANCE_INTERVAL = 15.0
SCHEDULE_INTERVAL = 1.0
# After the grace period, workers still busy get a second SIGTERM (RQ's cold shutdown), then SIGKILL.
COLD_SHUTDOWN_SECONDS = 10.0


def planned_workers() -> dict[str, int]:
    """Queue name -> number of workers, by the rules of NB_BACKEND_WORKERS and ASYNC_EMAILS.

    NB_BACKEND_WORKERS workers in all, at least one when ASYNC_EMAILS is on. Each works on one queue;
    every queue gets one as long as there are enough, in this order: notifications first when
    ASYNC_EMAILS is on (the Jira import queue first otherwise); the rest go to notifications. The email
    gateway's queue gets EMAIL_GATEWAY_WORKERS of its own when the gateway is on, none otherwise.
    """
    total = settings.NB_BACKEND_WORKERS
    if async_enabled():
        total = max(total, 1)
    notifications = settings.NOTIFICATIONS_QUEUE
    incoming = settings.INCOMING_EMAIL_QUEUE
    others = [name for name in settings.RQ_QUEUES if name not in {notifications, incoming}]
    order = [notifications, *others] if async_enabled() else [*others, notifications]
    plan = dict.fromkeys(order, 0)
    for name in order[:total]:
        plan[name] = 1
    plan[notifications] += max(0, total - len(order))
    if gateway.enabled():
        plan[incoming] = settings.EMAIL_GATEWAY_WORKERS
    return {name: count for name, count in plan.items() if count}


# Short jobs run in the worker process (no fork per job); the others in RQ's forked work horse.
WORKER_CLASSES = {
    "notifications": "tracker.workers.classes.InProcessWorker",
    "incoming_email": "tracker.workers.classes.InProcessWorker",
}


def worker_command(queue: str, *options: str) -> list[str]:
    """``manage.py rqworker`` for one queue, with its worker class and LOGGER_LEVEL's verbosity."""
    verbosity = {"DEBUG": "2", "INFO": "1"}.get(settings.LOGGER_LEVEL, "0")
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "rqworker", queue, *options]
    if queue in WORKER_CLASSES:
        command += ["--worker-class", WORKER_CLASSES[queue]]
    return [*command, "--verbosity", verbosity]


def _die_with_parent() -> None:
    """In the worker, before exec: get SIGTERM (a warm shutdown) if the supervisor is killed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Slot:
    queue: str
    index: int
    process: subprocess.Popen[bytes] | None = None
    name: str = ""
    started_at: float = 0.0
    restart_at: float = 0.0
    young_deaths: int = 0
    last_exit_status: int | None = None
    pid_file: Path = field(default_factory=Path)

    @property
    def label(self) -> str:
        return f"{self.queue} worker {self.index}"


class Supervisor:
    def __init__(self, plan: dict[str, int] | None = None) -> None:
        self.plan = plan if plan is not None else planned_workers()
        self.slots = [
            Slot(queue, index, pid_file=pidfiles.run_dir() / f"worker-{queue}-{index}.pid")
            for queue, count in self.plan.items()
            for index in range(1, count + 1)
        ]
        self.lock = pidfiles.SupervisorLock(pidfiles.supervisor_pid_file())
        self.stop_requested = False
        self.stop_signal = ""
        self.grace_seconds = settings.NOTIFICATION_JOB_TIMEOUT + 30
        self.next_maintenance = 0.0
        self.maintenance_name = f"supervisor-{hosts.hostname()}-{os.getpid()}"
        self.next_schedule = 0.0
        self.schedulers: dict[str, Any] = {}
        self.sweeper = sweep.Sweeper(self.maintenance_name)
        self.next_report = 0.0

    # Life cycle --------------------------------------------------------------------------------------

    def run(self) -> int:
        self.lock.acquire()  # raises AlreadyRunning
        try:
            self._forget_stale_worker_files()
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            summary = ", ".join(f"{count} on {queue}" for queue, count in self.plan.items()) or "none"
            logger.info(
                "Backend workers supervisor started: %s worker(s) (%s); log file %s",
                len(self.slots),
                summary,
                settings.WORKER_LOG,
            )
            for slot in self.slots:
                self._spawn(slot)
            while not self.stop_requested:
                self._watch()
                self._report()
                self._maintenance()
                self._schedule()
                self.sweeper.tick()
                time.sleep(POLL_INTERVAL)
            logger.info("Received %s: stopping the workers.", self.stop_signal)
            self._stop_workers()
            self._withdraw_report()
            logger.info("Backend workers supervisor stopped.")
            return 0
        finally:
            for slot in self.slots:
                slot.pid_file.unlink(missing_ok=True)
            self.lock.release()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: logging from a signal handler could interleave with a line being written.
        self.stop_signal = signal.Signals(signum).name
        self.stop_requested = True

    def _forget_stale_worker_files(self) -> None:
        for path in pidfiles.run_dir().glob("worker-*.pid"):
            pid, _ = pidfiles.read_pid(path)
            if pid is not None and pidfiles.is_worker_process(pid):
                # A worker of a supervisor that was killed: it got SIGTERM (die-with-parent) and
                # leaves once its job is done; it must not be counted as one of ours.
                logger.warning("A worker of an earlier supervisor (pid %s) is still finishing its job.", pid)
            path.unlink(missing_ok=True)

    # Workers ---------------------------------------------------------------------------------------

    def _command(self, slot: Slot) -> list[str]:
        return worker_command(slot.queue, "--with-scheduler", "--name", slot.name)

    def _spawn(self, slot: Slot) -> None:
        slot.name = f"{hosts.hostname()}.{slot.queue}.{slot.index}.{secrets.token_hex(3)}"
        log_path = Path(settings.WORKER_LOG)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            # Its own session: a Ctrl-C or a signal to our process group reaches the supervisor only,
            # which relays exactly one SIGTERM (a second one makes RQ kill the job in progress).
            slot.process = subprocess.Popen(
                self._command(slot),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=settings.BASE_DIR,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # safe: the supervisor runs no threads
            )
        slot.started_at = time.monotonic()
        slot.pid_file.write_text(f"{slot.process.pid}\n{slot.name}\n")
        logger.info("Started %s (pid %s, name %s).", slot.label, slot.process.pid, slot.name)
        self.next_report = 0.0  # report the new worker now

    def _watch(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is not None:
                status = slot.process.poll()
                if status is None:
                    continue
                lived = now - slot.started_at
                slot.young_deaths = slot.young_deaths + 1 if lived < YOUNG_DEATH_SECONDS else 0
                delay = min(RESTART_DELAY * 2 ** max(slot.young_deaths - 1, 0), RESTART_DELAY_MAX)
                logger.error(
                    "%s (pid %s) exited with status %s after %.0f s; restarting it in %.1f s.",
                    slot.label.capitalize(),
                    slot.process.pid,
                    status,
                    lived,
                    delay,
                )
                slot.pid_file.unlink(missing_ok=True)
                slot.process = None
                slot.last_exit_status = status
                slot.restart_at = now + delay
                self.next_report = 0.0  # other hosts learn of the death now, not at the next report
            if slot.process is None and now >= slot.restart_at and not self.stop_requested:
                self._spawn(slot)

    # The report to other hosts ------------------------------------------------------------------------

    def report(self) -> hosts.HostReport:
        return hosts.HostReport(
            host=hosts.hostname(),
            supervisor_pid=os.getpid(),
            reported_at=time.time(),
            workers=[
                hosts.ReportedWorker(
                    queue=slot.queue,
                    slot=slot.index,
                    pid=slot.process.pid if slot.process is not None else None,
                    name=slot.name,
                    alive=slot.process is not None and slot.process.poll() is None,
                    young_deaths=self._recent_young_deaths(slot),
                    last_exit_status=slot.last_exit_status,
                )
                for slot in self.slots
            ],
        )

    @staticmethod
    def _recent_young_deaths(slot: Slot) -> int:
        # The count is only updated when a worker exits: one that has lived past YOUNG_DEATH_SECONDS
        # since is out of its crash loop.
        running = slot.process is not None and slot.process.poll() is None
        if running and time.monotonic() - slot.started_at >= YOUNG_DEATH_SECONDS:
            return 0
        return slot.young_deaths

    def _report(self) -> None:
        now = time.monotonic()
        if now < self.next_report:
            return
        self.next_report = now + hosts.PUBLISH_INTERVAL
        try:
            hosts.publish(queues.redis_client(queues.SUPERVISOR), self.report())
        except Exception as error:
            logger.warning("Reporting the workers to Redis failed (%s: %s).", type(error).__name__, error)

    def _withdraw_report(self) -> None:
        try:
            hosts.withdraw(queues.redis_client(queues.SUPERVISOR), hosts.hostname())
        except Exception as error:
            logger.warning("Withdrawing the workers' report failed (%s: %s).", type(error).__name__, error)

    def _maintenance(self) -> None:
        now = time.monotonic()
        if now < self.next_maintenance:
            return
        self.next_maintenance = now + MAINTENANCE_INTERVAL
        try:
            for name in self.plan:
                maintenance.clean_queue_registries(name, worker_name=self.maintenance_name)
        except Exception as error:
            logger.warning(
                "Queue maintenance failed (%s: %s); trying again later.", type(error).__name__, error
            )
        finally:
            close_old_connections()

    def _schedule(self) -> None:
        """Stand in for a dead scheduler: move due jobs (retries after their pause) to their queue.

        A worker started with --with-scheduler runs RQ's scheduler if it gets the queue's scheduler
        lock when it starts; if that worker is killed, the lock outlives it for a minute and the other
        workers only try again at their ten-minute maintenance, so retries would wait that long. When
        no live scheduler holds the lock, the supervisor takes it for a moment and does the work.
        """
        now = time.monotonic()
        if now < self.next_schedule:
            return
        self.next_schedule = now + SCHEDULE_INTERVAL
        try:
            for name in self.plan:
                scheduler = self.schedulers.get(name)
                if scheduler is None:
                    scheduler = self.schedulers[name] = maintenance.scheduler_for(
                        name, scheduler_name=f"{self.maintenance_name}-{name}"
                    )
                maintenance.enqueue_due_jobs(scheduler)
        except Exception as error:
            logger.warning("Scheduling failed (%s: %s); trying again later.", type(error).__name__, error)

    def _alive(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.process is not None and slot.process.poll() is None]

    def _signal_all(self, slots: list[Slot], signum: int) -> None:
        for slot in slots:
            assert slot.process is not None
            with contextlib.suppress(ProcessLookupError):
                slot.process.send_signal(signum)

    def _wait(self, seconds: float) -> list[Slot]:
        deadline = time.monotonic() + seconds
        alive = self._alive()
        while alive and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
            alive = self._alive()
        return alive

    def _stop_workers(self) -> None:
        alive = self._alive()
        logger.info("Stopping %s worker(s); a job in progress completes first.", len(alive))
        self._signal_all(alive, signal.SIGTERM)
        alive = self._wait(self.grace_seconds)
        if alive:
            logger.error(
                "%s worker(s) still busy after %s s: cold shutdown (their job is interrupted and retried).",
                len(alive),
                self.grace_seconds,
            )
            self._signal_all(alive, signal.SIGTERM)
            alive = self._wait(COLD_SHUTDOWN_SECONDS)
        if alive:
            self._signal_all(alive, signal.SIGKILL)
            self._wait(COLD_SHUTDOWN_SECONDS)
        for slot in self.slots:
            slot.pid_file.unlink(missing_ok=True)
