"""Fixtures for the Jira import's wizard and pages: the fake Jira, a wizard, and for the browser tests
a page, an SMTP sink and a Jira import worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.support.browser import chromium_page
from tests.support.fake_jira import FakeJiraData, FakeJiraServer
from tests.support.jira_wizard import Wizard
from tests.support.smtp import SMTPServer
from tracker.models import Project, User


@pytest.fixture(autouse=True)
def _talks_to_the_fake_jira(jira_settings: None) -> None:
    """Every test here does."""


@pytest.fixture
def wizard(client_as: Callable[[User], Client], public_project: Project, alice: User) -> Wizard:
    """Alice, administrator of the public project, in the wizard."""
    return Wizard(client_as(alice), public_project)


# For the browser tests ---------------------------------------------------------------------------


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=30_000) as browser_page:
        yield browser_page


@pytest.fixture
def jira() -> Iterator[FakeJiraServer]:
    with FakeJiraServer(FakeJiraData.realistic(), flavor="cloud") as server:
        # Each page of issues takes a moment, so that the import is seen in progress.
        server.delay(r"/search", 1.0)
        yield server


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def start_worker(
    manage_py: list[str], subprocess_env: dict[str, str], smtp: SMTPServer, live_server, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """``manage.py rqworker jira_import``, in its own process group, sending its emails to ``smtp``."""
    started: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "worker.out"

    def start() -> subprocess.Popen[bytes]:
        env = {
            **subprocess_env,
            **smtp.env(),
            "JIRA_ALLOWED_HOSTS": "127.0.0.1",
            "JIRA_IMPORT_PAGE_SIZE": "1",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SITE_URL": live_server.url,
            "WORKER_LOG": str(tmp_path / "worker.log"),
            "LOGGER_LEVEL": "info",
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*manage_py, "rqworker", "jira_import"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        # The worker's process group: the worker and its work horse, and nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    if log.exists():
        print(log.read_text(errors="replace")[-5000:])
