"""``manage.py rqworker`` without a queue name, or with a wrong one: one line saying what to run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def manage(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
        "WORKER_LOG": str(tmp_path / "w.log"),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("command", ["rqworker", "rqworker-pool"])
def test_without_a_queue_name_it_says_which_command_to_run(command: str, tmp_path) -> None:
    result = manage(command, tmp_path=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "CommandError: Name the queue to work on, one of: notifications, jira_import, incoming_email;"
    )
    assert f"`manage.py {command} notifications`" in line
    assert "`manage.py backend_workers start`" in line
    assert "`manage.py notifications_sweep`" in line
    # It stopped before it started anything: no worker log written.
    assert not (tmp_path / "w.log").exists()


def test_an_unknown_queue_is_refused_naming_the_queues(tmp_path) -> None:
    result = manage("rqworker", "default", tmp_path=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "CommandError: No queue named default; the queues are: notifications, jira_import, incoming_email."
    )


def test_its_help_says_a_queue_name_is_required(tmp_path) -> None:
    result = manage("rqworker", "--help", tmp_path=tmp_path)

    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "A queue name is required" in text
    assert "manage.py backend_workers start" in text
    assert "manage.py notifications_sweep" in text


@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_its_log_to_worker_log_only(subprocess_env, manage_py, redis_clean, tmp_path) -> None:
    log = tmp_path / "log" / "worker.log"  # its folder does not exist yet
    env = {**subprocess_env, "WORKER_LOG": str(log), "LOGGER_LEVEL": "info"}

    result = subprocess.run(
        [*manage_py, "rqworker", "notifications", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stderr
    assert "Listening on notifications" in log.read_text()
    assert "Listening on" not in result.stdout + result.stderr
