"""Notification benchmark: ``python -m bench.notifications`` (or ``make bench``).

Everything runs side by side in one run, against a throw-away SQLite database (or BENCH_DATABASE_URL,
an empty database you can drop afterwards), a private redis-server and local aiosmtpd servers:

1. artifact creation latency through the REST API (``POST /api/artifacts/``, Django's test client, the
   whole middleware stack), p50 over BENCH_CREATIONS (200) creations each:
   - ASYNC_EMAILS=all, 50 recipients per changeset, a worker sending to a relay that waits 20 ms in
     each RCPT (the way a slow relay checks each address);
   - ASYNC_EMAILS=all, nobody to notify (the same worker running) -- the two are interleaved;
   - inline (ASYNC_EMAILS off), 50 recipients, the same slow relay (BENCH_INLINE_CREATIONS, 30);
2. one worker (as the supervisor runs it) emptying a queue into an SMTP sink that does not wait, in
   emails (delivered addresses) per second, against plain smtplib sending the very same messages over
   one connection from a process of its own; best of BENCH_ROUNDS (3) alternating rounds each, so the
   rest of the machine disturbs both alike; for BENCH_SMALL_JOBS (1,000) jobs of 1 recipient (the
   per-job fixed cost) and for BENCH_THROUGHPUT_JOBS (100) jobs of 50 recipients;
3. the SQL queries of one notification job for 5 and for 50 recipients;
4. the ceiling of one worker process for both shapes of 2. (``bench.cpu_floor``): the CPU time of
   reading and rendering a changeset's email, measured in this process, against smtplib's rate.

Targets (from the issues): async/none <= 1.25, inline/async >= 10, worker/smtplib >= 0.9 (both shapes).
"""

from __future__ import annotations

import os
import pickle
import platform
import secrets
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from bench import cpu_floor

ROOT = Path(__file__).resolve().parent.parent
CREATIONS = int(os.environ.get("BENCH_CREATIONS", "200"))
INLINE_CREATIONS = int(os.environ.get("BENCH_INLINE_CREATIONS", "30"))
THROUGHPUT_JOBS = int(os.environ.get("BENCH_THROUGHPUT_JOBS", "100"))
SMALL_JOBS = int(os.environ.get("BENCH_SMALL_JOBS", "1000"))
PROFILE = os.environ.get("BENCH_PROFILE", "")  # a path prefix: profile the throughput workers
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RECIPIENTS = 50
RCPT_DELAY = 0.020
WARM_UP = 10


@dataclass
class Throughput:
    """One shape's rounds: (emails, seconds) for the worker and for plain smtplib."""

    jobs: int
    recipients: int
    worker: list[tuple[int, float]] = field(default_factory=list)
    smtplib: list[tuple[int, float]] = field(default_factory=list)
    done: int = 0
    connections: int = 0
    messages: int = 0
    changesets: list[int] = field(default_factory=list)  # the last round's

    @staticmethod
    def best(rounds: list[tuple[int, float]]) -> float:
        """The best round's emails/s: the one the rest of the machine disturbed least."""
        return max(emails / seconds for emails, seconds in rounds)


def rates(rounds: list[tuple[int, float]]) -> str:
    return ", ".join(f"{emails / seconds:,.0f}" for emails, seconds in rounds)


def say(message: str) -> None:
    print(message, flush=True)


def configure(workdir: Path, redis_url: str, smtp_port: int) -> dict[str, str]:
    """Environment for this process (before Django starts) and for the worker processes."""
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver,localhost",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "REDIS_URL": redis_url,
        "ASYNC_EMAILS": "all",
        # One author causes tens of thousands of emails here: no per-author hourly limit.
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


