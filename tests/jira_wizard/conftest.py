"""Fixtures for the Jira import's wizard, pages and API: the fake Jira and browser-like clients.

The fake Jira is a real HTTP server on loopback (tests/support/fake_jira); loopback is refused by the
URL guard unless listed in JIRA_ALLOWED_HOSTS, which these tests do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, SERVER_PAT, FakeJiraServer
from tests.support.fake_jira.fixtures import cloud, server  # noqa: F401 (fixtures)
from tests.support.redis_server import free_port
from tracker.jira_import import vault
from tracker.models import JiraImport, Project, User

# Ids of the fake's issue types (tests/support/fake_jira/catalog.py).
TASK, BUG, STORY = "10001", "10002", "10003"


@pytest.fixture(autouse=True)
def jira_settings(settings, tmp_path: Path) -> None:
    settings.JIRA_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JIRA_RETRY_MAX_DELAY = 1
    settings.JIRA_MAX_RETRIES = 1
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


@pytest.fixture
def client_as(db: None) -> Callable[[User], Client]:
    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


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


def token_of(srv: FakeJiraServer) -> str:
    return CLOUD_API_TOKEN if srv.cloud else SERVER_PAT


def api_body(srv: FakeJiraServer, **changes: Any) -> dict[str, Any]:
    """The credentials part of an API request for the server's flavor."""
    body: dict[str, Any] = (
        {"url": srv.url, "username": CLOUD_EMAIL, "token": CLOUD_API_TOKEN}
        if srv.cloud
        else {"url": srv.url, "token": SERVER_PAT}
    )
    body.update(changes)
    return body


class Wizard:
    """Drives the wizard's steps for one project with a logged-in client, keeping every page it saw."""

    def __init__(self, client: Client, project: Project) -> None:
        self.client = client
        self.project = project
        self.pages: list[str] = []

    def url(self, step: str) -> str:
        return reverse(f"tracker:jira-import-{step}", args=[self.project.shortname])

    def _keep(self, response: Any) -> Any:
        if response.get("Content-Type", "").startswith("text/html"):
            self.pages.append(response.content.decode())
        return response

    def get(self, step: str, **params: str) -> Any:
        return self._keep(self.client.get(self.url(step), params))

    def post(self, step: str, data: dict[str, str]) -> Any:
        return self._keep(self.client.post(self.url(step), data))

    def connect(self, login: dict[str, str]) -> Any:
        self.get("start")
        return self.post("start", login)

    def choose_project(self, key: str) -> Any:
        self.get("project")
        return self.post("project", {"jira_project": key})

    def start(self, issue_type: str, **names: str) -> Any:
        page = self.get("issue-type", issue_type=issue_type)
        form = page.context["form"]
        data = {
            "issue_type_id": issue_type,
            "tracker_name": form.initial["tracker_name"],
            "tracker_shortname": form.initial["tracker_shortname"],
            "tracker_color": "#1f77b4",
            **names,
        }
        return self.post("issue-type", data)


@pytest.fixture
def wizard(client_as: Callable[[User], Client], public_project: Project, alice: User) -> Wizard:
    """Alice, administrator of the public project, in the wizard."""
    return Wizard(client_as(alice), public_project)


def sessions_decoded() -> list[str]:
    """Every session's data as stored (decoded from the database rows), as text."""
    return [json.dumps(row.get_decoded()) for row in Session.objects.all()]


def wizard_state(client: Client) -> dict[str, Any]:
    return client.session.get("jira_import_wizard") or {}


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
