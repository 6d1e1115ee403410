"""The "Update from Jira" part of a finished import's page: the form (the token again), the runs.

Who may update or cancel is decided in :mod:`tracker.permissions`; the work is
:mod:`tracker.jira_import.update_service`'s. The token is used for the run only and erased when it ends.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.jira_import import schedules, update_service
from tracker.jira_import.credentials import TOKEN_MAX_LENGTH, validate_header_safe
from tracker.jira_import.emails import update_counts
from tracker.models import JiraImport, JiraSyncRun, JiraSyncSchedule


class UpdateForm(forms.Form):
    token = forms.CharField(
        label="Jira token",
        max_length=TOKEN_MAX_LENGTH,
        strip=True,
        # As the wizard's: a line break in it would be refused when the run sends it, after "queued".
        validators=[validate_header_safe],
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="The API token (Cloud), personal access token or password of the import's Jira account. "
        "It is used for this update only and erased when it ends.",
    )


class SyncForm(UpdateForm):
    interval_minutes = forms.IntegerField(
        label="Every (minutes)",
        min_value=schedules.MIN_INTERVAL_MINUTES,
        max_value=schedules.MAX_INTERVAL_MINUTES,
        initial=60,
    )
    days = forms.IntegerField(label="For (days)", min_value=1, max_value=schedules.MAX_DAYS, initial=30)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token"].help_text = (
            "Kept encrypted until the sync stops (at the end of the period, when you stop it, or after "
            "three failed updates in a row), then erased."
        )


def update_context(request: HttpRequest, jira_import: JiraImport) -> dict[str, Any]:
    """What the import's page shows of its updates."""
    runs = list(JiraSyncRun.objects.filter(jira_import=jira_import).select_related("requested_by")[:5])
    active = next((run for run in runs if run.is_active), None)
    may_update = permissions.may_update_import(request.user, jira_import)
    schedule = JiraSyncSchedule.objects.filter(jira_import=jira_import).first()
    syncing = schedule is not None and schedule.active
    return {
        "schedule": schedule,
        "syncing": syncing,
        "can_stop_sync": syncing and may_update,
        "sync_form": SyncForm(prefix="sync")
        if may_update and jira_import.status == "done" and not syncing
        else None,
        "update_form": UpdateForm()
        if may_update and jira_import.status == "done" and active is None
        else None,
        "updates": [(run, update_counts(run)) for run in runs],
        "active_update": active,
        "can_cancel_update": active is not None
        and permissions.may_cancel_update(request.user, jira_import, active.requested_by_id),
    }


def _problems(form: forms.Form) -> str:
    return "; ".join(f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())


@login_required
@require_POST
def update_start(request: HttpRequest, pk: int) -> HttpResponse:
    jira_import = get_object_or_404(
        permissions.readable_imports(request.user).select_related("project"), pk=pk
    )
    if not permissions.may_update_import(request.user, jira_import):
        raise PermissionDenied("Only an administrator of the project can update an import from Jira.")
    form = UpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The update was not started. {_problems(form)}")
        return redirect("tracker:jira-import-detail", pk=jira_import.pk)
    try:
        update_service.start_update(jira_import, requested_by=request.user, token=form.cleaned_data["token"])
    except (update_service.UpdateRefused, update_service.ImportUnavailable) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The update from Jira is queued; this page shows its progress.")
    return redirect("tracker:jira-import-detail", pk=jira_import.pk)


@login_required
@require_POST
def update_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    sync_run = get_object_or_404(
        JiraSyncRun.objects.filter(jira_import__in=permissions.readable_imports(request.user)).select_related(
            "jira_import", "jira_import__project"
        ),
        pk=pk,
    )
    if sync_run.is_active:
        update_service.cancel_update(sync_run, by=request.user)  # PermissionDenied: a 403 page
        messages.info(request, "The update stops after the issues it is writing; what it brought is kept.")
    return redirect("tracker:jira-import-detail", pk=sync_run.jira_import_id)


@login_required
@require_POST
def sync_start(request: HttpRequest, pk: int) -> HttpResponse:
    jira_import = get_object_or_404(
        permissions.readable_imports(request.user).select_related("project"), pk=pk
    )
    if not permissions.may_update_import(request.user, jira_import):
        raise PermissionDenied("Only an administrator of the project can keep an import in sync with Jira.")
    form = SyncForm(request.POST, prefix="sync")
    if not form.is_valid():
        messages.error(request, f"The sync was not started. {_problems(form)}")
        return redirect("tracker:jira-import-detail", pk=jira_import.pk)
    try:
        schedule = schedules.start_schedule(
            jira_import,
            requested_by=request.user,
            token=form.cleaned_data["token"],
            interval_minutes=form.cleaned_data["interval_minutes"],
            days=form.cleaned_data["days"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"The import is synced with Jira every {schedule.interval_minutes} minutes until "
            f"{schedule.expires_at:%Y-%m-%d %H:%M} UTC; the token is kept, encrypted, until then.",
        )
    return redirect("tracker:jira-import-detail", pk=jira_import.pk)


@login_required
@require_POST
def sync_stop(request: HttpRequest, pk: int) -> HttpResponse:
    jira_import = get_object_or_404(
        permissions.readable_imports(request.user).select_related("project"), pk=pk
    )
    if not permissions.may_update_import(request.user, jira_import):
        raise PermissionDenied("Only an administrator of the project can stop the sync with Jira.")
    schedule = JiraSyncSchedule.objects.filter(jira_import=jira_import).first()
    if schedule is not None and schedules.stop_schedule(schedule):
        messages.success(request, "The sync with Jira is stopped and the token is erased.")
    return redirect("tracker:jira-import-detail", pk=jira_import.pk)
