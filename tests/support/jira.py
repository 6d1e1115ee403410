"""The Jira side of the tests: the fake's ids, credentials and logins for each flavor, imports made
the way the wizard or a worker makes them, and readers of what an import wrote.

The fake Jira is a real HTTP server on loopback (:mod:`tests.support.fake_jira`); loopback is refused
by the URL guard unless listed in JIRA_ALLOWED_HOSTS, which :func:`jira_settings` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, SERVER_PAT, FakeJiraServer
from tests.support.redis_server import free_port
from tracker.jira_import import services, vault
from tracker.jira_import.credentials import JiraCredentials
from tracker.models import JiraImport, Project, User

# Ids of the fake's issue types (tests/support/fake_jira/catalog.py).
TASK, BUG, STORY, EPIC, SUBTASK = "10001", "10002", "10003", "10004", "10005"


@pytest.fixture
def jira_settings(settings, tmp_path: Path) -> None:
    """Settings of every test that talks to the fake Jira (conftests make it autouse where they all do)."""
    settings.JIRA_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Waits between retries stay short: Retry-After: 1 still waits 1 to 2 seconds.
    settings.JIRA_RETRY_MAX_DELAY = 2
    settings.JIRA_MAX_RETRIES = 2
    settings.SITE_URL = "https://tuleap.example.com"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_down(settings) -> str:
    """The jira_import queue's Redis is a closed port: imports are unavailable."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        settings.JIRA_IMPORT_QUEUE: {**settings.RQ_QUEUES[settings.JIRA_IMPORT_QUEUE], "URL": url},
    }
    return url


# Credentials and logins ------------------------------------------------------------------------------


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


def cloud_login(srv: FakeJiraServer, **changes: str) -> dict[str, str]:
    """Step 1's form for Jira Cloud: email address and API token."""
    return {
        "url": srv.url,
        "deployment": "cloud",
        "username": CLOUD_EMAIL,
        "token": CLOUD_API_TOKEN,
        **changes,
    }


def server_login(srv: FakeJiraServer, **changes: str) -> dict[str, str]:
    """Step 1's form for Jira Data Center: a personal access token."""
    return {"url": srv.url, "deployment": "server_token", "username": "", "token": SERVER_PAT, **changes}


def login_for(srv: FakeJiraServer, **changes: str) -> dict[str, str]:
    return cloud_login(srv, **changes) if srv.cloud else server_login(srv, **changes)


def api_body(srv: FakeJiraServer, **changes: Any) -> dict[str, Any]:
    """The credentials part of an API request for the server's flavor."""
    body: dict[str, Any] = (
        {"url": srv.url, "username": CLOUD_EMAIL, "token": CLOUD_API_TOKEN}
        if srv.cloud
        else {"url": srv.url, "token": SERVER_PAT}
    )
    body.update(changes)
    return body


# Imports ---------------------------------------------------------------------------------------------


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


def pending_import(project: Project, requester: User | None, **fields: Any) -> JiraImport:
    """An import as the wizard leaves it, written directly (no Jira needed)."""
    values: dict[str, Any] = {
        "project": project,
        "requested_by": requester,
        "jira_url": "https://jira.example.com",
        "flavor": "cloud",
        "username": CLOUD_EMAIL,
        "token_encrypted": vault.encrypt(CLOUD_API_TOKEN),
        "jira_project_key": "DEMO",
        "jira_project_name": "Demo Project",
        "issue_type_id": BUG,
        "issue_type_name": "Bug",
        "tracker_name": "Demo Project Bug",
        "tracker_shortname": "demo-bug",
    }
    values.update(fields)
    return JiraImport.objects.create(**values)


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
    from tracker.services.history import tracker_fields
    from tracker.services.value_rendering import ValueRenderer

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
