"""The email gateway under a burst: ``python -m bench.email_gateway``.

Against a throw-away SQLite database (or BENCH_DATABASE_URL, an empty database you can drop
afterwards), a private redis-server, an aiosmtpd relay (the comments notify the other people) and two
real workers on the incoming_email queue (``manage.py rqworker incoming_email``, the supervisor's
in-process worker class), BENCH_REPLIES (500) replies to notifications, each from the recipient it was
sent to, are piped into ``manage.py receive_email``, BENCH_CONCURRENCY (2) at a time, as a mail server's
pipe transport runs them. Printed side by side:

- the time each ``receive_email`` took to return (p50, p99, max; goal p99 < 0.5 s), against the same
  percentiles of a bare ``python -c "import django; django.setup()"`` run as many times at the same
  concurrency: the floor any Django command pays to start;
- the time from the first pipe to the last reply stored as a comment, with the 2 workers;
- the same BENCH_REPLIES through the LMTP server (``manage.py email_gateway``, one connection): the
  time each message takes to be accepted, and until all are comments.
"""

from __future__ import annotations

import os
import platform
import secrets
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPLIES = int(os.environ.get("BENCH_REPLIES", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "2"))
BASELINE_RUNS = int(os.environ.get("BENCH_BASELINE_RUNS", "100"))
PEOPLE = 10
DOMAIN = "tracker.example.org"


def say(message: str) -> None:
    print(message, flush=True)


def configure(workdir: Path, redis_url: str, smtp_port: int) -> dict[str, str]:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver,localhost",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "REDIS_URL": redis_url,
        "ASYNC_EMAILS": "",
        "EMAIL_GATEWAY_DOMAIN": DOMAIN,
        # One sender writes a hundred replies here: the per-sender limit would refuse most.
        "EMAIL_GATEWAY_SENDER_MAX_PER_HOUR": "0",
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


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(command: list[str], env: dict[str, str], data: bytes = b"") -> float:
    began = time.perf_counter()
    done = subprocess.run(command, input=data, env=env, cwd=ROOT, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[-2:])} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def burst(command: list[str], env: dict[str, str], inputs: list[bytes]) -> list[float]:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda data: timed(command, env, data), inputs))


def reply(sender: str, address: str, number: int) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, address, "Re: [bug #1] Crash"
    message["Message-ID"] = f"<reply-{number}@mail.example.com>"
    message.set_content(
        f"Reply number {number}.\n\nOn Wed, Dec 2, 2026 at 10:00 AM Tuleap <noreply@localhost> wrote:\n"
        "> Alice changed bug #1\n> ...\n"
    )
    return message.as_bytes()


