"""``manage.py backend_workers start|stop|status``: the supervisor a service manager runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
from rq import Worker

from tests.support.smtp import SMTPServer
from tests.support.workers import alive, wait_until
from tracker.models import Changeset, NotificationRecord, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.workers.pidfiles import worker_states
from tracker.workers.supervisor import planned_workers
from tuleap_backend.env import AsyncEmails


@pytest.mark.parametrize(
    ("workers", "async_emails", "plan"),
    [
        (2, frozenset(), {"jira_import": 1, "notifications": 1}),
        (2, "all", {"notifications": 1, "jira_import": 1}),
        (5, "all", {"notifications": 4, "jira_import": 1}),
        (0, "all", {"notifications": 1}),
        (0, frozenset({3}), {"notifications": 1}),
        (0, frozenset(), {}),
        (1, frozenset(), {"jira_import": 1}),
        (1, "all", {"notifications": 1}),
    ],
)
def test_the_plan_follows_nb_backend_workers_and_async_emails(settings, workers, async_emails, plan) -> None:
    settings.NB_BACKEND_WORKERS = workers
    settings.ASYNC_EMAILS = AsyncEmails(async_emails)

    assert planned_workers() == plan


def status(manage_py: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*manage_py, "backend_workers", "status"], env=env, capture_output=True, text=True, timeout=60
    )


def running_workers(settings, tmp_path) -> list:
    settings.WORKER_RUN_DIR = str(tmp_path / "run")
    return [state for state in worker_states() if state.alive]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_starts_the_planned_workers_each_on_one_queue(
    start_supervisor, manage_py, worker_env, test_redis, settings, tmp_path
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="3")

    assert wait_until(lambda: len(running_workers(settings, tmp_path)) == 3, timeout=60), supervisor.output()
    assert wait_until(lambda: len(Worker.all(connection=test_redis.client())) == 3, timeout=60)
    queues = sorted(worker.queue_names()[0] for worker in Worker.all(connection=test_redis.client()))
    assert queues == ["jira_import", "notifications", "notifications"]
    assert all(len(worker.queue_names()) == 1 for worker in Worker.all(connection=test_redis.client()))
    result = status(manage_py, {**worker_env, "NB_BACKEND_WORKERS": "3"})
    assert result.returncode == 0, result.stdout
    assert f"Supervisor: running, pid {supervisor.pid}" in result.stdout
    assert result.stdout.count(" alive ") == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_with_async_emails_on_and_no_workers_asked_one_still_runs(
    start_supervisor, test_redis, settings, tmp_path
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="0", ASYNC_EMAILS="all")

    assert wait_until(lambda: len(Worker.all(connection=test_redis.client())) == 1, timeout=60), (
        supervisor.output()
    )
    [worker] = Worker.all(connection=test_redis.client())
    assert worker.queue_names() == ["notifications"]
    assert [state.queue for state in running_workers(settings, tmp_path)] == ["notifications"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_killed_with_sigkill_is_restarted(start_supervisor, settings, tmp_path) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="2")
    assert wait_until(lambda: len(running_workers(settings, tmp_path)) == 2, timeout=60), supervisor.output()
    victim = next(state for state in running_workers(settings, tmp_path) if state.queue == "notifications")

    os.kill(victim.pid, signal.SIGKILL)

    def replaced() -> bool:
        states = running_workers(settings, tmp_path)
        return len(states) == 2 and victim.pid not in {state.pid for state in states}

    assert wait_until(replaced, timeout=30), supervisor.output()
    assert re.search(
        rf"Notifications worker 1 \(pid {victim.pid}\) exited with status -9", supervisor.output()
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_sigterm_lets_the_job_in_progress_finish_then_stops_everything(
    start_supervisor, smtp: SMTPServer, async_all, settings, tmp_path, bugs: Tracker, alice: User, bob: User
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="2")
    assert wait_until(lambda: len(running_workers(settings, tmp_path)) == 2, timeout=60), supervisor.output()
    workers = running_workers(settings, tmp_path)
    smtp.behaviour.hold_after = 0  # the mail server hangs: the job is in progress
    changeset = create_artifact(bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    assert smtp.behaviour.holding.wait(timeout=60)

    supervisor.process.send_signal(signal.SIGTERM)
    # The workers were asked to stop, yet the job in progress is not interrupted...
    assert wait_until(lambda: "warm shut down requested" in (tmp_path / "worker.log").read_text(), timeout=30)
    assert supervisor.process.poll() is None
    smtp.behaviour.hold_after = None

    # ...it completes, then every process exits and the pid files are gone.
    assert supervisor.process.wait(timeout=60) == 0
    assert who_got_it(smtp, changeset) == ["bob@example.com"]
    assert NotificationRecord.objects.get(changeset=changeset).status == NotificationRecord.Status.DONE
    assert wait_until(lambda: not any(alive(state.pid) for state in workers), timeout=30)
    assert list((tmp_path / "run").glob("*.pid")) == []


def who_got_it(smtp: SMTPServer, changeset: Changeset) -> list[str]:
    return [
        address
        for (changeset_id, address), count in smtp.deliveries().items()
        if changeset_id == str(changeset.pk)
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_second_start_is_refused_and_stop_stops_the_first(
    start_supervisor, manage_py, worker_env, settings, tmp_path
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="1")
    assert wait_until(lambda: len(running_workers(settings, tmp_path)) == 1, timeout=60), supervisor.output()

    second = subprocess.run(
        [*manage_py, "backend_workers", "start"], env=worker_env, capture_output=True, text=True, timeout=60
    )

    assert second.returncode == 1
    assert f"already running (supervisor pid {supervisor.pid}" in second.stderr
    assert supervisor.process.poll() is None

    stop = subprocess.run(
        [*manage_py, "backend_workers", "stop"], env=worker_env, capture_output=True, text=True, timeout=120
    )
    assert stop.returncode == 0 and "Stopped." in stop.stdout
    assert supervisor.process.wait(timeout=10) == 0
    assert status(manage_py, worker_env).returncode == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_stale_pid_file_does_not_prevent_a_start(
    start_supervisor, manage_py, worker_env, settings, tmp_path
) -> None:
    # A supervisor killed with SIGKILL leaves its pid file behind (here with a pid that is not ours).
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "backend_workers.pid").write_text("999999\n")
    assert status(manage_py, worker_env).returncode == 3

    supervisor = start_supervisor(NB_BACKEND_WORKERS="1")

    assert wait_until(lambda: len(running_workers(settings, tmp_path)) == 1, timeout=60), supervisor.output()
    assert (run_dir / "backend_workers.pid").read_text().split()[0] == str(supervisor.pid)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_every_line_the_supervisor_logs_starts_with_the_time_and_its_pid(
    start_supervisor, settings, tmp_path
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="1")
    log_file = tmp_path / "worker.log"
    assert wait_until(
        lambda: log_file.exists() and "Listening on notifications" in log_file.read_text(), timeout=60
    )
    supervisor.terminate()

    lines = [line for line in supervisor.output().splitlines() if "tracker.workers.supervisor" in line]
    assert len(lines) >= 4  # started, worker started, stopping, stopped
    prefix = re.compile(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} \[{supervisor.pid}\] ")
    assert all(prefix.match(line) for line in lines), lines
    # The same lines are in the worker log, next to the workers' own.
    assert "Backend workers supervisor started" in log_file.read_text()
