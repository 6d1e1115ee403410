"""The email gateway under a burst: ``python -m bench.email_gateway``.

Against a throw-away SQLite database (or BENCH_DATABASE_URL, an empty database you can drop
afterwards), a private redis-server, an aiosmtpd relay (the comments notify the other people), two
real workers on the incoming_email queue (``manage.py rqworker incoming_email``, the supervisor's
in-process worker class) and ``manage.py notifications_sweep`` beside them, BENCH_REPLIES (500)
replies to notifications, each from the recipient it was sent to, are piped into ``manage.py
receive_email``, BENCH_CONCURRENCY (2) at a time, as a mail server's pipe transport runs them.
Printed side by side:

- the time each ``receive_email`` took to return (p50, p99, max; goal p99 < 0.5 s), against the same
  percentiles of a bare ``python -c "import django; django.setup()"`` run as many times at the same
  concurrency: the floor any Django command pays to start;
- the time from the first pipe to the last reply stored as a comment, with the 2 workers;
- the same BENCH_REPLIES through the fast pipe (``python -I -m tracker.email_gateway.pipe``, no
  Django: it only writes the spool, which the LMTP process stores every second), 2 at a time and then
  BENCH_WIDE_CONCURRENCY (100, Postfix's default_process_limit) at a time: the same percentiles, and
  the time from the first pipe to the last reply stored as a comment, with the 2 workers;
- the same BENCH_REPLIES through the LMTP server (``manage.py email_gateway``, one connection): the
  time each message takes to be accepted, and until all are comments (BENCH_LMTP=0 skips it).

Each phase prints its figures as soon as it ends; BENCH_RECEIVE_EMAIL_REPLIES (default BENCH_REPLIES)
bounds the slowest one, ``receive_email``.
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
# Postfix's default_process_limit: as many pipe processes as Postfix starts at most by default.
WIDE_CONCURRENCY = int(os.environ.get("BENCH_WIDE_CONCURRENCY", "100"))
RECEIVE_EMAIL_REPLIES = int(os.environ.get("BENCH_RECEIVE_EMAIL_REPLIES", str(REPLIES)))
WITH_LMTP = os.environ.get("BENCH_LMTP", "1") != "0"
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
        "EMAIL_GATEWAY_SPOOL_DIR": str(workdir / "spool"),
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


def burst(
    command: list[str], env: dict[str, str], inputs: list[bytes], concurrency: int = CONCURRENCY
) -> list[float]:
    return burst_each([(command, data) for data in inputs], env, concurrency)


def burst_each(
    runs: list[tuple[list[str], bytes]], env: dict[str, str], concurrency: int = CONCURRENCY
) -> list[float]:
    """Run each ``(command, input)``, ``concurrency`` at a time; each one's time to return."""
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda run: timed(run[0], env, run[1]), runs))


def fast_pipe(sender: str, recipient: str) -> list[str]:
    """The README's Postfix command for the fast pipe."""
    return [
        sys.executable,
        "-I",
        "-m",
        "tracker.email_gateway.pipe",
        "--sender",
        sender,
        "--recipient",
        recipient,
    ]


def reply(sender: str, address: str, number: int) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, address, "Re: [bug #1] Crash"
    message["Message-ID"] = f"<reply-{number}@mail.example.com>"
    message.set_content(
        f"Reply number {number}.\n\nOn Wed, Dec 2, 2026 at 10:00 AM Tuleap <noreply@localhost> wrote:\n"
        "> Alice changed bug #1\n> ...\n"
    )
    return message.as_bytes()


