"""The first pass of an import: which fields the issues actually carry, before any tracker exists.

Create metadata lists the fields of the create screen only; many projects set priority, assignee,
versions and custom fields after creation, through the edit screen. So the import first reads every
issue once (``fields=*all`` less what the main pass reads anyway: no history, comments, files or
work logs) and keeps, per issue type, how many issues have a value in each field, and the edit
metadata of its first issue (``GET issue/{key}/editmeta``: the same entries as create metadata, keyed
by field id; developer.atlassian.com, "Get edit issue metadata"). The edit screen is the project's
and issue type's, the same for all its issues, so once per type is enough: asking
``expand=editmeta`` on every issue would repeat it (with every allowed value) on each. It also
gathers the sprints the sprint field names and counts the issues, for the progress bar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tracker.jira_import import sprints
from tracker.jira_import.client import JiraClient
from tracker.jira_import.discovery import JiraFieldInfo, field_info
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.fetch import search_pages

SURVEY_PAGE = 100
# What the main pass reads anyway (and the import stands for): not worth a second download.
NOT_SURVEYED = ("-comment", "-attachment", "-worklog", "-issuelinks", "-subtasks")
# Values Jira puts on every issue that say nothing: no votes, nobody watching, no progress.
COUNTERS = {"votes": "votes", "watches": "watchCount"}


@dataclass
class TypeSurvey:
    """What the issues of one issue type carry."""

    editmeta: dict[str, JiraFieldInfo] = field(default_factory=dict)
    carried: Counter[str] = field(default_factory=Counter)
    issues: int = 0
    first_key: str = ""


@dataclass
class Survey:
    types: dict[str, TypeSurvey]
    sprints: dict[str, sprints.SprintInfo]
    total: int = 0

    def of(self, issue_type_ids: Iterable[str]) -> TypeSurvey:
        """The survey of several issue types together (a mono-tracker's)."""
        merged = TypeSurvey()
        for type_id in issue_type_ids:
            part = self.types.get(type_id)
            if part is None:
                continue
            merged.editmeta.update(part.editmeta)
            merged.carried.update(part.carried)
            merged.issues += part.issues
        return merged


def has_value(field_id: str, value: Any) -> bool:
    """Whether an issue's field holds something an import could lose."""
    if value is None or value == "" or value == [] or value == {}:
        return False
    if field_id in COUNTERS and isinstance(value, dict):
        return bool(value.get(COUNTERS[field_id]))
    return not (field_id == "timetracking" and isinstance(value, dict) and not value)


def survey(
    client: JiraClient,
    where: str,
    key: str,
    *,
    sprint_fields: Callable[[str], bool],
    progress: Callable[[int], None],
) -> Survey:
    """Read every issue of ``where`` once. ``sprint_fields(id)``: whether a field is a sprint field;
    ``progress(n)`` is called after each page with the issues read so far (it may stop the run)."""
    found = Survey(types={}, sprints={})
    pages = search_pages(
        client,
        f"{where} ORDER BY created ASC, key ASC",
        fields=["*all", *NOT_SURVEYED],
        expand="",
        what=f"reading which fields the issues of {key} carry",
        page_size=SURVEY_PAGE,
    )
    for issues, _total in pages:
        for issue in issues:
            fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
            type_id = str((fields.get("issuetype") or {}).get("id", ""))
            part = found.types.setdefault(type_id, TypeSurvey())
            part.issues += 1
            part.first_key = part.first_key or str(issue.get("key") or "")
            for field_id, value in fields.items():
                if has_value(field_id, value):
                    part.carried[field_id] += 1
                    if sprint_fields(field_id):
                        for sprint in sprints.sprints_of(value):
                            known = found.sprints.setdefault(sprint.id, sprint)
                            known.merge(sprint)
        found.total += len(issues)
        progress(found.total)
    for part in found.types.values():
        if part.first_key:
            part.editmeta = edit_fields(client, part.first_key)
    return found


def edit_fields(client: JiraClient, key: str) -> dict[str, JiraFieldInfo]:
    """The fields of an issue's edit screen (an issue these credentials may not edit has none)."""
    try:
        data = client.get_json(f"issue/{key}/editmeta", what=f"reading the edit screen of {key}")
    except JiraAccessError as error:
        if error.status in (403, 404):
            return {}
        raise
    meta = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {fid: field_info(fid, entry) for fid, entry in meta.items() if isinstance(entry, dict)}
