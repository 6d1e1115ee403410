"""Check 5: Jira imports, and updates from Jira, pending or running for longer than JIRA_IMPORT_MAX_DURATION.

Such a run's worker is presumed stuck or gone: the check cancels it (an import's partial tracker is
removed; what an update's pages wrote stays) and its requester is emailed, by the Jira import's own
services, and it reports them as warnings, one for the imports, one for the updates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from tracker.jira_import.services import cancel_stale_imports
from tracker.jira_import.update_service import cancel_stale_updates
from tracker.models import JiraImport, JiraSyncRun
from tracker.system_check.base import FIRST_IDS, CheckContext, Finding, Level, humanize_duration

NAME = "jira_imports"


def run(context: CheckContext) -> list[Finding]:
    max_duration = timedelta(seconds=settings.JIRA_IMPORT_MAX_DURATION)
    findings = []
    cancelled = cancel_stale_imports(max_duration)
    if cancelled:
        findings.append(stale_imports_finding(cancelled, context, max_duration))
    cancelled_updates = cancel_stale_updates(max_duration)
    if cancelled_updates:
        findings.append(stale_updates_finding(cancelled_updates, context, max_duration))
    return findings


def stale_imports_finding(
    cancelled: list[JiraImport], context: CheckContext, max_duration: timedelta
) -> Finding:
    described = [
        f"#{item.pk} ({item.jira_project_key} into {item.project.shortname}/{item.tracker_shortname}), "
        f"requested {humanize_duration(context.now - item.created_at)} ago"
        for item in cancelled[:FIRST_IDS]
    ]
    return _stale_finding("Jira imports", "import_ids", cancelled, described, max_duration)


def stale_updates_finding(
    cancelled: list[JiraSyncRun], context: CheckContext, max_duration: timedelta
) -> Finding:
    described = [
        f"#{item.pk} (import #{item.jira_import_id}, {item.jira_import.jira_project_key} into "
        f"{item.jira_import.project.shortname}{', scheduled' if item.scheduled else ''}), "
        f"requested {humanize_duration(context.now - item.created_at)} ago"
        for item in cancelled[:FIRST_IDS]
    ]
    return _stale_finding("updates from Jira", "update_ids", cancelled, described, max_duration)


def _stale_finding(
    what: str, ids_key: str, cancelled: list[Any], described: list[str], max_duration: timedelta
) -> Finding:
    """The warning about cancelled runs of either kind: the first FIRST_IDS of them described."""
    more = f" and {len(cancelled) - FIRST_IDS} more" if len(cancelled) > FIRST_IDS else ""
    return Finding(
        NAME,
        Level.WARNING,
        f"{len(cancelled)} {what} were pending or running for more than "
        f"{humanize_duration(max_duration)} (JIRA_IMPORT_MAX_DURATION) and have been cancelled, their "
        f"requesters emailed: {'; '.join(described)}{more}. Look at the jira_import workers and their log "
        f"file ({settings.WORKER_LOG}).",
        {"count": len(cancelled), ids_key: [item.pk for item in cancelled[:FIRST_IDS]]},
    )
