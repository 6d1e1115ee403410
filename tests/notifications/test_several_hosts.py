"""Several hosts: two web hosts and two worker hosts sharing one database and one Redis.

On this machine a "host" is a set of processes with its own ``WORKER_HOSTNAME`` (the host name its
workers register with in Redis), ``WORKER_RUN_DIR``, ``WORKER_LOG`` and gunicorn port; the database
(PostgreSQL when DATABASE_URL points at it, the tests' SQLite file otherwise) and Redis are shared,
as in production.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token
from rq import Worker

from tests import conftest as shared
from tests.monitoring.conftest import basic_auth
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tests.support.workers import ManagedProcess, alive, kill_pids_in, kill_tree, wait_until
from tests.system_check.conftest import context
from tracker.models import Changeset, NotificationRecord, Tracker, User
from tracker.system_check import workers as workers_check
from tracker.system_check.base import Level
from tracker.workers import hosts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

METRICS_SECRET = "metrics-secret-shared-by-every-host-0123456789"
HOSTS = ("worker-a", "worker-b")


@pytest.fixture
def start_host(start_supervisor, tmp_path: Path, redis_clean: shared.TestRedis) -> Iterator:
    """Start the supervisor of one worker "host": its own host name, run directory and log."""
    run_dirs: list[Path] = []

    def start(host: str, **env: str) -> ManagedProcess:
        run_dir = tmp_path / f"run-{host}"
        run_dirs.append(run_dir)
        return start_supervisor(
            WORKER_HOSTNAME=host,
            WORKER_RUN_DIR=str(run_dir),
            WORKER_LOG=str(tmp_path / f"worker-{host}.log"),
            **env,
        )

    yield start
    for run_dir in run_dirs:
        kill_pids_in(run_dir)  # the fixture's own cleanup only knows its default run directory
    # A worker of the crash loop has been seen to outlive its supervisor's clean stop (not yet
    # understood) and take the next test's first job: kill by pid every
    # process started with one of this test's run directories.
    markers = [f"WORKER_RUN_DIR={run_dir}".encode() for run_dir in run_dirs]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(marker in environ for marker in markers) and int(proc.name) != os.getpid():
            kill_tree(int(proc.name))


def registered_hosts(test_redis: shared.TestRedis) -> Counter[str]:
    return Counter(worker.hostname for worker in Worker.all(connection=test_redis.client()))


def reported(test_redis: shared.TestRedis) -> dict[str, hosts.HostReport]:
    return hosts.read_reports(test_redis.client())


def status(
    manage_py: list[str], env: dict[str, str], host: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*manage_py, "backend_workers", "status"],
        env={**env, "WORKER_HOSTNAME": host, "WORKER_RUN_DIR": str(tmp_path / f"run-{host}")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def lines_of(output: str, host: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"  {host}  ")]


class CrashLoop(threading.Thread):
    """Kills a worker slot's process each time its supervisor starts it again: a worker that keeps dying."""

    def __init__(self, pid_file: Path) -> None:
        super().__init__(name="crash-loop", daemon=True)
        self.pid_file = pid_file
        self.stopping = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            try:
                pid = int(self.pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def test_status_and_the_system_check_list_the_workers_of_each_host_and_name_the_dead_one(
    start_host,
    test_redis: shared.TestRedis,
    manage_py: list[str],
    worker_env: dict[str, str],
    tmp_path: Path,
    settings,
) -> None:
    supervisors = {host: start_host(host, NB_BACKEND_WORKERS="2") for host in HOSTS}
    # It should register every worker under its host's name, and each supervisor report its own.
    assert wait_until(lambda: registered_hosts(test_redis) == Counter(dict.fromkeys(HOSTS, 2)), timeout=90), (
        registered_hosts(test_redis),
        supervisors["worker-a"].output()[-2000:],
    )
    assert wait_until(lambda: set(reported(test_redis)) == set(HOSTS), timeout=30)

    # Seen from a web host (no supervisor, no pid files): every host's workers, under its name.
    result = status(manage_py, worker_env, "web-1", tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "The backend workers are not running (host web-1," in result.stdout
    for host in HOSTS:
        assert f"Host {host}: supervisor pid {supervisors[host].pid}" in result.stdout
        workers_there = lines_of(result.stdout, host)
        assert len(workers_there) == 2, result.stdout
        assert all(" running " in line and " registered" in line for line in workers_there), result.stdout
        assert sorted(line.split()[1] for line in workers_there) == ["jira_import", "notifications"]

    # A worker of worker-b that keeps dying: its host is named, worker-a is not blamed.
    crash_loop = CrashLoop(tmp_path / "run-worker-b" / "worker-notifications-1.pid")
    crash_loop.start()
    try:
        assert wait_until(
            lambda: (
                [w.label for w in reported(test_redis)["worker-b"].failing()] == ["notifications worker 1"]
                and crash_loop.kills >= 3
            ),
            timeout=60,
        ), supervisors["worker-b"].output()[-2000:]
        result = status(manage_py, worker_env, "worker-b", tmp_path)
        findings = workers_check.run(context())
    finally:
        crash_loop.stop()

    # On worker-b itself: its pid files and every host's report.
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    assert "(host worker-b, planned:" in result.stdout
    failing = [line for line in lines_of(result.stdout, "worker-b") if " notifications   worker 1 " in line]
    assert len(failing) == 1 and ("NOT RUNNING" in failing[0] or "crash loop" in failing[0]), result.stdout
    # The killed workers stay registered in Redis for minutes: said so, not taken for hand-run ones.
    assert "an earlier notifications worker 1, gone" in result.stdout
    assert "not started by a supervisor" not in result.stdout
    assert all(
        " running " in line and "crash loop" not in line for line in lines_of(result.stdout, "worker-a")
    )

    problems = [f for f in findings if f.level != Level.INFO]
    assert [f.message.split(":")[0] for f in problems] == ["Host worker-b"], [f.message for f in problems]
    assert problems[0].level == Level.ERROR
    assert "notifications worker 1" in problems[0].message
    assert "keeps exiting right after it starts" in problems[0].message
    infos = [f.message for f in findings if f.message.startswith("Host worker-a:")]
    assert infos == [
        "Host worker-a: 2 of 2 workers running (notifications 1, jira_import 1), 2 registered in Redis."
    ]

    # A host whose supervisor is gone (killed with its workers): the report goes stale, and says so.
    os.killpg(supervisors["worker-a"].pid, signal.SIGSTOP)
    try:
        assert wait_until(lambda: reported(test_redis)["worker-a"].stale(), timeout=hosts.STALE_SECONDS + 30)
        stale = [
            f for f in workers_check.run(context()) if f.message.startswith("Host worker-a: its supervisor")
        ]
        result = status(manage_py, worker_env, "web-1", tmp_path)
    finally:
        os.killpg(supervisors["worker-a"].pid, signal.SIGCONT)
    assert [f.level for f in stale] == [Level.WARNING]
    assert f"Host worker-a: supervisor pid {supervisors['worker-a'].pid}" in result.stdout
    assert "STALE, the supervisor stopped reporting" in result.stdout

    # A clean stop withdraws the host: nothing is reported missing afterwards.
    assert supervisors["worker-b"].terminate(timeout=60) == 0
    assert "worker-b" not in reported(test_redis)


# The layout: two web hosts, two worker hosts -------------------------------------------------------


def start_web(env: dict[str, str], tmp_path: Path, name: str) -> tuple[str, ManagedProcess]:
    port = free_port()
    process = ManagedProcess(
        [sys.executable, "-m", "gunicorn"],
        ["tuleap_backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        {**env, "LOGGER_LEVEL": "warning"},
        tmp_path / f"gunicorn-{name}.out",
    )
    return f"http://127.0.0.1:{port}", process


def answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/", timeout=2).status_code < 500
    except requests.RequestException:
        return False


def scrape(base: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(
        f"{base}/metrics", headers={"Authorization": basic_auth("metrics", METRICS_SECRET)}, timeout=30
    )
    assert response.status_code == 200, response.text[:500]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        # Ours only (django_* and python_* describe the process that answered). A counter's
        # `_created` sample is when the answering process created it: per process, not a total.
        if sample.name.startswith("tuleap_") and not sample.name.endswith("_created")
    }


def fail_with_what_is_left(test_redis: shared.TestRedis, tmp_path: Path) -> None:
    """What an unfinished record's job is in Redis, what the logs say of it, and who is connected."""
    client = test_redis.client()
    left = list(NotificationRecord.objects.filter(ended_at__isnull=True).values())
    jobs = {record["job_id"]: client.hget(f"rq:job:{record['job_id']}", "status") for record in left}
    logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
    pytest.fail(
        f"Unfinished records: {left}\nTheir jobs' RQ status: {jobs}\n"
        f"Jobs waiting: {client.llen('rq:queue:notifications')}\n"
        f"Log lines: {[line for line in logs.splitlines() if any(job in line for job in jobs)]}\n"
        f"Redis clients: {[(c.get('name'), c.get('cmd')) for c in client.client_list()]}"
    )


def what_happened_to(changesets: list[str], smtp: SMTPServer, tmp_path: Path) -> str:
    """For emails delivered twice: their records, each copy's connection and time, and the log lines."""
    records = list(NotificationRecord.objects.filter(changeset_id__in=changesets).values())
    copies = [
        (item.message["X-Tuleap-Changeset-Id"], item.rcpt_tos, item.peer, f"{item.at:.3f}")
        for item in smtp.received
        if item.message["X-Tuleap-Changeset-Id"] in changesets
    ]
    logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
    words = [
        *changesets,
        *(record["job_id"] for record in records),
        *(record["claimed_by"] for record in records),
    ]
    mentions = re.compile(r"\b(" + "|".join(re.escape(word) for word in words if word) + r")\b")
    lines = [line for line in logs.splitlines() if mentions.search(line)]
    return f"Delivered twice: {changesets}\nRecords: {records}\nCopies: {copies}\nLog lines: {lines}"


@pytest.fixture
def web_hosts(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[str]]:
    env = {**worker_env, "METRICS_SECRET": METRICS_SECRET}
    started = [start_web(env, tmp_path, name) for name in ("web-1", "web-2")]
    try:
        for base, process in started:
            assert wait_until(lambda base=base: answers(base), timeout=90), process.output()
        yield [base for base, _ in started]
    finally:
        for _, process in started:
            process.terminate(timeout=30)


def test_two_web_hosts_and_two_worker_hosts_deliver_every_email_once_and_agree_on_the_metrics(
    web_hosts: list[str],
    start_host,
    smtp: SMTPServer,
    test_redis: shared.TestRedis,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
    tmp_path: Path,
) -> None:
    for host in HOSTS:
        start_host(host, NB_BACKEND_WORKERS="2", METRICS_SECRET=METRICS_SECRET)
    assert wait_until(lambda: registered_hosts(test_redis) == Counter(dict.fromkeys(HOSTS, 2)), timeout=90)
    token = Token.objects.create(user=alice).key
    sessions = {base: requests.Session() for base in web_hosts}
    for session in sessions.values():
        session.headers["Authorization"] = f"Token {token}"

    def create(number: int, base: str) -> int:
        response = sessions[base].post(
            f"{base}/api/artifacts/",
            json={
                "tracker": bugs.pk,
                "values": {"title": f"Several hosts #{number}", "cc": ["bob", "carol"]},
            },
            timeout=30,
        )
        return response.status_code

    # 200 creations, alternating between the two web hosts, two clients at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(create, range(200), itertools.islice(itertools.cycle(web_hosts), 200)))
    assert Counter(statuses) == Counter({201: 200})

    def all_ended() -> bool:
        return not NotificationRecord.objects.filter(ended_at__isnull=True).exists()

    if not wait_until(all_ended, timeout=120):
        fail_with_what_is_left(test_redis, tmp_path)
    assert set(NotificationRecord.objects.values_list("status", flat=True)) == {
        NotificationRecord.Status.DONE
    }
    assert not NotificationRecord.objects.filter(fell_back_inline=True).exists()

    # Every email delivered exactly once.
    created = set(Changeset.objects.filter(artifact__tracker=bugs).values_list("pk", flat=True))
    assert len(created) == 200
    deliveries = smtp.deliveries()
    twice = {changeset for (changeset, _), count in deliveries.items() if count > 1}
    assert not twice, what_happened_to(sorted(twice), smtp, tmp_path)
    assert set(deliveries) == {
        (str(pk), address) for pk in created for address in ("bob@example.com", "carol@example.com")
    }

    # Both worker hosts did part of the work (RQ counts each worker's successful jobs in Redis). A job
    # may also send changesets queued behind its own (drain.py): fewer jobs than changesets is fine.
    done = Counter()
    for worker in Worker.all(connection=test_redis.client()):
        done[worker.hostname] += worker.successful_job_count
    print(f"\nJobs done per worker host: {dict(done)}")
    assert all(done[host] > 0 for host in HOSTS), done

    # Either web host gives the same totals: they are kept in Redis and the database, not per process.
    # Once the workers are idle nothing changes between the two scrapes (a scrape counts nothing of ours).
    first, second = scrape(web_hosts[0]), scrape(web_hosts[1])
    print(f"Metrics compared: {len(first)} tuleap_* samples from each web host.")
    assert first == second
    assert first[("tuleap_mails_total", frozenset({("mode", "async")}))] == 400
