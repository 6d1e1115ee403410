"""Fixtures for the Jira import: the fake Jira (a real HTTP server on loopback) in both dialects.

The named world matters here: the Jira dataset's alice and bob share their emails (alice@example.com,
bob@example.com) with the test accounts alice and bob, carol hides hers in Jira, and dave (inactive
in Jira) has an active account here with the same email.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_jira import (
    CLOUD_API_TOKEN,
    CLOUD_EMAIL,
    SERVER_PAT,
    FakeJiraServer,
)
from tests.support.fake_jira.fixtures import cloud, realistic_jira, server  # noqa: F401 (fixtures)
from tests.support.workers import kill_tree
from tracker.jira_import import services
from tracker.jira_import.credentials import JiraCredentials
from tracker.models import JiraImport, Project, User

# Ids of the fake's issue types (tests/support/fake_jira/catalog.py).
TASK, BUG, STORY, EPIC, SUBTASK = "10001", "10002", "10003", "10004", "10005"


@pytest.fixture(autouse=True)
def jira_settings(settings, tmp_path: Path) -> None:
    settings.JIRA_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Waits between retries stay short: Retry-After: 1 still waits 1 to 2 seconds.
    settings.JIRA_RETRY_MAX_DELAY = 2
    settings.JIRA_MAX_RETRIES = 2
    settings.SITE_URL = "https://tuleap.example.com"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(params=["cloud", "server"])
def flavor(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def jira(flavor: str) -> Iterator[FakeJiraServer]:
    """The realistic dataset (DEMO and OPS), in the flavor of the test's parameter."""
    yield from realistic_jira(flavor)


def credentials_for(srv: FakeJiraServer, **changes: str) -> JiraCredentials:
    """The right credentials for the server's flavor: Cloud email + API token, Server Bearer PAT."""
    values = (
        {"url": srv.url, "username": CLOUD_EMAIL, "token": CLOUD_API_TOKEN}
        if srv.cloud
        else {"url": srv.url, "username": "", "token": SERVER_PAT}
    )
    values.update(changes)
    return JiraCredentials(**values)


def token_of(srv: FakeJiraServer) -> str:
    return CLOUD_API_TOKEN if srv.cloud else SERVER_PAT


def new_import(
    srv: FakeJiraServer,
    project: Project,
    requester: User | None,
    issue_type_id: str = BUG,
    *,
    name: str = "Jira bugs",
    shortname: str = "jbug",
    **credential_changes: str,
) -> JiraImport:
    """A pending import, created the way the wizard does it (checked against the fake Jira)."""
    return services.create_import(
        project=project,
        requested_by=requester,
        credentials=credentials_for(srv, **credential_changes),
        jira_project_key="DEMO",
        issue_type_id=issue_type_id,
        tracker_name=name,
        tracker_shortname=shortname,
    )


def pending_row(
    srv_url: str,
    project: Project,
    requester: User | None,
    *,
    token: str,
    username: str = "",
    key: str = "DEMO",
) -> JiraImport:
    """A pending import written directly, for URLs and credentials the wizard would have refused."""
    from tracker.jira_import import vault

    return JiraImport.objects.create(
        project=project,
        requested_by=requester,
        jira_url=srv_url,
        username=username,
        token_encrypted=vault.encrypt(token),
        jira_project_key=key,
        issue_type_id=BUG,
        issue_type_name="Bug",
        tracker_name="Jira bugs",
        tracker_shortname="jbug",
    )


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


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


# Reading what was imported -------------------------------------------------------------------------


def artifact_by_key(tracker: Any, key: str) -> Any:
    from tracker.models import Artifact, Field

    field_ = Field.objects.get(tracker=tracker, name="jira_key")
    for artifact in Artifact.objects.filter(tracker=tracker):
        if artifact.current_values.get(str(field_.pk)) == key:
            return artifact
    raise AssertionError(f"no artifact for {key}")


def readable(artifact: Any, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Values by field name, as the API shows them (usernames, option labels), empty ones left out."""
    from tracker.services.history import ValueRenderer, tracker_fields

    fields = tracker_fields(artifact.tracker)
    values = artifact.current_values if values is None else values
    renderer = ValueRenderer.for_values(fields, [values])
    shown = {f.name: renderer.api(f, values.get(str(f.pk))) for f in fields if str(f.pk) in values}
    return {name: value for name, value in shown.items() if value not in (None, [])}


def changesets_of(artifact: Any) -> list[Any]:
    return list(
        artifact.changesets.select_related("author").prefetch_related("values").order_by("submitted_on", "id")
    )


def values_of(changeset: Any) -> dict[str, Any]:
    return readable(changeset.artifact, {str(v.field_id): v.value for v in changeset.values.all()})


def replayed(artifact: Any) -> dict[str, Any]:
    """current_values rebuilt from the history, the way the artifact service keeps it."""
    state: dict[str, Any] = {}
    for changeset in changesets_of(artifact):
        for value in changeset.values.all():
            state[str(value.field_id)] = value.value
    return state
