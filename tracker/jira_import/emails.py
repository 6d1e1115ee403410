"""The email the requester gets when an import or an update ends: done, failed, or cancelled by the
system check.

Rendered from ``templates/emails/jira_import_<outcome>.txt`` and ``.html`` (``jira_update_<outcome>``
for an update). It names the Jira server, project and issue type and the tracker, never the credentials.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from tracker.models import JiraImport, JiraSyncRun, JiraSyncSchedule

logger = logging.getLogger("tracker.jira_import")

SUBJECTS = {
    JiraImport.Status.DONE: "Jira import done: {key} ({issue_type}) is now the tracker {tracker}",
    JiraImport.Status.FAILED: "Jira import failed: {key} ({issue_type}) into {tracker}",
    JiraImport.Status.CANCELLED: "Jira import cancelled: {key} ({issue_type}) into {tracker}",
}


def context(jira_import: JiraImport) -> dict[str, Any]:
    counts = jira_import.counts or {}
    report = jira_import.user_report or {}
    project_url = reverse("tracker:project-detail", args=[jira_import.project.shortname])
    tracker_url = (
        f"{settings.SITE_URL}{reverse('tracker:tracker-detail', args=[jira_import.tracker_id])}"
        if jira_import.tracker_id
        else ""
    )
    return {
        "import": jira_import,
        "project": jira_import.project,
        "project_url": f"{settings.SITE_URL}{project_url}",
        "tracker_url": tracker_url,
        # Every tracker the import made (a whole project: one per issue type, and the sprints').
        "trackers": [
            (
                t.name,
                t.shortname,
                f"{settings.SITE_URL}{reverse('tracker:tracker-detail', args=[t.tracker_id])}",
            )
            for t in jira_import.planned_trackers.exclude(tracker=None)
        ],
        "counts": [
            ("Issues", counts.get("issues", 0)),
            ("Changesets", counts.get("changesets", 0)),
            ("Comments", counts.get("comments", 0)),
            ("Attachments", counts.get("attachments", 0)),
            ("Links", counts.get("links", 0)),
            ("Sprints", counts.get("sprints", 0)),
            ("Time entries", counts.get("time_entries", 0)),
        ],
        "skipped": jira_import.skipped or [],
        "matched": report.get("matched", []),
        "email_hidden": report.get("email_hidden", []),
        "no_account": report.get("no_account", []),
    }


def send_outcome(jira_import: JiraImport) -> bool:
    """Email the requester about the import's end; False when there is nobody to tell or sending failed."""
    requester = jira_import.requested_by
    if requester is None or not requester.email or jira_import.status not in SUBJECTS:
        return False
    name = f"emails/jira_import_{jira_import.status}"
    data = context(jira_import)
    several = len(jira_import.issue_types or []) > 1
    subject = SUBJECTS[jira_import.status].format(
        key=jira_import.jira_project_key,
        issue_type=(
            f"{len(jira_import.issue_types)} issue types"
            if several
            else jira_import.issue_type_name or jira_import.issue_type_id
        ),
        tracker=", ".join(name for name, _, _ in data["trackers"])
        if several and data["trackers"]
        else (jira_import.tracker_name),
    )
    error = _send(name, data, " ".join(subject.split()), requester, jira_import)
    if error is not None:  # an import's outcome stands even when the mail server is down
        logger.error(
            "Jira import %s: the %s email could not be sent: %s", jira_import.pk, jira_import.status, error
        )
    return error is None


UPDATE_SUBJECTS = {
    JiraSyncRun.Status.DONE: "Update from Jira done: {key} (import #{pk})",
    JiraSyncRun.Status.FAILED: "Update from Jira failed: {key} (import #{pk})",
    # Only the system check's cancelling is told: whoever cancelled a run knows.
    JiraSyncRun.Status.CANCELLED: "Update from Jira cancelled: {key} (import #{pk})",
}
UPDATE_COUNTS = (
    ("New issues", "new_issues"),
    ("Updated issues", "updated_issues"),
    ("New changesets", "new_changesets"),
    ("Conflicts", "conflicts"),
)


def update_counts(sync_run: JiraSyncRun) -> list[tuple[str, int]]:
    counts = sync_run.counts or {}
    return [(label, counts.get(key, 0)) for label, key in UPDATE_COUNTS]


def send_update_outcome(sync_run: JiraSyncRun) -> bool:
    """Email the requester of an update (or of the import, for a scheduled one) about its end."""
    jira_import = sync_run.jira_import
    requester = sync_run.requested_by or jira_import.requested_by
    if requester is None or not requester.email or sync_run.status not in UPDATE_SUBJECTS:
        return False
    name = f"emails/jira_update_{sync_run.status}"
    data = {
        "run": sync_run,
        "import": jira_import,
        "requester": requester,
        "counts": update_counts(sync_run),
        "conflicts": sync_run.conflicts or [],
        "missing": sync_run.missing or [],
        "report_url": f"{settings.SITE_URL}{reverse('tracker:jira-import-detail', args=[jira_import.pk])}",
    }
    subject = UPDATE_SUBJECTS[sync_run.status].format(key=jira_import.jira_project_key, pk=jira_import.pk)
    error = _send(name, data, subject, requester, jira_import)
    if error is not None:  # the run's outcome stands even when the mail server is down
        logger.error(
            "Update %s from Jira: the %s email could not be sent: %s", sync_run.pk, sync_run.status, error
        )
    return error is None


def send_sync_stopped(schedule: JiraSyncSchedule) -> bool:
    """Tell the requester that the scheduled sync stopped by itself (failures), and why."""
    jira_import = schedule.jira_import
    requester = schedule.requested_by or jira_import.requested_by
    if requester is None or not requester.email:
        return False
    data = {
        "schedule": schedule,
        "import": jira_import,
        "requester": requester,
        "report_url": f"{settings.SITE_URL}{reverse('tracker:jira-import-detail', args=[jira_import.pk])}",
    }
    message = EmailMultiAlternatives(
        subject=f"Sync with Jira stopped: {jira_import.jira_project_key} (import #{jira_import.pk})",
        body=render_to_string("emails/jira_sync_stopped.txt", data),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[requester.email],
        headers={"Auto-Submitted": "auto-generated", "X-Tuleap-Project": jira_import.project.shortname},
    )
    try:
        message.send()
    except Exception as error:
        logger.error("Jira import %s: the sync-stopped email could not be sent: %s", jira_import.pk, error)
        return False
    return True


def _send(
    name: str, data: dict[str, Any], subject: str, requester: Any, jira_import: JiraImport
) -> Exception | None:
    """Send the ``name`` email (its text and HTML templates) to the requester; the error when sending
    failed (the caller logs it: a run's outcome never depends on the mail server)."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{name}.txt", data),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[requester.email],
        headers={"Auto-Submitted": "auto-generated", "X-Tuleap-Project": jira_import.project.shortname},
    )
    message.attach_alternative(render_to_string(f"{name}.html", data), "text/html")
    try:
        message.send()
    except Exception as error:
        return error
    return None