def main() -> None:
    from tests.support.redis_server import RedisServer, free_port
    from tests.support.smtp import SMTPServer

    warnings.filterwarnings("ignore", message="No directory at")
    workdir = Path(tempfile.mkdtemp(prefix="tuleap-bench-gateway-"))
    redis_server = RedisServer("--appendonly", "no")
    relay = SMTPServer()
    env = configure(workdir, redis_server.url, relay.port)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from tracker.email_gateway import tokens
        from tracker.models import Artifact, Changeset, InboundEmail, User
        from tracker.services.artifacts import create_artifact
        from tracker.services.projects import create_project, set_member
        from tracker.services.trackers import TrackerSpec, create_tracker

        call_command("migrate", verbosity=0)
        author = User.objects.create_user("author", "author@example.com", "a-long-bench-password")
        people = User.objects.bulk_create(
            [User(username=f"person{i:02d}", email=f"person{i:02d}@example.com") for i in range(PEOPLE)]
        )
        project = create_project(shortname="bench", name="Bench", creator=author)
        for person in people:
            set_member(project, person)
        tracker = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))
        artifact = create_artifact(tracker, author=author, values={"title": "Crash"}, notify=False).artifact
        lmtp_artifact = create_artifact(
            tracker, author=author, values={"title": "Hang"}, notify=False
        ).artifact
        inputs = [
            reply(person.email, tokens.reply_address(person.pk, artifact.pk), number)
            for number in range(REPLIES)
            for person in [people[number % PEOPLE]]
        ]

        # The floor: starting Django alone, as often and as concurrently as the burst.
        baseline = burst([sys.executable, "-c", "import django; django.setup()"], env, [b""] * BASELINE_RUNS)

        for index in range(2):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "manage.py"),
                        "rqworker",
                        "incoming_email",
                        "--worker-class",
                        "tracker.workers.classes.InProcessWorker",
                        "--with-scheduler",
                        "--name",
                        f"bench-{index}",
                    ],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from rq import Worker

        deadline = time.monotonic() + 120
        while len(Worker.all(connection=redis_server.client())) < 2:
            if time.monotonic() > deadline:
                raise SystemExit("The workers did not start.")
            time.sleep(0.1)

        def wait_for_comments(target: Artifact, count: int) -> int:
            comments = Changeset.objects.filter(artifact=target, is_creation=False)
            deadline = time.monotonic() + 1800
            while comments.count() < count and time.monotonic() < deadline:
                if not InboundEmail.objects.filter(status="received").exists():
                    break  # every record ended: a refusal shows in the statuses printed
                time.sleep(0.1)
            return comments.count()

        # 1. Through the LMTP server: one process already running, one connection.
        lmtp_port = free_port()
        lmtp = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "email_gateway"],
            env={**env, "EMAIL_GATEWAY_LISTEN": f"127.0.0.1:{lmtp_port}"},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(lmtp)
        lmtp_inputs = [
            (
                person.email,
                tokens.reply_address(person.pk, lmtp_artifact.pk),
                reply(person.email, tokens.reply_address(person.pk, lmtp_artifact.pk), n),
            )
            for n in range(REPLIES)
            for person in [people[n % PEOPLE]]
        ]
        deadline = time.monotonic() + 120
        while True:
            try:
                client = smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("The LMTP server did not start.") from None
                time.sleep(0.1)
        lmtp_times = []
        started = time.monotonic()
        with client:
            for sender, address, data in lmtp_inputs:
                began = time.perf_counter()
                client.sendmail(sender, [address], data)
                lmtp_times.append(time.perf_counter() - began)
        lmtp_delivered = time.monotonic() - started
        lmtp_comments = wait_for_comments(lmtp_artifact, REPLIES)
        lmtp_done = time.monotonic() - started

        # 2. Through manage.py receive_email, a process per message as a pipe transport runs it.
        started = time.monotonic()
        receive = burst([sys.executable, str(ROOT / "manage.py"), "receive_email"], env, inputs)
        piped = time.monotonic() - started
        pipe_comments = wait_for_comments(artifact, REPLIES)
        all_done = time.monotonic() - started
        statuses = dict(
            InboundEmail.objects.values_list("status").annotate(n=django.db.models.Count("id")).order_by()
        )
        expected = {f"Reply number {n}." for n in range(REPLIES)}
        exact = all(
            set(
                Changeset.objects.filter(artifact=target, is_creation=False).values_list("comment", flat=True)
            )
            == expected
            for target in (artifact, lmtp_artifact)
        )

        def line(label: str, samples: list[float]) -> str:
            return (
                f"  {label:<24} p50 {statistics.median(samples) * 1000:8.1f} ms  "
                f"p99 {percentile(samples, 0.99) * 1000:8.1f} ms  max {max(samples) * 1000:8.1f} ms"
            )

        say("")
        say(
            f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
            f"database {connection.vendor}, load average {os.getloadavg()[0]:.2f}"
        )
        say(f"{REPLIES} replies each way; pipes {CONCURRENCY} at a time; 2 workers on incoming_email.")
        say(line("receive_email (pipe)", receive))
        say(line("django.setup() alone", baseline))
        say(line("LMTP, per message", lmtp_times))
        say(
            f"  receive_email / django.setup() alone: p50 "
            f"{statistics.median(receive) / statistics.median(baseline):.2f}, p99 "
            f"{percentile(receive, 0.99) / percentile(baseline, 0.99):.2f} (goal: receive_email p99 < 500 ms)"
        )
        say(
            f"  pipe: all returned after {piped:.1f} s, all {pipe_comments} comments after {all_done:.1f} s; "
            f"LMTP: all accepted after {lmtp_delivered:.1f} s, all {lmtp_comments} comments after "
            f"{lmtp_done:.1f} s"
        )
        say(f"  records: {statuses}; every comment exactly its reply's new text: {exact}")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        relay.stop()
        redis_server.stop()


if __name__ == "__main__":
    main()
