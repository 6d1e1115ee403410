"""Driving the Jira import wizard with a logged-in test client, and reading the sessions it leaves."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tracker.models import Project


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


def sessions_decoded() -> list[str]:
    """Every session's data as stored (decoded from the database rows), as text."""
    return [json.dumps(row.get_decoded()) for row in Session.objects.all()]


def wizard_state(client: Client) -> dict[str, Any]:
    return client.session.get("jira_import_wizard") or {}
