"""Check 5: Jira imports pending or running for longer than JIRA_IMPORT_MAX_DURATION.

Such an import's worker is presumed stuck or gone: the check cancels it (its partial tracker is
removed and its requester emailed, by the Jira import's own service) and reports it as a warning.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from tracker.jira_import.services import cancel_stale_imports
from tracker.models import JiraImport
from tracker.system_check.base import FIRST_IDS, CheckContext, Finding, Level, humanize_duration

NAME = "jira_imports"


def run(context: CheckContext) -> list[Finding]:
    max_duration = timedelta(seconds=settings.JIRA_IMPORT_MAX_DURATION)
    cancelled = cancel_stale_imports(max_duration)
    if not cancelled:
        return []
    return [stale_imports_finding(cancelled, context, max_duration)]


def stale_imports_finding(
    cancelled: list[JiraImport], context: CheckContext, max_duration: timedelta
) -> Finding:
    described = "; ".join(
        f"#{item.pk} ({item.jira_project_key} into {item.project.shortname}/{item.tracker_shortname}), "
        f"requested {humanize_duration(context.now - item.created_at)} ago"
        for item in cancelled[:FIRST_IDS]
    )
    more = f" and {len(cancelled) - FIRST_IDS} more" if len(cancelled) > FIRST_IDS else ""
    return Finding(
        NAME,
        Level.WARNING,
        f"{len(cancelled)} Jira imports were pending or running for more than "
        f"{humanize_duration(max_duration)} (JIRA_IMPORT_MAX_DURATION) and have been cancelled, their "
        f"requesters emailed: {described}{more}. Look at the jira_import workers and their log file "
        f"({settings.WORKER_LOG}).",
        {"count": len(cancelled), "import_ids": [item.pk for item in cancelled[:FIRST_IDS]]},
    )