def start_worker(env: dict[str, str], *args: str, smtp_port: int | None = None) -> subprocess.Popen[bytes]:
    """A notifications worker as the supervisor starts it (same worker class)."""
    from tracker.workers.supervisor import worker_command

    worker_env = dict(env)
    command = worker_command("notifications", *args)
    if smtp_port is not None:
        worker_env["EMAIL_PORT"] = str(smtp_port)
        if PROFILE:
            # The throughput workers under cProfile: where a job's fixed cost goes (pstats to read it).
            command[1:1] = ["-m", "cProfile", "-o", f"{PROFILE}.{time.monotonic_ns()}"]
    return subprocess.Popen(
        command,
        env=worker_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    from tests.support.redis_server import RedisServer
    from tests.support.smtp import SMTPServer

    # No collected static files in a throw-away setup: WhiteNoise says so once; nothing to fix here.
    warnings.filterwarnings("ignore", message="No directory at")
    workdir = Path(tempfile.mkdtemp(prefix="tuleap-bench-"))
    redis_server = RedisServer("--appendonly", "no")
    slow_relay = SMTPServer()
    slow_relay.behaviour.rcpt_delay = RCPT_DELAY
    sink = SMTPServer()
    env = configure(workdir, redis_server.url, slow_relay.port)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from rest_framework.authtoken.models import Token

        from tracker import queues
        from tracker.models import NotificationDelivery, NotificationRecord, User
        from tracker.notifications import notifier
        from tracker.services.artifacts import create_artifact
        from tracker.services.projects import create_project, set_member
        from tracker.services.trackers import TrackerSpec, create_tracker
        from tuleap_backend.env import AsyncEmails

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        call_command("migrate", verbosity=0)
        say(f"Database: {connection.vendor}; Redis {redis_server.url.split('@')[-1]}; work dir {workdir}")

        # The world: one author, 50 people in CC, a tracker where nobody is notified.
        author = User.objects.create_user("author", "author@example.com", secrets.token_urlsafe(16))
        people = [
            User(username=f"person{i:02d}", email=f"person{i:02d}@example.com") for i in range(RECIPIENTS)
        ]
        User.objects.bulk_create(people)
        project = create_project(shortname="bench", name="Bench", creator=author)
        for person in User.objects.filter(username__startswith="person"):
            set_member(project, person)
        busy = create_tracker(project, TrackerSpec(name="Busy", shortname="busy"))
        quiet = create_tracker(project, TrackerSpec(name="Quiet", shortname="quiet"))
        cc = [f"person{i:02d}" for i in range(RECIPIENTS)]
        token = Token.objects.create(user=author)
        client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")

        def create_via_api(tracker_id: int, with_cc: bool) -> float:
            values: dict[str, object] = {"title": "Benchmark bug"}
            if with_cc:
                values["cc"] = cc
            started = time.perf_counter()
            response = client.post(
                "/api/artifacts/", {"tracker": tracker_id, "values": values}, content_type="application/json"
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(
                    f"POST /api/artifacts/ answered {response.status_code}: {response.content[:300]}"
                )
            return elapsed

        # 1. Latencies --------------------------------------------------------------------------------
        worker = start_worker(env, "--with-scheduler")
        processes.append(worker)
        for _ in range(WARM_UP):
            create_via_api(busy.pk, True)
            create_via_api(quiet.pk, False)
        async_samples: list[float] = []
        quiet_samples: list[float] = []
        for _ in range(CREATIONS):  # interleaved: both see the same load and the same database size
            async_samples.append(create_via_api(busy.pk, True))
            quiet_samples.append(create_via_api(quiet.pk, False))
        delivered_meanwhile = len(slow_relay.addresses())
        stop(worker)
        queues.notifications_queue().empty()

        settings.ASYNC_EMAILS = AsyncEmails(frozenset())
        create_via_api(busy.pk, True)  # warm-up
        inline_samples = [create_via_api(busy.pk, True) for _ in range(INLINE_CREATIONS)]
        settings.ASYNC_EMAILS = AsyncEmails("all")

        # 2. Throughput, in ROUNDS alternating rounds (the machine's noise hits both sides alike): jobs
        #    wait in the queue and one worker empties it; then plain smtplib, in a process of its own
        #    like the worker, replays the very same messages over one connection. Two shapes: many
        #    one-recipient changesets (the per-job fixed cost) and fewer 50-recipient ones.
        def one_round(result: Throughput, **worker_env: str) -> None:
            jobs, recipients = result.jobs, result.recipients
            queues.notifications_queue().empty()
            changesets = [
                create_artifact(busy, author=author, values={"title": "Throughput", "cc": cc[:recipients]}).pk
                for _ in range(jobs)
            ]
            sink.clear()
            burst = start_worker({**env, **worker_env}, "--burst", smtp_port=sink.port)
            processes.append(burst)
            burst.wait(timeout=3600)
            records = NotificationRecord.objects.filter(changeset_id__in=changesets)
            result.done = records.filter(status=NotificationRecord.Status.DONE).count()
            first_start = min(record.started_at for record in records)
            last_end = max(record.ended_at for record in records if record.ended_at)
            result.worker.append(
                (
                    NotificationDelivery.objects.filter(changeset_id__in=changesets).count(),
                    (last_end - first_start).total_seconds(),
                )
            )
            result.connections = sink.connections
            result.changesets = changesets
            captured = sink.received
            sink.clear()
            replay = workdir / "messages.pickle"
            replay.write_bytes(
                pickle.dumps([(item.mail_from, item.rcpt_tos, item.content) for item in captured])
            )
            seconds = subprocess.run(
                [sys.executable, "-m", "bench.notifications", "--replay", str(replay), str(sink.port)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result.messages = len(captured)
            result.smtplib.append((sum(len(item.rcpt_tos) for item in captured), float(seconds)))

        shapes = [Throughput(SMALL_JOBS, 1), Throughput(THROUGHPUT_JOBS, RECIPIENTS)]
        # The same small jobs with a new SMTP connection per job (as before connections were kept).
        unkept = Throughput(SMALL_JOBS, 1)
        for _ in range(ROUNDS):
            one_round(shapes[0])
            one_round(unkept, EMAIL_CONNECTION_MAX_IDLE="0")
            one_round(shapes[1])

        # 3. Queries of one job, 5 versus 50 recipients (the same run, in this process).
        settings.EMAIL_PORT = sink.port
        query_counts = {}
        for count in (5, RECIPIENTS):
            changeset = create_artifact(busy, author=author, values={"title": "Queries", "cc": cc[:count]})
            with CaptureQueriesContext(connection) as queries:
                notifier.notify(changeset.pk, mode="async", token=f"bench-{count}")
            query_counts[count] = len(queries.captured_queries)

        # 4. One process's ceiling: reading and rendering alone, no write, no SMTP (bench.cpu_floor).
        floors = [cpu_floor.measure(shape.changesets[:200], shape.recipients) for shape in shapes]

        # Report ------------------------------------------------------------------------------------
        async_p50, quiet_p50, inline_p50 = p50(async_samples), p50(quiet_samples), p50(inline_samples)
        say("")
        say(f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.platform()}")
        say(f"Python {platform.python_version()}, database {connection.vendor}")
        say("")
        say(
            f"Creation latency through POST /api/artifacts/ (p50; {RECIPIENTS} recipients, relay waits "
            f"{RCPT_DELAY * 1000:.0f} ms per RCPT):"
        )
        latencies = [
            (f"ASYNC_EMAILS=all, {RECIPIENTS} recipients ({CREATIONS} creations)", async_p50),
            (f"ASYNC_EMAILS=all, no recipients ({CREATIONS} creations)", quiet_p50),
            (f"inline, {RECIPIENTS} recipients ({INLINE_CREATIONS} creations)", inline_p50),
        ]
        for label, value in latencies:
            say(f"  {label:<48} {value * 1000:8.1f} ms")
        say(f"  (the worker delivered {delivered_meanwhile} emails while the async creations ran)")
        say("")

        for shape in shapes:
            say(
                f"Worker throughput ({shape.jobs} jobs x {shape.recipients} recipients, sink without delay, "
                f"best of {ROUNDS}): {shape.best(shape.worker):,.0f} emails/s "
                f"(rounds: {rates(shape.worker)}; {shape.done} records done and {shape.connections} "
                "SMTP connection(s) in the last)"
            )
            say(
                f"Plain smtplib, the same {shape.messages} messages over one connection (best of {ROUNDS}): "
                f"{shape.best(shape.smtplib):,.0f} emails/s (rounds: {rates(shape.smtplib)})"
            )
        say(
            f"SQL queries of one notification job: {query_counts[5]} for 5 recipients, "
            f"{query_counts[RECIPIENTS]} for {RECIPIENTS}"
        )
        say("")
        ratios = [
            ("async latency / no-recipient latency", async_p50 / quiet_p50, "<=", 1.25),
            ("inline latency / async latency", inline_p50 / async_p50, ">=", 10),
        ]
        for shape in shapes:
            label = f"worker / smtplib, {shape.jobs} x {shape.recipients}"
            ratios.append((label, shape.best(shape.worker) / shape.best(shape.smtplib), ">=", 0.9))
        say(
            f"  {'small jobs, connection kept / one per job':<42} "
            f"{shapes[0].best(shapes[0].worker) / unkept.best(unkept.worker):8.2f}   "
            f"({unkept.best(unkept.worker):,.0f} emails/s and {unkept.connections} connections without; "
            f"rounds: {rates(unkept.worker)})"
        )
        for label, value, operator, target in ratios:
            met = value <= target if operator == "<=" else value >= target
            say(f"  {label:<42} {value:8.2f}   (target {operator} {target}: {'met' if met else 'NOT MET'})")
        for shape, floor in zip(shapes, floors, strict=True):
            smtplib_ms = shape.recipients * 1000 / shape.best(shape.smtplib)
            say(
                f"  {f'ceiling / smtplib, {shape.jobs} x {shape.recipients}':<42} "
                f"{floor.ceiling / shape.best(shape.smtplib):8.2f}   (a changeset's CPU: reading and "
                f"rendering {floor.reading_and_rendering * 1000:.2f} ms + serializing "
                f"{floor.serializing * 1000:.2f} ms, so one process sends at most {floor.ceiling:,.0f} "
                f"emails/s; smtplib: {smtplib_ms:.2f} ms a changeset)"
            )
        say(
            f"  {'queries, 50 recipients / 5 recipients':<42} "
            f"{query_counts[RECIPIENTS] / query_counts[5]:8.2f}   (target: 1.00, also asserted in the tests)"
        )
    finally:
        for process in processes:
            stop(process)
        slow_relay.stop()
        sink.stop()
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def replay(path: str, port: str) -> None:
    """Plain smtplib: send pre-rendered messages over one connection; print the seconds it took."""
    messages = pickle.loads(Path(path).read_bytes())  # written by main() just before
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", int(port)) as smtp:
        for mail_from, rcpt_tos, content in messages:
            smtp.sendmail(mail_from, rcpt_tos, content)
    print(time.perf_counter() - started)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--replay"]:
        replay(sys.argv[2], sys.argv[3])
    else:
        main()
