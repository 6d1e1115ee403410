"""Fan-out benchmark: ``python -m bench.notification_fanout``.

One changeset with BENCH_FANOUT_RECIPIENTS (2,000) recipients, a relay waiting 10 ms in each RCPT (the
way a slow relay checks each address): the time from the changeset's commit to the end of its
notification (the record's created_at to its ended_at, read from the database), with 1 worker and with
4 workers (as the supervisor runs them), best of BENCH_ROUNDS (2) alternating rounds each. Before the
fan-out this was one job, one worker: 26 s with 1 worker and 25 s with 4. Target: 1 worker / 4 workers
>= 3.5.

Throw-away SQLite database (or BENCH_DATABASE_URL, an empty database you can drop afterwards), a
private redis-server and a local aiosmtpd relay, as ``bench.notifications``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from bench.notifications import configure, say, start_worker, stop

RECIPIENTS = int(os.environ.get("BENCH_FANOUT_RECIPIENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
RCPT_DELAY = 0.010
WORKER_COUNTS = (1, 4)
TARGET = 3.5


def main() -> None:
    from tests.support.redis_server import RedisServer
    from tests.support.smtp import SMTPServer

    warnings.filterwarnings("ignore", message="No directory at")
    workdir = Path(tempfile.mkdtemp(prefix="tuleap-bench-fanout-"))
    redis_server = RedisServer("--appendonly", "no")
    relay = SMTPServer()
    relay.behaviour.rcpt_delay = RCPT_DELAY
    env = configure(workdir, redis_server.url, relay.port)
    processes = []
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone
        from rq import Worker

        from tracker import queues
        from tracker.models import NotificationBatch, NotificationListEntry, NotificationRecord, User
        from tracker.services.artifacts import create_artifact
        from tracker.services.projects import create_project
        from tracker.services.trackers import TrackerSpec, create_tracker

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        call_command("migrate", verbosity=0)
        author = User.objects.create_user("author", "author@example.com", secrets.token_urlsafe(16))
        project = create_project(shortname="bench", name="Bench", creator=author, is_public=True)
        big = create_tracker(project, TrackerSpec(name="Big list", shortname="big"))
        warm = create_tracker(project, TrackerSpec(name="Warm-up", shortname="warm"))
        # A tracker notification list of confirmed plain addresses: the "large list" of the issue.
        now = timezone.now()
        NotificationListEntry.objects.bulk_create(
            [
                NotificationListEntry(tracker=big, email=f"reader{i:05d}@example.org", confirmed_at=now)
                for i in range(RECIPIENTS)
            ]
        )
        NotificationListEntry.objects.create(tracker=warm, email="warm@example.org", confirmed_at=now)
        say(
            f"Database: {connection.vendor}; {RECIPIENTS} recipients, relay waits {RCPT_DELAY * 1000:.0f} ms "
            f"per RCPT; NOTIFICATION_BATCH_SIZE={settings.NOTIFICATION_BATCH_SIZE}"
        )

        def ended(changeset_id: int, timeout: float) -> NotificationRecord:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                record = NotificationRecord.objects.get(changeset_id=changeset_id)
                if record.ended_at is not None:
                    return record
                time.sleep(0.05)
            raise SystemExit(f"changeset {changeset_id}: not sent within {timeout:.0f} s")

        def one_round(workers: int) -> tuple[float, int]:
            started = [start_worker(env, "--with-scheduler") for _ in range(workers)]
            processes.extend(started)
            connection_ = queues.notifications_queue().connection
            deadline = time.monotonic() + 60
            while len(Worker.all(connection=connection_)) < workers and time.monotonic() < deadline:
                time.sleep(0.1)
            # Warm-up: every worker has imported and run a job before the clock starts.
            for _ in range(workers * 2):
                ended(create_artifact(warm, author=author, values={"title": "Warm-up"}).pk, 60)
            relay.clear()
            changeset = create_artifact(big, author=author, values={"title": "Outage"})
            record = ended(changeset.pk, 600)
            seconds = (record.ended_at - record.created_at).total_seconds()
            delivered = len(relay.addresses())
            senders = set(
                NotificationBatch.objects.filter(record=record).values_list("sender", flat=True).distinct()
            )
            for process in started:
                stop(process)
            say(
                f"  {workers} worker(s): {seconds:6.2f} s, {delivered} emails, "
                f"{record.status}, {len(senders)} worker(s) sent batches"
            )
            if delivered != RECIPIENTS:
                raise SystemExit(f"{delivered} emails delivered, {RECIPIENTS} expected")
            return seconds, delivered

        timings: dict[int, list[float]] = {count: [] for count in WORKER_COUNTS}
        for _ in range(ROUNDS):
            for count in WORKER_COUNTS:
                timings[count].append(one_round(count)[0])
        best = {count: min(values) for count, values in timings.items()}
        ratio = best[1] / best[4]
        say("")
        say(
            f"Fan-out, {RECIPIENTS} recipients, relay {RCPT_DELAY * 1000:.0f} ms per recipient (best of "
            f"{ROUNDS}): 1 worker {best[1]:.2f} s, 4 workers {best[4]:.2f} s"
        )
        met = "met" if ratio >= TARGET else "NOT MET"
        say(f"  delivery time 1 worker / 4 workers   {ratio:6.2f}   (target >= {TARGET}: {met})")
    finally:
        for process in processes:
            stop(process)
        relay.stop()
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
