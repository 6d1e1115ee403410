"""The pages of one Jira import: its report, the progress poller's status, and cancel.

Who may read an import, cancel it and see the people's email addresses is decided in
:mod:`tracker.permissions`; cancelling goes through :func:`tracker.jira_import.services.cancel_import`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.jira_import import services
from tracker.models import JiraImport
from tracker.web.jira_update_pages import update_context


def _import_or_404(request: HttpRequest, pk: int) -> JiraImport:
    return get_object_or_404(
        permissions.readable_imports(request.user).select_related("project", "requested_by", "tracker"),
        pk=pk,
    )


def status_payload(jira_import: JiraImport) -> dict[str, Any]:
    """What the progress poller reads."""
    return {
        "id": jira_import.pk,
        "status": jira_import.status,
        "status_label": jira_import.get_status_display(),
        "active": jira_import.is_active,
        "cancel_requested": jira_import.cancel_requested,
        "progress_done": jira_import.progress_done,
        "progress_total": jira_import.progress_total,
        "tracker_url": (
            reverse("tracker:tracker-detail", args=[jira_import.tracker_id])
            if jira_import.status == JiraImport.Status.DONE and jira_import.tracker_id
            else None
        ),
    }


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    jira_import = _import_or_404(request, pk)
    report = dict(jira_import.user_report or {})
    counts = jira_import.counts or {}
    return render(
        request,
        "tracker/jira/import_detail.html",
        {
            "import": jira_import,
            "project": jira_import.project,
            "can_cancel": jira_import.is_active and permissions.may_cancel_import(request.user, jira_import),
            "show_emails": permissions.may_see_import_emails(request.user, jira_import),
            "counts": [
                (label, counts.get(key, 0))
                for key, label in (
                    ("issues", "Issues"),
                    ("changesets", "Changesets"),
                    ("comments", "Comments"),
                    ("attachments", "Attachments"),
                    ("links", "Links"),
                    ("sprints", "Sprints"),
                    ("time_entries", "Time entries"),
                )
            ],
            "trackers": list(jira_import.planned_trackers.all()),
            "matched": report.get("matched") or [],
            "email_hidden": report.get("email_hidden") or [],
            "no_account": report.get("no_account") or [],
            "status_url": reverse("tracker:jira-import-status", args=[jira_import.pk]),
            **update_context(request, jira_import),
        },
    )


@login_required
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """The import's status and progress as JSON, for the page's poller."""
    jira_import = get_object_or_404(permissions.readable_imports(request.user), pk=pk)
    return JsonResponse(status_payload(jira_import))


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    jira_import = _import_or_404(request, pk)
    if not jira_import.is_active:
        messages.info(request, f"This import has already ended ({jira_import.get_status_display().lower()}).")
        return redirect("tracker:jira-import-detail", pk=jira_import.pk)
    if not permissions.may_cancel_import(request.user, jira_import):
        raise PermissionDenied(
            "Only the requester or an administrator of the project can cancel this import."
        )
    services.cancel_import(jira_import, by=request.user)
    if jira_import.status == JiraImport.Status.CANCELLED:
        messages.success(request, "The import is cancelled.")
    elif jira_import.is_active:
        messages.info(request, "The import stops after the issues it is writing; what it wrote is removed.")
    else:
        messages.info(request, f"The import had just ended ({jira_import.get_status_display().lower()}).")
    return redirect("tracker:jira-import-detail", pk=jira_import.pk)
