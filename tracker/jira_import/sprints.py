"""Jira Software's sprints: the sprint field's values, and the project's boards' sprints (agile API).

The sprint field (``com.pyxis.greenhopper.jira:gh-sprint``) holds a list of sprints. Cloud, and
recent Data Center versions, give objects (``id``, ``name``, ``state``, ``boardId``, ``goal``,
``startDate``, ``endDate``, ``completeDate``); Server gives their ``toString()``, as in
``com.atlassian.greenhopper.service.sprint.Sprint@77c1[id=266,rapidViewId=174,state=CLOSED,
name=GSC Sprint 26,startDate=2018-03-06T09:10:57.810-08:00,...,goal=<null>]`` (goals may hold
commas, hence the parse on known keys). Sprints without issues come only from the agile API
(``/rest/agile/1.0/board?projectKeyOrId=`` then ``/rest/agile/1.0/board/{id}/sprint``, both paged
with ``startAt``/``isLast``; developer.atlassian.com, "Get all boards", "Get all sprints"); a kanban
board answers 400 to the latter (it has no sprints) and sites without Jira Software answer 404.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape, linebreaks

from tracker.jira_import.client import JiraClient
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.fetch import parse_timestamp
from tracker.models import Field
from tracker.plain_numbers import plain_number
from tracker.services.bulk_import import ImportedArtifact, ImportedChangeset

MAX_BOARDS = 50
MAX_PAGES = 100
SERVER_KEYS = ("id", "rapidViewId", "state", "name", "startDate", "endDate", "completeDate", "activatedDate")
SERVER_KEYS += ("sequence", "goal", "autoStartStop", "synced", "incompleteIssuesDestinationId")
_SERVER_FORM = re.compile(r"^[\w.$]+@[0-9a-f]+\[(.*)\]$", re.DOTALL)
_SERVER_PART = re.compile(r"(?:^|,)(" + "|".join(SERVER_KEYS) + r")=")


@dataclass
class SprintInfo:
    id: str
    name: str
    state: str = ""  # future, active, closed
    start: str | None = None  # ISO 8601 UTC
    end: str | None = None
    complete: str | None = None
    goal: str = ""
    board: str = ""

    @property
    def source_id(self) -> str:
        """The sprint artifact's ``jira_issue_id``: unique in the Sprints tracker."""
        return f"sprint-{self.id}"

    def merge(self, other: SprintInfo) -> None:
        """Complete what one source said with what the other says (the agile API is the fuller)."""
        for name in ("name", "state", "start", "end", "complete", "goal", "board"):
            if not getattr(self, name) and getattr(other, name):
                setattr(self, name, getattr(other, name))


def _iso(value: Any) -> str | None:
    moment = parse_timestamp(value) if isinstance(value, str) and value not in ("", "<null>") else None
    return moment.isoformat() if moment else None


def parse_sprint(value: Any) -> SprintInfo | None:
    """A value of the sprint field, in either form; None when it is neither."""
    if isinstance(value, dict):
        if value.get("id") is None or not value.get("name"):
            return None
        return SprintInfo(
            id=str(value["id"])[:20],
            name=" ".join(str(value["name"]).split())[:255],
            state=str(value.get("state") or "").lower()[:20],
            start=_iso(value.get("startDate")),
            end=_iso(value.get("endDate")),
            complete=_iso(value.get("completeDate")),
            goal=str(value.get("goal") or "")[:10_000],
            board=str(value.get("boardId") or value.get("originBoardId") or ""),
        )
    if isinstance(value, str):
        match = _SERVER_FORM.match(value.strip())
        if match is None:
            return None
        body = match.group(1)
        marks = list(_SERVER_PART.finditer(body))
        parts: dict[str, str] = {}
        for n, mark in enumerate(marks):
            end = marks[n + 1].start() if n + 1 < len(marks) else len(body)
            parts[mark.group(1)] = body[mark.end() : end]
        if not parts.get("id") or not parts.get("name"):
            return None

        def text(key: str) -> str:
            raw = parts.get(key, "")
            return "" if raw == "<null>" else raw

        return SprintInfo(
            id=text("id")[:20],
            name=" ".join(text("name").split())[:255],
            state=text("state").lower()[:20],
            start=_iso(text("startDate")),
            end=_iso(text("endDate")),
            complete=_iso(text("completeDate")),
            goal=text("goal")[:10_000],
            board=text("rapidViewId"),
        )
    return None


def sprints_of(value: Any) -> list[SprintInfo]:
    """Every sprint a sprint field's value names (a list, or one value)."""
    items = value if isinstance(value, list) else [value] if value else []
    found = [parse_sprint(item) for item in items]
    return [sprint for sprint in found if sprint is not None]


def _paged(client: JiraClient, path: str, params: dict[str, Any], what: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = 0
    for _ in range(MAX_PAGES):
        page = client.get_url_json(
            f"{client.base_url}/rest/agile/1.0/{path}",
            {**params, "startAt": start, "maxResults": 50},
            what=what,
        )
        values = page.get("values") if isinstance(page, dict) else None
        if not isinstance(values, list):
            break
        found += [v for v in values if isinstance(v, dict)]
        start += len(values)
        if not values or page.get("isLast", True):
            break
    return found


def board_sprints(client: JiraClient, key: str) -> tuple[list[SprintInfo], str]:
    """The sprints of the project's boards, and "" or why the agile API could not be used."""
    try:
        boards = _paged(client, "board", {"projectKeyOrId": key}, f"listing the boards of {key}")
    except JiraAccessError as error:
        if error.status in (401, 403, 404):
            return [], (
                f"Jira's agile API (boards and sprints) answered {error.status}: the sprints no issue "
                "names were not imported; those the issues name were."
            )
        raise
    sprints: list[SprintInfo] = []
    for board in boards[:MAX_BOARDS]:
        if str(board.get("type", "scrum")) != "scrum":
            continue  # kanban boards have no sprints
        try:
            values = _paged(client, f"board/{board.get('id')}/sprint", {}, "listing the sprints of a board")
        except JiraAccessError as error:
            if error.status in (400, 403, 404):
                continue
            raise
        for value in values:
            sprint = parse_sprint(value)
            if sprint is not None:
                sprint.board = sprint.board or str(board.get("id", ""))
                sprints.append(sprint)
    return sprints, ""


def planned_sprints(
    sprints: Iterable[SprintInfo],
    fields: dict[str, Field],
    already: set[str],
    *,
    author_id: int,
    default_when: dt.datetime,
) -> list[ImportedArtifact]:
    """The Sprints tracker's new artifacts: the sprints not imported yet, oldest first, each one
    creation changeset by the importer (``fields`` by name, those of ``mapping.SPRINT_FIELDS``)."""
    planned = []
    for sprint in sorted(sprints, key=lambda s: (s.start or "9999", plain_number(s.id) or 0)):
        if sprint.source_id in already:
            continue
        when = (parse_timestamp(sprint.start) if sprint.start else None) or default_when
        values = {
            fields["title"]: sprint.name,
            fields["state"]: sprint.state or None,
            fields["start_date"]: sprint.start,
            fields["end_date"]: sprint.end,
            fields["complete_date"]: sprint.complete,
            fields["goal"]: str(linebreaks(escape(sprint.goal))) if sprint.goal.strip() else None,
            fields["jira_sprint_id"]: sprint.id,
            fields["board"]: sprint.board or None,
        }
        values = {f: v for f, v in values.items() if v is not None}
        creation = ImportedChangeset(when, author_id, values=values, is_creation=True)
        planned.append(ImportedArtifact(sprint.source_id, sprint.name, [creation]))
    return planned