def line(label: str, samples: list[float]) -> str:
    return (
        f"  {label:<30} p50 {statistics.median(samples) * 1000:8.1f} ms  "
        f"p99 {percentile(samples, 0.99) * 1000:8.1f} ms  max {max(samples) * 1000:8.1f} ms"
    )


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
        from django.db.models import Count

        from tracker.email_gateway import spool, tokens
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

        def replies_to(title: str, count: int) -> tuple[Artifact, list[tuple[str, str, bytes]]]:
            """A new artifact, and ``count`` replies to it: (envelope sender, recipient, message)."""
            target = create_artifact(tracker, author=author, values={"title": title}, notify=False).artifact
            messages = []
            for number in range(count):
                person = people[number % PEOPLE]
                address = tokens.reply_address(person.pk, target.pk)
                messages.append((person.email, address, reply(person.email, address, number)))
            return target, messages

        say(
            f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
            f"database {connection.vendor}, load average {os.getloadavg()[0]:.2f}"
        )
        say(f"{REPLIES} replies a phase; 2 workers on incoming_email.")

        # The floor: starting Django alone, as often and as concurrently as the burst.
        baseline = burst([sys.executable, "-c", "import django; django.setup()"], env, [b""] * BASELINE_RUNS)
        say(line(f"django.setup() alone, {CONCURRENCY} at a time", baseline))

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
        # The recovery sweep beside them, as the README's by-hand set-up runs it: under a heavy burst some
        # enqueues miss their deadline (or meet the open breaker), and their records wait for it.
        workers.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "notifications_sweep"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(workdir / "sweep.log", "wb"),  # noqa: SIM115 - lives as long as the process
            )
        )
        from rq import Worker

        deadline = time.monotonic() + 120
        while len(Worker.all(connection=redis_server.client())) < 2:
            if time.monotonic() > deadline:
                raise SystemExit("The workers did not start.")
            time.sleep(0.1)

        spool_dir = Path(env["EMAIL_GATEWAY_SPOOL_DIR"])

        def wait_for_comments(target: Artifact) -> int:
            """Until every record ended (its comment is stored just before); the comments of ``target``.

            A refusal shows in the statuses printed at the end.
            """
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                if (
                    spool.oldest(spool_dir)[0] == 0
                    and not InboundEmail.objects.filter(status="received").exists()
                ):
                    break
                time.sleep(0.1)
            return Changeset.objects.filter(artifact=target, is_creation=False).count()

        # The LMTP server, which also stores the spool the fast pipe writes (every second).
        lmtp_port = free_port()
        lmtp = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "email_gateway"],
            env={**env, "EMAIL_GATEWAY_LISTEN": f"127.0.0.1:{lmtp_port}"},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(lmtp)
        deadline = time.monotonic() + 120
        while True:
            try:
                # Only to know it listens: the phase opens its own connection (the server closes an idle
                # one after aiosmtpd's 5 minutes).
                smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("The LMTP server did not start.") from None
                time.sleep(0.1)

        targets: list[tuple[Artifact, int]] = []

        # 1. The fast pipe, a process per message as a pipe transport runs it: 2, then 100 at a time.
        for concurrency in (CONCURRENCY, WIDE_CONCURRENCY):
            target, messages = replies_to(f"Pipe x{concurrency}", REPLIES)
            targets.append((target, REPLIES))
            started = time.monotonic()
            pipe_times = burst_each(
                [(fast_pipe(sender, address), data) for sender, address, data in messages], env, concurrency
            )
            piped = time.monotonic() - started
            comments = wait_for_comments(target)
            say(line(f"fast pipe, {concurrency} at a time", pipe_times))
            say(
                f"    all returned after {piped:.1f} s; all {comments} comments after "
                f"{time.monotonic() - started:.1f} s"
            )

        # 2. manage.py receive_email, a process per message too.
        target, messages = replies_to("receive_email", RECEIVE_EMAIL_REPLIES)
        receive_email = [sys.executable, str(ROOT / "manage.py"), "receive_email"]
        targets.append((target, RECEIVE_EMAIL_REPLIES))
        started = time.monotonic()
        receive = burst_each(
            [
                (
                    [*receive_email, "--sender", sender, "--recipient", address],
                    data,
                )
                for sender, address, data in messages
            ],
            env,
        )
        piped = time.monotonic() - started
        comments = wait_for_comments(target)
        say(line(f"receive_email, {CONCURRENCY} at a time", receive))
        say(
            f"    {RECEIVE_EMAIL_REPLIES} returned after {piped:.1f} s; all {comments} comments after "
            f"{time.monotonic() - started:.1f} s; receive_email / django.setup() alone: p50 "
            f"{statistics.median(receive) / statistics.median(baseline):.2f}, p99 "
            f"{percentile(receive, 0.99) / percentile(baseline, 0.99):.2f}"
        )

        # 3. The LMTP server: one process already running, one connection.
        if WITH_LMTP:
            target, messages = replies_to("LMTP", REPLIES)
            targets.append((target, REPLIES))
            lmtp_times = []
            started = time.monotonic()
            with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30) as client:
                for sender, address, data in messages:
                    began = time.perf_counter()
                    client.sendmail(sender, [address], data)
                    lmtp_times.append(time.perf_counter() - began)
            delivered = time.monotonic() - started
            comments = wait_for_comments(target)
            say(line("LMTP, per message", lmtp_times))
            say(
                f"    all accepted after {delivered:.1f} s; all {comments} comments after "
                f"{time.monotonic() - started:.1f} s"
            )

        statuses = dict(InboundEmail.objects.values_list("status").annotate(n=Count("id")).order_by())
        exact = all(
            set(
                Changeset.objects.filter(artifact=target, is_creation=False).values_list("comment", flat=True)
            )
            == {f"Reply number {n}." for n in range(count)}
            for target, count in targets
        )
        say(f"  records: {statuses}; every comment exactly its reply's new text: {exact}")
        handed = max(
            (workdir / name).read_text(errors="replace").count("inbound emails handed to new jobs")
            for name in ("sweep.log", "worker.log")
            if (workdir / name).exists()
        )
        say(f"  sweeps that handed inbound emails whose enqueue had failed to new jobs: {handed}")
        say(f"  load average at the end: {os.getloadavg()[0]:.2f}")
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
