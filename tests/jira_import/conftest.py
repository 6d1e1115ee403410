"""Fixtures for the Jira import: the fake Jira (a real HTTP server on loopback) in both dialects.

The named world matters here: the Jira dataset's alice and bob share their emails (alice@example.com,
bob@example.com) with the test accounts alice and bob, carol hides hers in Jira, and dave (inactive
in Jira) has an active account here with the same email.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_jira import FakeJiraServer
from tests.support.fake_jira.fixtures import realistic_jira
from tests.support.workers import kill_tree


@pytest.fixture(autouse=True)
def _talks_to_the_fake_jira(jira_settings: None) -> None:
    """Every test here does."""


@pytest.fixture(params=["cloud", "server"])
def flavor(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def jira(flavor: str) -> Iterator[FakeJiraServer]:
    """The realistic dataset (DEMO and OPS), in the flavor of the test's parameter."""
    yield from realistic_jira(flavor)


# Worker subprocesses -------------------------------------------------------------------------------


class Worker:
    """``manage.py rqworker jira_import`` in its own process group (SIGKILL takes its work horse too)."""

    def __init__(self, manage_py: list[str], env: dict[str, str], *, burst: bool = True) -> None:
        args = [*manage_py, "rqworker", "jira_import"]
        if burst:
            args.append("--burst")
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, timeout: float = 120) -> str:
        output, _ = self.process.communicate(timeout=timeout)
        return output.decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its work horse (which RQ puts in a session of its own)."""
        kill_tree(self.process.pid)
        self.process.communicate(timeout=30)


@pytest.fixture
def worker_env(subprocess_env: dict[str, str], tmp_path: Path, settings) -> dict[str, str]:
    return {
        **subprocess_env,
        "JIRA_ALLOWED_HOSTS": "127.0.0.1",
        "JIRA_RETRY_MAX_DELAY": "1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SITE_URL": settings.SITE_URL,
        "WORKER_LOG": str(tmp_path / "worker.log"),
        "LOGGER_LEVEL": "debug",
    }


@pytest.fixture
def start_worker(manage_py: list[str]) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str], **kwargs: Any) -> Worker:
        worker = Worker(manage_py, env, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
