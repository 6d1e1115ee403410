"""Notifications under faults: ``python -m bench.notification_faults``.

Side by side in one run, against a throw-away SQLite database (or BENCH_DATABASE_URL, an empty database
you can drop afterwards), a private redis-server, an aiosmtpd relay waiting 20 ms in each RCPT, and the
real worker supervisor (``manage.py backend_workers start``, its default settings: retry schedule 5 s,
10 s, 20 s, 40 s, ..., sweep every 30 s):

1. recovery after a mail outage: BENCH_CHANGESETS (100) changesets x 10 recipients are created
   - with the mail server up: time from the first creation to the last email delivered;
   - with the mail server down (connection refused) for BENCH_OUTAGE (90) seconds: time from the
     server coming back to the last email delivered;
   goal: outage / no outage <= 2 (every email delivered once, checked);
2. a save (``POST /api/artifacts/``, Django's test client) with Redis healthy, then frozen (SIGSTOP):
   p50, p99 and max over BENCH_SAVES (100) saves each; goal: frozen p99 < 1.5 s.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGESETS = int(os.environ.get("BENCH_CHANGESETS", "100"))
RECIPIENTS = 10
OUTAGE = float(os.environ.get("BENCH_OUTAGE", "90"))
SAVES = int(os.environ.get("BENCH_SAVES", "100"))
RCPT_DELAY = 0.020


def say(message: str) -> None:
    print(message, flush=True)


def configure(workdir: Path, redis_url: str, smtp_port: int) -> dict[str, str]:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver,localhost",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "REDIS_URL": redis_url,
        "ASYNC_EMAILS": "all",
        "NB_BACKEND_WORKERS": "3",  # two on notifications, one on jira_import
        # One author sends thousands of emails here: the per-author hourly limit would hold them back.
        "NOTIFICATION_AUTHOR_MAX_PER_HOUR": "0",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "WORKER_LOG": str(workdir / "worker.log"),
        "WORKER_RUN_DIR": str(workdir / "run"),
        "LOGGER_LEVEL": "warning",
        "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    return {**os.environ, **env}


def wait_for(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Poll until ``condition()``; the moment it held (time.monotonic), or exit naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"Gave up waiting for {what} after {timeout:.0f} s.")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    from tests.support.redis_server import RedisServer
    from tests.support.smtp import SMTPServer

    warnings.filterwarnings("ignore", message="No directory at")
    workdir = Path(tempfile.mkdtemp(prefix="tuleap-bench-faults-"))
    redis_server = RedisServer("--appendonly", "no")
    relay = SMTPServer()
    relay.behaviour.rcpt_delay = RCPT_DELAY
    env = configure(workdir, redis_server.url, relay.port)
    supervisor: subprocess.Popen[bytes] | None = None
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from rest_framework.authtoken.models import Token

        from tracker.models import NotificationRecord, User
        from tracker.services.artifacts import create_artifact
        from tracker.services.projects import create_project, set_member
        from tracker.services.trackers import TrackerSpec, create_tracker

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        call_command("migrate", verbosity=0)
        author = User.objects.create_user("author", "author@example.com", "pw")
        User.objects.bulk_create(
            [User(username=f"person{i:02d}", email=f"person{i:02d}@example.com") for i in range(RECIPIENTS)]
        )
        project = create_project(shortname="bench", name="Bench", creator=author)
        for person in User.objects.filter(username__startswith="person"):
            set_member(project, person)
        tracker = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))
        cc = [f"person{i:02d}" for i in range(RECIPIENTS)]

        supervisor = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "backend_workers", "start"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from rq import Worker

        wait_for(lambda: len(Worker.all(connection=redis_server.client())) >= 3, 120, "the workers")

        def create_batch(label: str) -> list[int]:
            return [
                create_artifact(tracker, author=author, values={"title": f"{label} {n}", "cc": cc}).pk
                for n in range(CHANGESETS)
            ]

        def all_delivered(ids: list[int]) -> bool:
            return (
                sum(count for (cs, _), count in relay.deliveries().items() if int(cs) in ids)
                >= len(ids) * RECIPIENTS
            )

        def exactly_once(ids: list[int]) -> bool:
            mine = Counter({pair: n for pair, n in relay.deliveries().items() if int(pair[0]) in ids})
            return len(mine) == len(ids) * RECIPIENTS and set(mine.values()) == {1}

        # 1. Recovery after an outage ------------------------------------------------------------------
        started = time.monotonic()
        calm = create_batch("Calm")
        calm_seconds = wait_for(lambda: all_delivered(calm), 600, "the emails without outage") - started

        relay.stop()
        outage_started = time.monotonic()
        stormy = create_batch("Outage")
        wait_for(lambda: time.monotonic() - outage_started >= OUTAGE, OUTAGE + 10, "the end of the outage")
        ended_early = NotificationRecord.objects.filter(
            changeset_id__in=stormy, ended_at__isnull=False
        ).count()
        relay.start()
        back = time.monotonic()
        stormy_seconds = wait_for(lambda: all_delivered(stormy), 900, "the emails after the outage") - back
        once = exactly_once(calm) and exactly_once(stormy)

        # 2. Saves with Redis healthy, then frozen ------------------------------------------------------
        token = Token.objects.create(user=author)
        client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")

        def save() -> float:
            began = time.perf_counter()
            response = client.post(
                "/api/artifacts/",
                {"tracker": tracker.pk, "values": {"title": "Save", "cc": cc}},
                content_type="application/json",
            )
            if response.status_code != 201:
                raise SystemExit(f"POST /api/artifacts/ answered {response.status_code}")
            return time.perf_counter() - began

        for _ in range(5):
            save()
        healthy = [save() for _ in range(SAVES)]
        redis_server.freeze()
        try:
            frozen = [save() for _ in range(SAVES)]
        finally:
            redis_server.thaw()
        thawed = time.monotonic()
        frozen_ids = list(
            NotificationRecord.objects.order_by("-pk").values_list("changeset_id", flat=True)[:SAVES]
        )
        recovered = (
            wait_for(lambda: all_delivered(frozen_ids), 600, "the emails of the frozen saves") - thawed
        )

        # Report ------------------------------------------------------------------------------------
        say("")
        say(
            f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
            f"database {connection.vendor}"
        )
        say(
            f"Relay waits {RCPT_DELAY * 1000:.0f} ms per RCPT; {CHANGESETS} changesets x {RECIPIENTS} "
            "recipients per batch; supervisor with 2 notification workers, default retry settings."
        )
        say(f"  no outage: first creation -> last email          {calm_seconds:8.1f} s")
        say(
            f"  {OUTAGE:.0f} s outage: mail server back -> last email   {stormy_seconds:8.1f} s "
            f"({ended_early} records ended during the outage)"
        )
        say(f"  every email delivered exactly once: {'yes' if once else 'NO'}")
        ratio = stormy_seconds / calm_seconds
        say(
            f"  outage / no outage                               {ratio:8.2f}   (goal <= 2: "
            f"{'met' if ratio <= 2 else 'NOT MET'})"
        )
        say("")
        say(f"Saves through POST /api/artifacts/ ({SAVES} each), async, {RECIPIENTS} recipients:")
        for label, samples in (("Redis healthy", healthy), ("Redis frozen (SIGSTOP)", frozen)):
            say(
                f"  {label:<24} p50 {statistics.median(samples) * 1000:7.1f} ms   "
                f"p99 {percentile(samples, 0.99) * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms"
            )
        frozen_p99 = percentile(frozen, 0.99)
        say(
            f"  p99 frozen / p99 healthy {frozen_p99 / percentile(healthy, 0.99):8.2f}   (goal: frozen p99 "
            f"< 1.5 s: {'met' if frozen_p99 < 1.5 else 'NOT MET'})"
        )
        say(f"  emails of the frozen saves delivered {recovered:.1f} s after SIGCONT (the recovery sweep)")
    finally:
        if supervisor is not None and supervisor.poll() is None:
            supervisor.terminate()
            try:
                supervisor.wait(timeout=120)
            except subprocess.TimeoutExpired:
                supervisor.kill()
        relay.stop()
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
