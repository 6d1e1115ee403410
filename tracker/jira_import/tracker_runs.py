"""The pieces of an import run that the import and the update share: one tracker's run, what the
search asks of every issue, and how an issue's type and a field's metadata are read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tracker.jira_import.discovery import JiraFieldInfo
from tracker.jira_import.field_values import Binding
from tracker.jira_import.jira_fields import SEARCHED_SYSTEM_FIELDS
from tracker.jira_import.mapping import LINKS
from tracker.jira_import.replay import Replay
from tracker.models import Field, JiraImportTracker, Tracker
from tracker.services.bulk_import import ImportWriter


@dataclass
class TrackerRun:
    """One tracker of the run: its row, its fields bound to Jira's, and how its issues are written."""

    planned: JiraImportTracker
    tracker: Tracker
    bindings: list[Binding]
    replay: Replay
    writer: ImportWriter

    @property
    def links(self) -> Field | None:
        return next((b.field for b in self.bindings if b.plan.name == LINKS), None)


def search_fields(bindings: Iterable[Binding], link_fields: Iterable[str]) -> list[str]:
    """What the search asks of every issue: the mapped fields and those the engine reads anyway."""
    return sorted(
        SEARCHED_SYSTEM_FIELDS | {b.plan.jira_id for b in bindings if b.plan.jira_id} | set(link_fields)
    )


def issue_type_of(issue: dict[str, Any]) -> str:
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    return str((fields.get("issuetype") or {}).get("id", ""))


def named_field(info: JiraFieldInfo, site_fields: dict[str, JiraFieldInfo]) -> JiraFieldInfo:
    """Metadata's entry, with the site's name and schema where the metadata lacks them."""
    known = site_fields.get(info.id)
    if known is None:
        return info
    return JiraFieldInfo(
        info.id,
        info.name if info.name and info.name != info.id else known.name,
        info.schema or known.schema,
        info.required,
        info.allowed_values,
    )
