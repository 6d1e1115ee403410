"""A Redis failover under load: ``python -m bench.redis_failover``.

A master, a replica and three sentinels (``redis-server --sentinel``, down-after-milliseconds 1000) on
loopback, an aiosmtpd relay, gunicorn (2 workers) and the worker supervisor (one notifications worker)
against a throw-away SQLite database (or BENCH_DATABASE_URL, an empty database you can drop), all
given only the sentinels. A client creates an artifact (2 recipients) every 0.1 s through the API; once
the workers send, the master is killed (SIGKILL) and the stream goes on. Printed, for each of
BENCH_FAILOVERS (1) runs:

- seconds from the kill until every sentinel names the replica as master;
- seconds from the kill to the first email delivered after it (a save that found Redis gone sends
  its emails in the request, so this is the inline fallback), and to the first one a worker delivered
  for a changeset created after the kill (its job went through the new master): the failover as the
  workers see it;
- the requests that failed and for how long; whether every email arrived exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
FAILOVERS = int(os.environ.get("BENCH_FAILOVERS", "1"))


def say(message: str) -> None:
    print(message, flush=True)


def wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} within {timeout} s.")
        time.sleep(0.05)


def environment(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "ASYNC_EMAILS": "all",
        "NB_BACKEND_WORKERS": "1",
        # The sweep hands a record whose job the dead master took to a new job after 5 s.
        "NOTIFICATION_SWEEP_INTERVAL": "2",
        "NOTIFICATION_RECOVERY_AFTER": "5",
        "WORKER_LOG": str(workdir / "worker.log"),
        "WORKER_RUN_DIR": str(workdir / "run"),
        "LOGGER_LEVEL": "warning",
        "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
        "PYTHONPATH": str(ROOT),
    }


def one_failover(number: int, env: dict[str, str], tracker_id: int, token: str) -> None:
    from django.db.models import Min
    from django.utils import timezone

    from tests.support.redis_sentinel import CreationStream, SentinelSetup, longest_failure
    from tests.support.redis_server import free_port
    from tests.support.smtp import SMTPServer
    from tracker.models import NotificationDelivery, NotificationRecord

    setup, relay = SentinelSetup(), SMTPServer()
    web_port = free_port()
    env = {**env, **setup.env(), "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(relay.port)}
    run_began = timezone.now()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in (
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tuleap_backend.wsgi",
                "--bind",
                f"127.0.0.1:{web_port}",
                "-w",
                "2",
            ],
            [sys.executable, str(ROOT / "manage.py"), "backend_workers", "start"],
        ):
            processes.append(
                subprocess.Popen(
                    command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        base = f"http://127.0.0.1:{web_port}"

        def web_answers() -> bool:
            try:
                return requests.get(f"{base}/api/", timeout=2).status_code < 500
            except requests.RequestException:
                return False

        wait(web_answers, 60, "gunicorn did not answer")
        stream = CreationStream(base, token, tracker_id, ["bob", "carol"])
        stream.start()

        def worker_sent_since(moment: dt.datetime) -> bool:
            return NotificationRecord.objects.filter(
                created_at__gt=moment, status="done", fell_back_inline=False
            ).exists()

        wait(lambda: worker_sent_since(run_began), 120, "The worker sent nothing")
        killed_at = timezone.now()
        killed = setup.kill_master()
        promoted = setup.wait_for_promotion()
        wait(lambda: worker_sent_since(killed_at), 120, "No worker sent after the failover")
        wait(lambda: stream.answered_after(promoted) >= 10, 60, "The stream stopped")
        answers = stream.stop()
        mine = NotificationRecord.objects.filter(created_at__gt=run_began)
        wait(
            lambda: not mine.filter(ended_at__isnull=True).exists(), 180, "Notifications were left unfinished"
        )

        first_any = NotificationDelivery.objects.filter(sent_at__gt=killed_at).aggregate(first=Min("sent_at"))
        after_kill = mine.filter(created_at__gt=killed_at, fell_back_inline=False)
        first_worker = NotificationDelivery.objects.filter(
            changeset_id__in=after_kill.values("changeset_id")
        ).aggregate(first=Min("sent_at"))
        deliveries = relay.deliveries()
        records = mine.count()
        exactly_once = set(deliveries.values()) == {1} and len(deliveries) == 2 * records
        failed = [answer for answer in answers if not answer.ok]
        say(
            f"Failover {number}: promoted after {promoted - killed:.2f} s; first email after the kill "
            f"{(first_any['first'] - killed_at).total_seconds():.2f} s (inline fallback), first sent by a "
            f"worker {(first_worker['first'] - killed_at).total_seconds():.2f} s; {len(answers)} creations, "
            f"{len(failed)} failed (for {longest_failure(answers):.2f} s at most); "
            f"{len(deliveries)} emails for {records} changesets, each exactly once: {exactly_once}"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        relay.stop()
        setup.stop()


def main() -> None:
    warnings.filterwarnings("ignore", message="No directory at")
    workdir = Path(tempfile.mkdtemp(prefix="tuleap-bench-failover-"))
    env = environment(workdir)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    from rest_framework.authtoken.models import Token

    from tracker.models import User
    from tracker.services.projects import create_project, set_member
    from tracker.services.trackers import TrackerSpec, create_tracker

    author = User.objects.create_user("alice", "alice@example.com", "a-long-bench-password")
    project = create_project(shortname="bench", name="Bench", creator=author)
    for name in ("bob", "carol"):
        set_member(project, User.objects.create_user(name, f"{name}@example.com", "a-long-bench-password"))
    tracker = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))
    token = Token.objects.create(user=author).key
    say(
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for number in range(1, FAILOVERS + 1):
        one_failover(number, env, tracker.pk, token)


if __name__ == "__main__":
    main()
